package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	es, _ := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		if strings.Contains(e.Name(), ".tmp-") {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "out.tar")
	f, err := Create(target)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the target exists before Commit")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "partial" {
		t.Fatalf("target holds %q", b)
	}
	fi, _ := os.Stat(target)
	if want := os.FileMode(0o644) &^ umask(); fi.Mode().Perm() != want {
		t.Errorf("mode %o, want %o", fi.Mode().Perm(), want)
	}
	f.Abort() // after Commit: nothing happens
	if _, err := os.Stat(target); err != nil {
		t.Fatal("Abort after Commit removed the target")
	}

	g, _ := Create(target)
	g.WriteString("second, abandoned")
	g.Abort()
	if b, _ := os.ReadFile(target); string(b) != "partial" {
		t.Errorf("an aborted write replaced the target: %q", b)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestRemoveAll(t *testing.T) {
	dir := t.TempDir()
	a, _ := Create(filepath.Join(dir, "a"))
	b, _ := Create(filepath.Join(dir, "b"))
	if l := leftovers(t, dir); len(l) != 2 {
		t.Fatalf("temporary files %v, want 2", l)
	}
	RemoveAll()
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("RemoveAll left %v", l)
	}
	a.Abort()
	b.Abort()
}

func TestStdoutAndErrors(t *testing.T) {
	f, err := Create("-")
	if err != nil || !f.IsStdout() || f.File != os.Stdout {
		t.Fatalf("Create(-): %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Create(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Create(dir): %v", err)
	}
	if _, err := Create(filepath.Join(dir, "missing", "x")); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "missing", "x")) {
		t.Errorf("Create in a missing directory: %v", err)
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o555)
		if _, err := Create(filepath.Join(ro, "x")); err == nil {
			t.Error("Create in a read-only directory succeeded")
		}
	}
	if err := WriteFile(filepath.Join(dir, "w"), []byte("data")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "w")); string(b) != "data" {
		t.Errorf("WriteFile wrote %q", b)
	}
}

// TestCommitSyncs: Commit flushes the data before the rename and the
// directory after it, so a crash of the machine cannot leave the final
// name on an empty file; a failed sync fails Commit and leaves no output.
func TestCommitSyncs(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(sub, "real.tar"), link); err != nil {
		t.Fatal(err)
	}
	oldFile, oldDir := syncFile, syncDir
	defer func() { syncFile, syncDir = oldFile, oldDir }()
	for _, c := range []struct {
		name, path, target string
	}{
		{"plain", filepath.Join(dir, "out.tar"), filepath.Join(dir, "out.tar")},
		{"through a symlink", link, filepath.Join(sub, "real.tar")},
	} {
		var events []string
		syncFile = func(f *os.File) error {
			_, err := os.Stat(c.target)
			events = append(events, "file, target exists: "+strconv.FormatBool(err == nil))
			return f.Sync()
		}
		syncDir = func(d string) error {
			_, err := os.Stat(c.target)
			events = append(events, "dir "+d+", target exists: "+strconv.FormatBool(err == nil))
			return oldDir(d)
		}
		if err := WriteFile(c.path, []byte("data")); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := []string{"file, target exists: false", "dir " + filepath.Dir(c.target) + ", target exists: true"}
		if strings.Join(events, "; ") != strings.Join(want, "; ") {
			t.Errorf("%s: events %q, want %q", c.name, events, want)
		}
	}

	syncFile = func(*os.File) error { return os.ErrInvalid }
	syncDir = oldDir
	target := filepath.Join(dir, "failed.tar")
	err := WriteFile(target, []byte("data"))
	if err == nil || !strings.Contains(err.Error(), "write "+target+": sync") {
		t.Errorf("failed sync: %v", err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("a failed sync left the output")
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

// TestDir: an output directory appears whole on Commit (replacing an
// empty directory), is removed by Abort and by RemoveAll, and refuses a
// target that is a file or a directory with something in it.
func TestDir(t *testing.T) {
	top := t.TempDir()
	target := filepath.Join(top, "layout")
	d, err := CreateDir(target)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Create(filepath.Join(d.Path, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("data")
	if err := f.SetName(filepath.Join(d.Path, "sha256-x")); err != nil {
		t.Fatal(err)
	}
	if err := f.SetName(filepath.Join(top, "elsewhere")); err == nil {
		t.Error("SetName moved a file to another directory")
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatal("the directory exists before Commit")
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "sha256-x")); err != nil || string(b) != "data" {
		t.Fatalf("committed directory holds %q: %v", b, err)
	}
	if l := leftovers(t, top); len(l) != 0 {
		t.Errorf("temporary entries left: %v", l)
	}

	if _, err := CreateDir(target); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a directory with files: %v", err)
	}
	if _, err := CreateDir(filepath.Join(target, "sha256-x")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	empty := filepath.Join(top, "empty")
	os.Mkdir(empty, 0o755)
	e, err := CreateDir(empty)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(e.Path, "x"), nil, 0o644)
	if err := e.Commit(); err != nil {
		t.Fatalf("over an empty directory: %v", err)
	}

	a, _ := CreateDir(filepath.Join(top, "aborted"))
	a.Abort()
	r, _ := CreateDir(filepath.Join(top, "interrupted"))
	os.WriteFile(filepath.Join(r.Path, "x"), nil, 0o644)
	RemoveAll()
	if l := leftovers(t, top); len(l) != 0 {
		t.Errorf("temporary entries left after Abort and RemoveAll: %v", l)
	}
	for _, n := range []string{"aborted", "interrupted"} {
		if _, err := os.Stat(filepath.Join(top, n)); err == nil {
			t.Errorf("%s exists", n)
		}
	}
}
