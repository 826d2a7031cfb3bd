// Package scripts tests the shell pipelines of scripts/ on the conformance
// fixture store, without Docker: which store paths go into which layer,
// the customisation layer, and what a failing step does to a script. The
// end-to-end suite (tests/e2e) loads and runs their images.
package scripts

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// binDir holds the toolkit's commands, built by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { binDir = dir }))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// scriptsCopy copies scripts/ into a fresh directory, so that no bin/
// beside it provides the tools: they come from DOCKERTOOLS_BIN or PATH
// only, as each test arranges.
func scriptsCopy(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "scripts")
	must(t, os.Mkdir(dst, 0o755))
	src := filepath.Join(testutil.RepoRoot(), "scripts")
	entries, err := os.ReadDir(src)
	must(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dst, e.Name()), data, 0o755))
	}
	return dst
}

// run is one run of a script.
type run struct {
	code           int
	stdout, stderr string
}

// runScript runs a script with the environment given (on top of the
// test's, TMPDIR set to a fresh directory).
func runScript(t *testing.T, dir string, env []string, name string, args ...string) run {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s: %v", name, err)
	}
	return run{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// build runs scripts/NAME with the toolkit's binaries and fails the test
// when it fails.
func build(t *testing.T, name string, args ...string) run {
	t.Helper()
	r := runScript(t, t.TempDir(), []string{"DOCKERTOOLS_BIN=" + binDir},
		filepath.Join(testutil.RepoRoot(), "scripts", name), args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), r.code, r.stderr)
	}
	return r
}

// entry is a member of a layer tar.
type entry struct {
	name     string // as in the tar, less a leading "./" or "/"
	typeflag byte
	mode     int64
	link     string
}

// layer is one layer of an image: its members, and the store paths it
// holds in the order they come.
type layer struct {
	entries []entry
	paths   []string
}

// readImage returns the layers of the single image of an archive.
func readImage(t *testing.T, archive string) []layer {
	t.Helper()
	a, err := dockerarchive.Open(archive)
	must(t, err)
	defer a.Close()
	if len(a.Images) != 1 {
		t.Fatalf("%s: %d images, want 1", archive, len(a.Images))
	}
	var layers []layer
	for _, l := range a.Images[0].Layers {
		var ly layer
		tr := tar.NewReader(l.Open())
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			must(t, err)
			name := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
			ly.entries = append(ly.entries, entry{name, h.Typeflag, h.Mode, h.Linkname})
			if rest, ok := strings.CutPrefix(strings.TrimSuffix(name, "/"), "nix/store/"); ok && rest != "" && !strings.Contains(rest, "/") {
				ly.paths = append(ly.paths, "/nix/store/"+rest)
			}
		}
		layers = append(layers, ly)
	}
	return layers
}

// storeSplit returns the store paths of each layer that holds any, and
// checks that such layers come first and that the last layer (the
// customisation layer) holds none.
func storeSplit(t *testing.T, layers []layer) [][]string {
	t.Helper()
	var split [][]string
	for i, l := range layers {
		if len(l.paths) == 0 {
			continue
		}
		if i == len(layers)-1 {
			t.Errorf("the last layer holds store paths %v: want the customisation layer there", l.paths)
		}
		split = append(split, l.paths)
	}
	return split
}

// plan runs closure-popularity and returns its plan.
func plan(t *testing.T, args ...string) [][]string {
	t.Helper()
	out := testutil.Run(t, filepath.Join(binDir, "closure-popularity"), args...)
	var p [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line != "" {
			p = append(p, strings.Fields(line))
		}
	}
	return p
}

func sortedNames(l layer) []string {
	var names []string
	for _, e := range l.entries {
		names = append(names, e.name)
	}
	sort.Strings(names)
	return names
}
