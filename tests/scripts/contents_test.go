package scripts

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// linkTree is what nixpkgs' symlinkJoin (lndir -silent FROM) puts into a
// customisation layer for the store path FROM, given as prefix: a
// directory (0755) for each directory, a symlink with the same target for
// each symlink, a symlink to prefix/PATH for anything else. One line per
// entry, sorted.
func linkTree(t *testing.T, from, prefix string) []string {
	t.Helper()
	var want []string
	root, err := filepath.EvalSymlinks(from)
	must(t, err)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			want = append(want, rel+" symlink "+target)
		case d.IsDir():
			want = append(want, rel+" dir 0755")
		default:
			want = append(want, rel+" symlink "+prefix+"/"+rel)
		}
		return nil
	})
	must(t, err)
	sort.Strings(want)
	return want
}

// customEntries describes the customisation layer (the last) of an
// image as linkTree does, plus "file" lines for regular files.
func customEntries(t *testing.T, archive string) []string {
	t.Helper()
	layers := readImage(t, archive)
	var got []string
	for _, e := range layers[len(layers)-1].entries {
		name := strings.TrimSuffix(e.name, "/")
		if name == "" || name == "." {
			continue
		}
		switch e.typeflag {
		case tar.TypeSymlink:
			got = append(got, name+" symlink "+e.link)
		case tar.TypeDir:
			got = append(got, fmt.Sprintf("%s dir %04o", name, e.mode))
		case tar.TypeReg:
			got = append(got, name+" file")
		default:
			got = append(got, fmt.Sprintf("%s type %c", name, e.typeflag))
		}
	}
	sort.Strings(got)
	return got
}

// TestContentsStorePathsAreLinked: a store path among --contents goes
// into the customisation layer as symlinkJoin puts it there (directories
// and symlinks into the store, its own symlinks kept as they are), not as
// a copy of its files; a directory outside the store is copied.
func TestContentsStorePathsAreLinked(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	dir := t.TempDir()
	result := filepath.Join(dir, "result")
	must(t, os.Symlink(testutil.App, result))
	plain := filepath.Join(dir, "plain")
	must(t, os.MkdirAll(filepath.Join(plain, "bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(plain, "bin", "app"), []byte("mine\n"), 0o755))
	must(t, os.WriteFile(filepath.Join(plain, "extra"), []byte("extra\n"), 0o644))

	app := linkTree(t, testutil.App, testutil.App)
	// The plain directory's files, copied, and what a later store path's
	// links add around them (bin/app stays the copied file).
	var plainThenApp []string
	for _, l := range app {
		if !strings.HasPrefix(l, "bin/app ") {
			plainThenApp = append(plainThenApp, l)
		}
	}
	plainThenApp = append(plainThenApp, "bin/app file", "extra file")
	sort.Strings(plainThenApp)
	// A copied file replaces a link already there.
	appThenPlain := plainThenApp

	cases := []struct {
		name     string
		contents []string
		want     []string
	}{
		{"store path", []string{testutil.App}, app},
		{"symlink to a store path", []string{result}, app},
		{"store path that is a symlink", []string{testutil.Link}, linkTree(t, testutil.Link, testutil.Link)},
		{"directory inside a store path", []string{testutil.App + "/share"}, linkTree(t, testutil.App+"/share", testutil.App+"/share")},
		{"the same store path twice", []string{testutil.App, result}, app},
		{"plain directory, then a store path", []string{plain, testutil.App}, plainThenApp},
		{"store path, then a plain directory", []string{testutil.App, plain}, appThenPlain},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "image.tar")
			args := []string{"-q", "--name", "dt-i-scripts/contents", "--graph", graph}
			for _, d := range c.contents {
				args = append(args, "--contents", d)
			}
			build(t, "build-layered-image", append(args, "-o", out)...)
			if got := customEntries(t, out); !reflect.DeepEqual(got, c.want) {
				t.Errorf("customisation layer:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}
