package rootfs_test

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/rootfs"
)

// FuzzExport exports two layers of arbitrary bytes. Whatever they hold,
// Export fails cleanly (nothing written) or writes a tar whose names are
// clean and unique, whose entries sit in directories the tar holds and
// never below a symlink, and whose hard links name files written before.
func FuzzExport(f *testing.F) {
	seed := [][2][]ent{
		{{dir("a/"), file("a/x", "1"), hardlink("a/y", "a/x"), symlink("s", "a")}, {whiteout("a/", "x"), opaque("a/"), file("a/z", "z")}},
		{{file("f", "old"), hardlink("g", "f")}, {file("f", "new"), hardlink("h", "g")}},
		{{symlink("lib", "/etc")}, {file("lib/passwd", "x")}},
		{{file("x/y/z", "1")}, {whiteout("", "x"), dir("x/"), file(".wh...", "")}},
		{{dir("d/"), file("d/f", "1"), hardlink("g", "d/f")}, {whiteout("", "d"), hardlink("d", "g")}},
	}
	for _, s := range seed {
		f.Add(layerTar(f, s[0]), layerTar(f, s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ls := []image.Layer{bytesLayer(t, "a", a), bytesLayer(t, "b", b)}
		var out bytes.Buffer
		_, err := rootfs.Export(&out, ls, rootfs.Options{})
		if err != nil {
			if out.Len() != 0 {
				t.Fatalf("%d bytes written before %v", out.Len(), err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of several lines: %q", err)
			}
			return
		}
		types := map[string]byte{}
		var parents []string
		tr := tar.NewReader(&out)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("output: %v", err)
			}
			name := strings.TrimSuffix(h.Name, "/")
			if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
				t.Fatalf("%q of type %q", h.Name, h.Typeflag)
			}
			for _, c := range strings.Split(name, "/") {
				if c == "" || c == "." || c == ".." || strings.HasPrefix(c, rootfs.WhiteoutPrefix) {
					t.Fatalf("name %q", h.Name)
				}
			}
			if _, dup := types[name]; dup {
				t.Fatalf("%q twice", name)
			}
			if h.Typeflag == tar.TypeLink {
				if typ, ok := types[h.Linkname]; !ok || typ == tar.TypeDir || typ == tar.TypeLink {
					t.Fatalf("hard link %q to %q (%q) not written before", name, h.Linkname, typ)
				}
			}
			types[name] = h.Typeflag
			if i := strings.LastIndexByte(name, '/'); i > 0 {
				parents = append(parents, name[:i])
			}
		}
		for _, p := range parents {
			if types[p] != tar.TypeDir {
				t.Fatalf("%q holds files but is of type %q", p, types[p])
			}
		}
	})
}
