package scripts

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// The toolkit's commands the scripts call.
var tools = []string{"assemble-image", "closure-popularity", "fake-nss", "merge-images", "path-to-layer", "tarsum"}

// fault is a step made to fail: the command name, run from
// DOCKERTOOLS_BIN (a toolkit command) or from PATH (nix, skopeo, ...),
// and when it fails: a shell condition on its arguments ("$*"), or
// always. A failing command first writes a line to stdout, as a command
// that dies half-way does, then its message to stderr.
type fault struct {
	name    string
	when    string // shell condition; "" is always
	missing bool   // the command is not there at all
	silent  bool   // it fails without writing to stdout first
}

// fakeBin makes a DOCKERTOOLS_BIN directory and a PATH directory where
// every toolkit command runs the real one, except the faulty one.
func fakeBin(t *testing.T, f fault) (binEnv, pathDir string) {
	t.Helper()
	dir := t.TempDir()
	bin, path := filepath.Join(dir, "bin"), filepath.Join(dir, "path")
	must(t, os.Mkdir(bin, 0o755))
	must(t, os.Mkdir(path, 0o755))
	write := func(dir, name, body string) {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755))
	}
	// assemble-image's stdout is the script's (the archive with -o -):
	// the others' must not reach it.
	half := "echo /nix/store/00000000000000000000000000000000-half-written; "
	if f.name == "assemble-image" || f.silent {
		half = ""
	}
	fail := fmt.Sprintf("%secho '%s: injected failure' >&2; exit 3\n", half, f.name)
	when := f.when
	if when == "" {
		when = "true"
	}
	isTool := false
	for _, name := range tools {
		real := filepath.Join(binDir, name)
		switch {
		case name == f.name && f.missing:
			isTool = true
		case name == f.name:
			isTool = true
			write(bin, name, "if "+when+"; then "+fail+"fi\nexec "+real+` "$@"`+"\n")
		default:
			write(bin, name, "exec "+real+` "$@"`+"\n")
		}
	}
	if !isTool && !f.missing {
		// Otherwise the real command, if there is one.
		rest := "echo 'fake " + f.name + ": not expected to be called with' \"$*\" >&2; exit 4\n"
		if real, err := exec.LookPath(f.name); err == nil {
			rest = "exec " + real + ` "$@"` + "\n"
		}
		write(path, f.name, "if "+when+"; then "+fail+"fi\n"+rest)
	}
	return bin, path
}

// failure is a script run with one step failing.
type failure struct {
	name   string
	script string
	args   func(fx fixture) []string
	fault  fault
	want   string // in stderr
}

// fixture is what the failure cases build on.
type fixture struct {
	graph, base, gzipped, config, out string
}

