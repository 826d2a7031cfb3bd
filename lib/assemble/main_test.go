package assemble_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// TestMain removes the assemble-image binary that tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// assembleBin builds the assemble-image command once, for tests that need
// it in a process of its own (its time zone, say).
func assembleBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "assemble-test-bin-"); binErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "./cmd/assemble-image")
		cmd.Dir = testutil.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{err, out}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "assemble-image")
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string {
	return "go build ./cmd/assemble-image: " + e.err.Error() + "\n" + string(e.out)
}
