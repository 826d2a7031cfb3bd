package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRepoRoot(t *testing.T) {
	if _, err := os.Stat(filepath.Join(RepoRoot(), "go.mod")); err != nil {
		t.Fatalf("RepoRoot %s holds no go.mod: %v", RepoRoot(), err)
	}
}

func TestNeedFindsShell(t *testing.T) {
	if p := Need(t, "sh")[0]; p == "" {
		t.Fatal("no path for sh")
	}
}

func TestRun(t *testing.T) {
	if got := Run(t, "sh", "-c", "echo out; echo err >&2"); got != "out\n" {
		t.Errorf("Run returned %q", got)
	}
}