// TestFailingStepFailsTheScript makes each step of each script fail in
// turn (a toolkit command, nix, skopeo, --extra-commands, a missing
// command): the script must exit non-zero with the step's message, write
// nothing on stdout, leave no output file and leave nothing in TMPDIR.
func TestFailingStepFailsTheScript(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	dir := t.TempDir()
	f := fixture{graph: filepath.Join(fx.Dir, "graph.json"), config: filepath.Join(dir, "config.json")}
	must(t, os.WriteFile(f.config, []byte(`{"Cmd": ["`+testutil.App+`/bin/app"]}`), 0o644))
	f.base = filepath.Join(dir, "base.tar")
	build(t, "build-layered-image", "-q", "--name", "dt-i-scripts/base:1", "--graph", f.graph, "-o", f.base, testutil.Single)
	f.gzipped = filepath.Join(dir, "base.tar.gz")
	build(t, "build-layered-image", "-q", "--name", "dt-i-scripts/base:1", "--graph", f.graph, "--compress", "gzip", "-o", f.gzipped, testutil.Single)

	layered := func(extra ...string) func(fixture) []string {
		return func(f fixture) []string {
			return append(append([]string{"--name", "dt-i-scripts/fail:1", "--graph", f.graph, "--config", f.config}, extra...),
				"-o", f.out, testutil.App)
		}
	}
	single := layered
	noGraph := func(f fixture) []string { return []string{"--name", "dt-i-scripts/fail:1", "-o", f.out, testutil.App} }
	const storeLayer = `case " $* " in *" --root "*) false ;; *) true ;; esac`
	const customLayer = `case " $* " in *" --sort=name "*) true ;; *) false ;; esac`
	cases := []failure{
		{"closure-popularity", "build-layered-image", layered(), fault{name: "closure-popularity"}, "closure-popularity: injected failure"},
		{"closure-popularity, no output", "build-layered-image", layered(), fault{name: "closure-popularity", silent: true}, "closure-popularity: injected failure"},
		{"store layer", "build-layered-image", layered(), fault{name: "path-to-layer", when: storeLayer}, "path-to-layer: injected failure"},
		{"customisation layer", "build-layered-image", layered("--tmp"), fault{name: "tar", when: customLayer}, "tar: injected failure"},
		{"no GNU tar", "build-layered-image", layered(), fault{name: "tar", when: `case " $* " in *" --version "*) true ;; *) false ;; esac`},
			"tar is not GNU tar"},
		{"fake-nss", "build-layered-image", layered("--fake-nss"), fault{name: "fake-nss"}, "fake-nss: injected failure"},
		{"fake-nss missing", "build-layered-image", layered("--fake-nss"), fault{name: "fake-nss", missing: true}, "fake-nss not found"},
		{"base image", "build-layered-image", func(f fixture) []string { return layered("--from-image", f.base)(f) },
			fault{name: "merge-images"}, "merge-images: injected failure"},
		{"assemble-image", "build-layered-image", layered(), fault{name: "assemble-image"}, "assemble-image: injected failure"},
		{"assemble-image missing", "build-layered-image", layered(), fault{name: "assemble-image", missing: true}, "assemble-image not found"},
		{"nix", "build-layered-image", noGraph, fault{name: "nix"}, "nix: injected failure"},
		{"extra commands", "build-layered-image", layered("--extra-commands", "echo half; exit 3"), fault{name: "none"}, "--extra-commands failed"},

		{"closure-popularity", "build-image", single(), fault{name: "closure-popularity"}, "closure-popularity: injected failure"},
		{"closure-popularity, no output", "build-image", single(), fault{name: "closure-popularity", silent: true}, "closure-popularity: injected failure"},
		{"base image", "build-image", func(f fixture) []string { return single("--from-image", f.base)(f) },
			fault{name: "merge-images"}, "merge-images: injected failure"},
		{"path-to-layer", "build-image", single(), fault{name: "path-to-layer"}, "path-to-layer: injected failure"},
		{"fake-nss", "build-image", single("--fake-nss"), fault{name: "fake-nss"}, "fake-nss: injected failure"},
		{"assemble-image", "build-image", single(), fault{name: "assemble-image"}, "assemble-image: injected failure"},
		{"closure-popularity missing", "build-image", single(), fault{name: "closure-popularity", missing: true}, "closure-popularity not found"},
		{"nix", "build-image", noGraph, fault{name: "nix"}, "nix: injected failure"},
		{"extra commands", "build-image", single("--extra-commands", "exit 3"), fault{name: "none"}, "--extra-commands failed"},

		{"merge-images", "push-image", func(f fixture) []string { return []string{f.gzipped, "127.0.0.1:1/dt-i-scripts/fail:1"} },
			fault{name: "merge-images"}, "merge-images: injected failure"},
		{"skopeo", "push-image", func(f fixture) []string { return []string{f.base, "127.0.0.1:1/dt-i-scripts/fail:1"} },
			fault{name: "skopeo"}, "skopeo: injected failure"},
		{"skopeo", "pull-image", func(f fixture) []string {
			return []string{"--image", "127.0.0.1:1/dt-i-scripts/fail", "--digest", "sha256:" + strings.Repeat("0", 64), "-o", f.out}
		}, fault{name: "skopeo"}, "skopeo: injected failure"},

		// scripts/example builds the example program from the repository.
		{"assemble-image", "example", func(f fixture) []string { return []string{f.out} },
			fault{name: "assemble-image"}, "assemble-image: injected failure"},
	}
	for _, c := range cases {
		t.Run(c.script+"/"+c.name, func(t *testing.T) {
			scripts := scriptsCopy(t)
			if c.script == "example" {
				testutil.Need(t, "go")
				scripts = filepath.Join(testutil.RepoRoot(), "scripts")
			}
			bin, path := fakeBin(t, c.fault)
			work := t.TempDir()
			f := f
			f.out = filepath.Join(work, "out.tar")
			tmp := t.TempDir()
			r := runScript(t, work, []string{"DOCKERTOOLS_BIN=" + bin, "PATH=" + path + ":" + os.Getenv("PATH"), "TMPDIR=" + tmp},
				filepath.Join(scripts, c.script), c.args(f)...)
			if r.code == 0 {
				t.Errorf("exit 0, want a failure\nstderr:\n%s", r.stderr)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if _, err := os.Lstat(f.out); err == nil {
				t.Errorf("the output file %s was written", f.out)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}
