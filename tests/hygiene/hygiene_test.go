// Package hygiene holds tests of the test suite itself: a test whose
// tool is missing must fail in CI, not pass by skipping, and the
// conformance script must not pass by checking nothing.
package hygiene

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// allowedSkips are the t.Skip calls that do not hide a missing tool:
// each is matched by its file and a piece of its line, with the reason.
var allowedSkips = []struct{ file, line, why string }{
	{"cmd/merge-images/main_test.go", `t.Skip("writes archives of tens of MiB")`, "under -short only"},
	{"cmd/merge-images/main_test.go", `t.Skip("writes archives of 256 MiB")`, "under -short only"},
	{"lib/dockerarchive/fuzz_test.go", "t.Skip()", "a fuzz input too slow to open, not a missing tool"},
	{"lib/tarsum/fuzz_test.go", "t.Skip()", "a fuzz input outside the oracle's domain"},
	{"lib/closure/pipeline_nixpkgs_test.go", `t.Skip("FLATTEN_REFERENCES_GRAPH is not set`, "opt-in: nixpkgs' sources cannot be fetched here; TestPipelineNixpkgsCases checks the recorded answers in CI"},
}

// TestNoSilentSkips: every other skip goes through testutil.Missing,
// which fails under CI=true.
func TestNoSilentSkips(t *testing.T) {
	root := testutil.RepoRoot()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "lib/testutil/testutil.go" || rel == "tests/hygiene/hygiene_test.go" {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if !strings.Contains(line, ".Skip(") && !strings.Contains(line, ".Skipf(") && !strings.Contains(line, ".SkipNow(") {
				continue
			}
			ok := false
			for _, a := range allowedSkips {
				if a.file == filepath.ToSlash(rel) && strings.Contains(line, a.line) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s:%d: %s: a skip that passes in CI; use testutil.Missing or testutil.Need, or allow it here with a reason", rel, n, strings.TrimSpace(line))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMissingToolFailsInCI: a test that needs python3 fails when CI=true
// and python3 is not on PATH, and skips, saying why, when CI is not set.
func TestMissingToolFailsInCI(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "closure.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./lib/closure")
	build.Dir = testutil.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	empty := t.TempDir()
	for _, c := range []struct {
		ci       string
		wantCode int
		want     string
	}{
		{"true", 1, "CI=true and python3 is not installed"},
		{"", 0, "skipped: python3 is not installed"},
	} {
		cmd := exec.Command(bin, "-test.run", "^TestAppendJSON$", "-test.v")
		cmd.Env = []string{"PATH=" + empty, "CI=" + c.ci, "HOME=" + empty}
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.wantCode || !strings.Contains(string(out), c.want) {
			t.Errorf("CI=%q: exit %d, want %d saying %q:\n%s", c.ci, code, c.wantCode, c.want, out)
		}
	}
}

// TestConformanceScriptNeedsTheTools: check.sh fails, before touching
// the fixture store, when the binaries it checks are not there.
func TestConformanceScriptNeedsTheTools(t *testing.T) {
	bash := testutil.Need(t, "bash")[0]
	cmd := exec.Command(bash, filepath.Join(testutil.RepoRoot(), "testdata", "conformance", "check.sh"), t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not in ") || !strings.Contains(string(out), "path-to-layer") {
		t.Errorf("check.sh with no tools: %v\n%s", err, out)
	}
}
