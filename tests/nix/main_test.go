// Package nix tests the Nix functions of nix/ end to end on this machine's
// Nix (no nixpkgs: import nix/ { toolkit = ...; }, the binaries built with
// CGO_ENABLED=0) and Docker engine: images of a real closure built with
// nix-build through each function, loaded and run; the stream's bytes
// against assemble-image's; what a change rebuilds; what a garbage
// collection leaves. The nixpkgs route, the overlay and the flake are
// tested against a stand-in with nixpkgs' attribute shapes
// (testdata/standin): nothing here is checked against nixpkgs itself.
package nix

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// env is what the tests share: the toolkit for Nix, the example program,
// the repository.
type env struct {
	repo    string
	toolkit string // holds bin/, the static binaries
	hello   string // the static example program
	dir     string // the test's own directory
}

var (
	setupOnce sync.Once
	shared    env
	setupErr  error
	// salt makes the store paths of testdata/closure.nix new in each run.
	salt = fmt.Sprintf("run-%d", time.Now().UnixNano())
)

// TestMain removes what setup built once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	if shared.toolkit != "" {
		os.RemoveAll(filepath.Dir(shared.toolkit))
	}
	os.Exit(code)
}

func setup(t *testing.T) env {
	t.Helper()
	testutil.NeedRoot(t)
	testutil.Need(t, "nix-build", "nix-instantiate", "nix-store", "nix")
	setupOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dockertools-nix-")
		if err != nil {
			setupErr = err
			return
		}
		root := testutil.RepoRoot()
		for _, b := range []struct{ out, pkg string }{
			{filepath.Join(dir, "toolkit", "bin") + "/", "./cmd/..."},
			{filepath.Join(dir, "hello"), "./examples/hello"},
		} {
			cmd := exec.Command("go", "build", "-trimpath", "-o", b.out, b.pkg)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				setupErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
		shared = env{repo: root, toolkit: filepath.Join(dir, "toolkit"), hello: filepath.Join(dir, "hello")}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	e := shared
	e.dir = t.TempDir()
	return e
}

// header binds, for a test's expression: dt (nix/ over the toolkit), app
// (examples/hello: the program, referencing its data path), t (the
// closure of testdata/closure.nix, new in each run) and repo.
const header = `{ toolkit, hello, repo, salt, extra ? "one" }:
let
  dt = import (repo + "/nix") { inherit toolkit; };
  app = import (repo + "/examples/hello/default.nix") { inherit hello; };
  t = import (repo + "/tests/nix/testdata/closure.nix") { inherit hello salt extra; };
in
`

// expr writes a Nix file of header followed by body and returns its path.
func (e env) expr(t *testing.T, body string) string {
	t.Helper()
	f, err := os.CreateTemp(e.dir, "expr-*.nix")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(header + body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return f.Name()
}

// args are the arguments every expression takes.
func (e env) args(extra ...string) []string {
	return append([]string{"--arg", "toolkit", e.toolkit, "--arg", "hello", e.hello,
		"--arg", "repo", e.repo, "--argstr", "salt", salt}, extra...)
}

// nix runs a Nix command with testutil.NixOptions and returns stdout and
// stderr; ok says whether it succeeded.
func nix(t *testing.T, name string, args ...string) (stdout, stderr string, ok bool) {
	t.Helper()
	cmd := exec.Command(name, append(append([]string{}, testutil.NixOptions...), args...)...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	err := cmd.Run()
	if err != nil {
		if _, isExit := err.(*exec.ExitError); !isExit {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return o.String(), withoutWarnings(s.String()), err == nil
}

// withoutWarnings drops the warning Debian's nix prints for its missing
// nixbld group.
func withoutWarnings(s string) string {
	var keep []string
	for _, l := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(l, "warning: the group 'nixbld'") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// build runs nix-build on file for attr (a result link in the test's
// directory keeps the output alive while the test runs) and returns the
// output path and nix-build's stderr (its "building" lines included).
func (e env) build(t *testing.T, file, attr string, extra ...string) (string, string) {
	t.Helper()
	link := filepath.Join(e.dir, "result-"+strings.NewReplacer(".", "-", "/", "-").Replace(attr))
	out, stderr, ok := nix(t, "nix-build", append(e.args(extra...), file, "-A", attr, "-o", link)...)
	if !ok {
		t.Fatalf("nix-build -A %s failed:\n%s", attr, stderr)
	}
	return strings.TrimSpace(out), stderr
}

// buildFails runs nix-build, which must fail, and returns its stderr.
func (e env) buildFails(t *testing.T, file, attr string, extra ...string) string {
	t.Helper()
	_, stderr, ok := nix(t, "nix-build", append(e.args(extra...), file, "-A", attr, "--no-out-link", "--keep-going")...)
	if ok {
		t.Fatalf("nix-build -A %s succeeded, want a failure", attr)
	}
	return stderr
}

// eval evaluates attr of file (import from derivation allowed) as JSON
// into v.
func (e env) eval(t *testing.T, file, attr string, v any) {
	t.Helper()
	out, stderr, ok := nix(t, "nix-instantiate", append(e.args(), "--read-write-mode", "--eval", "--strict", "--json", file, "-A", attr)...)
	if !ok {
		t.Fatalf("nix-instantiate --eval -A %s failed:\n%s", attr, stderr)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("nix-instantiate --eval -A %s printed %q: %v", attr, out, err)
	}
}

// built lists the derivations nix-build's stderr says it built, by name
// (hash and .drv dropped), sorted.
func built(stderr string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`building '/nix/store/[0-9a-z]{32}-([^']+)\.drv'`).FindAllStringSubmatch(stderr, -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	return names
}

// stream runs a stream script (with args) and returns its stdout.
func stream(t *testing.T, script string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(script, args...)
	var o, s bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &s
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, s.String())
	}
	return o.Bytes()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// docker is a Docker engine for the tests that load images: load reads an
// archive (file or bytes) and removes the named images when the test ends.
type docker struct{ cli string }

func needDocker(t *testing.T) docker { return docker{testutil.Docker(t)} }

func (d docker) load(t *testing.T, archive []byte, refs ...string) string {
	t.Helper()
	cmd := exec.Command(d.cli, "load")
	cmd.Stdin = bytes.NewReader(archive)
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() {
		for _, r := range refs {
			exec.Command(d.cli, "rmi", "-f", r).Run()
		}
	})
	if err != nil {
		t.Fatalf("docker load: %v\n%s", err, out)
	}
	return string(out)
}

func (d docker) loadFile(t *testing.T, archive string, refs ...string) string {
	t.Helper()
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(archive, ".zst") {
		// Docker engines before 23 read no zstd.
		cmd := exec.Command("zstd", "-dc")
		cmd.Stdin = bytes.NewReader(b)
		if b, err = cmd.Output(); err != nil {
			t.Fatalf("zstd -dc %s: %v", archive, err)
		}
	}
	return d.load(t, b, refs...)
}

func (d docker) run(t *testing.T, args ...string) string {
	t.Helper()
	return testutil.Run(t, d.cli, append([]string{"run", "--rm", "--network=none"}, args...)...)
}

// imageID is the ID Docker gives a loaded image.
func (d docker) imageID(t *testing.T, ref string) string {
	t.Helper()
	return strings.TrimSpace(testutil.Run(t, d.cli, "image", "inspect", "--format", "{{.Id}}", ref))
}

func (d docker) layers(t *testing.T, ref string) []string {
	t.Helper()
	var l []string
	out := testutil.Run(t, d.cli, "image", "inspect", "--format", "{{json .RootFS.Layers}}", ref)
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("docker image inspect %s: %v", ref, err)
	}
	return l
}

// readLink is the target of a result link.
func readLink(t *testing.T, name string) string {
	t.Helper()
	p, err := os.Readlink(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
