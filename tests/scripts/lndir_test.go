package scripts

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// treeEntries describes a directory tree as customEntries describes a
// customisation layer.
func treeEntries(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got = append(got, rel+" symlink "+target)
		case fi.IsDir():
			got = append(got, fmt.Sprintf("%s dir %04o", rel, fi.Mode().Perm()))
		default:
			got = append(got, rel+" file")
		}
		return nil
	})
	must(t, err)
	sort.Strings(got)
	return got
}

// TestContentsLikeLndir joins two store paths (of a store of the test's
// own, with the names lndir leaves out, symlinks of every kind, and
// clashes between the two) as --contents, and compares the customisation
// layer with what the real lndir makes of them, as nixpkgs' symlinkJoin
// runs it (lndir -silent, umask 022).
func TestContentsLikeLndir(t *testing.T) {
	lndir := testutil.Need(t, "lndir")[0]
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	a := filepath.Join(store, strings.Repeat("a", 32)+"-first")
	b := filepath.Join(store, strings.Repeat("b", 32)+"-second")
	files := map[string]string{
		a + "/bin/tool": "tool", a + "/backup~": "~", a + "/.hidden": "h", a + "/CVS.adm": "not a directory",
		a + "/we ird/na me": "space", a + "/sub/file": "f", a + "/sub/deeper/file": "f",
		b + "/sub/other": "o", b + "/bin/tool": "another tool", b + "/rel": "clashes with a's symlink",
		b + "/sublink/x": "clashes with a's symlinked directory", b + "/share/doc/b": "b",
	}
	for _, vcs := range []string{".git", ".hg", "BitKeeper", "RCS", "SCCS", "CVS", "CVS.adm", ".svn", "_darcs", "dir~"} {
		files[b+"/"+vcs+"/f"] = vcs
	}
	for p, data := range files {
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
	}
	for link, target := range map[string]string{
		a + "/rel": "sub/file", a + "/dangling": "nowhere", a + "/sublink": "sub", a + "/abs": b + "/share",
		b + "/up": "../" + filepath.Base(a) + "/bin",
	} {
		must(t, os.Symlink(target, link))
	}
	graph := filepath.Join(dir, "graph.json")
	must(t, os.WriteFile(graph, []byte(fmt.Sprintf(`[{"path": %q, "references": [], "narSize": 2}, {"path": %q, "references": [], "narSize": 1}]`, a, b)), 0o644))

	want := filepath.Join(dir, "lndir")
	must(t, os.Mkdir(want, 0o755))
	old := syscall.Umask(0o022)
	for _, p := range []string{a, b} {
		if out, err := exec.Command(lndir, "-silent", p, want).CombinedOutput(); err != nil {
			t.Fatalf("lndir %s: %v\n%s", p, err, out)
		}
	}
	syscall.Umask(old)

	out := filepath.Join(dir, "image.tar")
	build(t, "build-layered-image", "-q", "--name", "dt-i-scripts/lndir", "--store-dir", store, "--graph", graph,
		"--contents", a, "--contents", b, "-o", out)
	if got, want := customEntries(t, out), treeEntries(t, want); !reflect.DeepEqual(got, want) {
		t.Errorf("customisation layer:\n  %s\nlndir:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
