// Package robustness runs the toolkit's commands and scripts the way CI
// pipelines meet them: killed at random points, interrupted, read by a
// consumer that stops early, run many at once into one directory, run
// again under other owners, times, umasks, locales and parallelism, and
// fed hostile base images. Each must end in a clear error or a correct
// result, never in a file that looks finished but is not.
//
// The large inputs (a store of about 200 MiB of random bytes, its layers
// and two image archives) are made once per test process. With -short,
// fewer trials run.
package robustness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// binDir holds the toolkit's commands, built by TestMain.
var binDir string

// scratch is removed when the tests end: the shared stores live there.
var scratch string

func TestMain(m *testing.M) {
	code := testutil.MainWithTools(m, func(dir string) {
		binDir = dir
		var err error
		if scratch, err = os.MkdirTemp("", "dockertools-robustness-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	})
	os.RemoveAll(scratch)
	os.Exit(code)
}

func tool(name string) string { return filepath.Join(binDir, name) }

func script(name string) string { return filepath.Join(testutil.RepoRoot(), "scripts", name) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	must(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	must(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

// writeFile writes data at p, making its directories.
func writeFile(t testing.TB, p string, data []byte, mode os.FileMode) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o644))
	must(t, os.Chmod(p, mode))
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// runIn runs a command in dir with extra environment variables.
func runIn(t testing.TB, dir string, env []string, name string, args ...string) result {
	t.Helper()
	r := testutil.Exec(t, dir, append([]string{"DOCKERTOOLS_BIN=" + binDir}, env...), nil, name, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	r := runIn(t, dir, env, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", filepath.Base(name), strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// oneLine checks that stderr is one line of the tool's, with no stack
// trace.
func oneLine(t testing.TB, what, tool, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") || !strings.HasPrefix(stderr, tool+": ") ||
		strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("%s: stderr is not one line of %s's: %q", what, tool, stderr)
	}
}

// storePath is the name of store path i in the test stores.
func storePath(store string, i int, name string) string {
	h := strings.Repeat(string("0123456789abcdfghijklmnpqrsvwxyz"[i%32]), 31) + string("0123456789abcdfghijklmnpqrsvwxyz"[i/32%32])
	return filepath.Join(store, h+"-"+name)
}

// fillPath writes a store path's tree: blobs of random bytes (the given
// sizes), a few dozen small files of text, a symlink and a hard link.
func fillPath(t testing.TB, p string, rng *rand.ChaCha8, blobs []int) {
	t.Helper()
	for j, n := range blobs {
		b := make([]byte, n)
		rng.Read(b)
		writeFile(t, filepath.Join(p, "share", fmt.Sprintf("blob%d", j)), b, 0o444)
	}
	for j := 0; j < 40; j++ {
		text := bytes.Repeat([]byte(fmt.Sprintf("line %d of file %d in %s\n", j, j, filepath.Base(p))), 1+j*7)
		writeFile(t, filepath.Join(p, "lib", fmt.Sprintf("d%d", j%5), fmt.Sprintf("f%02d.txt", j)), text, 0o444)
	}
	writeFile(t, filepath.Join(p, "bin", "prog"), []byte("#!/bin/sh\necho "+filepath.Base(p)+"\n"), 0o555)
	must(t, os.Symlink("../lib/d0/f00.txt", filepath.Join(p, "bin", "link")))
	must(t, os.Link(filepath.Join(p, "bin", "prog"), filepath.Join(p, "bin", "prog2")))
}

// graphOf writes a closure graph (exportReferencesGraph shape) in which
// the first path references all the others.
func graphOf(t testing.TB, file string, paths []string) {
	t.Helper()
	type node struct {
		Path       string   `json:"path"`
		References []string `json:"references"`
		NarSize    int      `json:"narSize"`
	}
	var g []node
	for i, p := range paths {
		refs := []string{p}
		if i == 0 {
			refs = append(refs, paths[1:]...)
		}
		sort.Strings(refs)
		g = append(g, node{p, refs, 1000 * (len(paths) - i)})
	}
	b, _ := json.Marshal(g)
	writeFile(t, file, b, 0o644)
}

// big is the large input, made once: four store paths of about 50 MiB of
// random bytes each, their layers (layers/N.tar and N.json, index N), and
// two image archives: a.tar (a:1, all four layers) and b.tar (b:1, the
// first two and another config).
type big struct {
	dir, store string
	paths      []string
	graph      string
	layers     string
	descs      []string
	a, b       string
	ready      bool
}

var (
	bigOnce sync.Once
	bigData big
)

// bigStore makes the large input once; a test after a failed attempt
// fails too.
func bigStore(t testing.TB) *big {
	t.Helper()
	bigOnce.Do(func() { bigData = makeBig(t) })
	if !bigData.ready {
		t.Fatal("making the large test store failed (see the first test that needed it)")
	}
	return &bigData
}

func makeBig(t testing.TB) big {
	b := big{dir: filepath.Join(scratch, "big")}
	b.store = filepath.Join(b.dir, "store")
	rng := rand.NewChaCha8([32]byte{42})
	for i := 0; i < 4; i++ {
		p := storePath(b.store, i, fmt.Sprintf("big-%d", i))
		fillPath(t, p, rng, []int{16 << 20, 16 << 20, 16<<20 + 12345})
		b.paths = append(b.paths, p)
	}
	b.graph = filepath.Join(b.dir, "graph.json")
	graphOf(t, b.graph, b.paths)
	b.layers = filepath.Join(b.dir, "layers")
	must(t, os.MkdirAll(b.layers, 0o755))
	for i, p := range b.paths {
		tarFile, desc := filepath.Join(b.layers, fmt.Sprint(i, ".tar")), filepath.Join(b.layers, fmt.Sprint(i, ".json"))
		mustRun(t, b.dir, nil, tool("path-to-layer"), "-q", "--store-dir", b.store, "--index", fmt.Sprint(i),
			"-o", tarFile, "--descriptor", desc, p)
		b.descs = append(b.descs, desc)
	}
	b.a, b.b = filepath.Join(b.dir, "a.tar"), filepath.Join(b.dir, "b.tar")
	mustRun(t, b.dir, nil, tool("assemble-image"), append([]string{"-q", "--tag", "a:1", "-o", b.a}, b.descs...)...)
	cfg := filepath.Join(b.dir, "b-config.json")
	writeFile(t, cfg, []byte(`{"Cmd": ["/bin/b"], "Env": ["B=1"]}`), 0o644)
	mustRun(t, b.dir, nil, tool("assemble-image"), append([]string{"-q", "--tag", "b:1", "--config", cfg, "-o", b.b}, b.descs[:2]...)...)
	b.ready = true
	return b
}

// tempFiles lists the names in dir that are temporary outputs
// (".NAME.tmp-*").
func tempFiles(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var tmp []string
	for _, e := range ents {
		if isTemp(e.Name()) {
			tmp = append(tmp, e.Name())
		}
	}
	return tmp
}

func isTemp(name string) bool { return strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp-") }

// names lists the names in dir.
func names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	return ns
}

// exitCode is a finished command's exit code, 128+N for a signal.
func exitCode(err error, ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return -1
	}
	return ps.ExitCode()
}
