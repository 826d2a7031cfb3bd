// Package testutil holds what the toolkit's tests share: finding the tools
// a test needs (a missing one fails the test under CI=true and skips it
// elsewhere, with a message saying what to install), and the conformance
// fixture store of testdata/conformance, set up once under /nix/store.
package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (CI=true), where a missing tool
// is a failure rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing fails (in CI) or skips the test, saying why.
func Missing(t testing.TB, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if InCI() {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Need returns the path of each command, or fails/skips the test when one
// is not installed.
func Need(t testing.TB, commands ...string) []string {
	t.Helper()
	var paths []string
	for _, c := range commands {
		p, err := exec.LookPath(c)
		if err != nil {
			Missing(t, "%s is not installed (.ci/run installs it)", c)
		}
		paths = append(paths, p)
	}
	return paths
}

// NeedRoot fails/skips the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "the test needs root (it writes under /nix/store)")
	}
}

// RepoRoot returns the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// Binaries builds every command of the toolkit once per test process and
// returns the directory holding them.
func Binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() { binDir, buildErr = buildTools() })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func buildTools() (string, error) {
	dir, err := os.MkdirTemp("", "dockertools-bin-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/...")
	cmd.Dir = RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
}

// MainWithTools is a TestMain for tests that run the toolkit's commands:
// it builds them all, hands their directory to use, runs the tests and
// removes the binaries. It returns the exit code.
func MainWithTools(m *testing.M, use func(binDir string)) int {
	buildOnce.Do(func() { binDir, buildErr = buildTools() })
	if buildErr != nil {
		fmt.Fprintln(os.Stderr, buildErr)
		return 1
	}
	use(binDir)
	code := m.Run()
	os.RemoveAll(binDir)
	return code
}

// Result is what a command did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Exec runs name with args in dir, with extra environment variables and
// stdin (nil: none), and returns what it did. Only a command that cannot
// start fails the test.
func Exec(t testing.TB, dir string, env []string, stdin []byte, name string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return Result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// Fixture is the conformance fixture: its store paths live under
// /nix/store; Dir holds graph.json and out/{a,b}.conf.json.
type Fixture struct {
	Dir string
}

// Store path names of the fixture.
const (
	Libc   = "/nix/store/00000000000000000000000000000000-fx-libc-2.40"
	Libfoo = "/nix/store/11111111111111111111111111111111-fx-libfoo-1.0"
	App    = "/nix/store/22222222222222222222222222222222-fx-app-1.0"
	Data   = "/nix/store/33333333333333333333333333333333-fx-data"
	Link   = "/nix/store/44444444444444444444444444444444-fx-link-to-libfoo"
	Single = "/nix/store/55555555555555555555555555555555-fx-single-file"
	Custom = "/nix/store/66666666666666666666666666666666-fx-customisation-layer"
)

// ConformanceFixture makes sure the fixture store exists (creating it with
// testdata/conformance/mkstore.py and mkcustom.py when a path is missing)
// and writes graph.json and the conf files into a fresh directory. Test
// processes of several packages share the store: creation happens under a
// file lock, and a complete fixture is never recreated while others read
// it.
func ConformanceFixture(t testing.TB) Fixture {
	t.Helper()
	NeedRoot(t)
	py := Need(t, "python3")[0]
	conf := filepath.Join(RepoRoot(), "testdata", "conformance")
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "dockertools-conformance.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	dir := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command(py, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	complete := true
	for _, p := range []string{Libc, Libfoo, App, Data, Link, Single, Custom + "/layer.tar", Custom + "/checksum"} {
		if _, err := os.Lstat(p); err != nil {
			complete = false
		}
	}
	if !complete {
		if err := os.MkdirAll("/nix/store", 0o755); err != nil {
			t.Fatal(err)
		}
		run(filepath.Join(conf, "mkstore.py"), "graph.json")
		run(filepath.Join(conf, "mkcustom.py"), Custom)
	} else {
		// The graph only: mkstore.py would recreate the paths under
		// readers' feet. Its store is the default one.
		run("-c", graphScript)
	}
	run(filepath.Join(conf, "mkconf.py"), filepath.Join(dir, "out"))
	return Fixture{Dir: dir}
}

// graphScript writes the fixture's graph.json exactly as mkstore.py does.
const graphScript = `
import json
P = lambda h, n: "/nix/store/" + h * 32 + "-" + n
libc, lib2, app, data = P("0", "fx-libc-2.40"), P("1", "fx-libfoo-1.0"), P("2", "fx-app-1.0"), P("3", "fx-data")
link, single = P("4", "fx-link-to-libfoo"), P("5", "fx-single-file")
graph = [
    {"path": libc, "references": [libc], "narSize": 1000},
    {"path": lib2, "references": [libc, lib2], "narSize": 2000},
    {"path": app, "references": [lib2, libc, app, data, single], "narSize": 3000},
    {"path": data, "references": [], "narSize": 4000000},
    {"path": link, "references": [lib2], "narSize": 100},
    {"path": single, "references": [], "narSize": 50},
]
json.dump(graph, open("graph.json", "w"), indent=1)
`

// Reimpurify gives the fixture's files new random owners and times and one
// more hard link each (in a directory on the store's file system), as
// running mkstore.py again would, without recreating them under other
// readers. The returned function removes the extra links.
func Reimpurify(t testing.TB) func() {
	t.Helper()
	links, err := os.MkdirTemp("/nix", ".dockertools-test-links-")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	seed := time.Now().UnixNano()
	for _, root := range []string{Libc, Libfoo, App, Data, Single} {
		filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.Mode()&os.ModeSymlink != 0 {
				return err
			}
			seed = seed*6364136223846793005 + 1442695040888963407
			r := uint64(seed)
			ts := time.Unix(int64(r%(1<<31)), 0)
			os.Chtimes(p, ts, ts)
			os.Lchown(p, int(r>>32%5000), int(r>>48%5000))
			if fi.Mode().IsRegular() {
				n++
				if err := os.Link(p, filepath.Join(links, fmt.Sprint(n))); err != nil {
					t.Fatalf("extra hard link: %v", err)
				}
			}
			return nil
		})
	}
	return func() { os.RemoveAll(links) }
}
