package layer_test

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/opencontainers/go-digest"
)

// modelStore is a store with a small and a large file (sent from the
// kernel when written again) and a symlink.
func modelStore(t *testing.T) (string, []string) {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	p := filepath.Join(store, strings.Repeat("a", 32)+"-pkg")
	if err := os.MkdirAll(filepath.Join(p, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("large file contents "), 20000)
	os.WriteFile(filepath.Join(p, "bin", "big"), big, 0o755)
	os.WriteFile(filepath.Join(p, "small"), []byte("small"), 0o644)
	os.Symlink("bin/big", filepath.Join(p, "link"))
	return store, []string{p}
}

// TestMeasureStorePaths: a measured layer is written again with the
// bytes of its diffID, to a plain writer and (from the kernel) into a
// tar on a file; a file rewritten, a mode changed or a file added
// between the two writings is an error naming the layer.
func TestMeasureStorePaths(t *testing.T) {
	store, paths := modelStore(t)
	o := layer.Defaults()
	o.StoreDir = store
	var want bytes.Buffer
	res, err := layer.WriteStorePaths(&want, paths, o)
	if err != nil {
		t.Fatal(err)
	}
	l, err := layer.MeasureStorePaths(paths, o)
	if err != nil {
		t.Fatal(err)
	}
	if l.DiffID != res.DiffID || l.Size != res.Size {
		t.Fatalf("measured %s %d, written %s %d", l.DiffID, l.Size, res.DiffID, res.Size)
	}
	var got bytes.Buffer
	if err := l.Stream(&got); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("written again: %v (%d bytes, want %d)", err, got.Len(), want.Len())
	}
	// Into a member of a tar on a file: the big file goes by sendfile(2).
	f, err := os.Create(filepath.Join(t.TempDir(), "outer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	tw := pytar.NewWriter(f)
	tw.WriteHeader(&pytar.Header{Name: "layer.tar", Mode: 0o644, Size: l.Size, Typeflag: pytar.TypeReg})
	if err := l.Stream(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	outer, _ := os.ReadFile(f.Name())
	if inner := outer[512 : 512+l.Size]; digest.FromBytes(inner) != l.DiffID {
		t.Errorf("the member sent to a file is not the layer (sha256 %x)", sha256.Sum256(inner))
	}

	pkg := paths[0]
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"large file rewritten, same size", func() {
			b, _ := os.ReadFile(filepath.Join(pkg, "bin", "big"))
			b[100] ^= 1
			os.WriteFile(filepath.Join(pkg, "bin", "big"), b, 0o755)
		}},
		{"small file rewritten, same size", func() { os.WriteFile(filepath.Join(pkg, "small"), []byte("SMALL"), 0o644) }},
		{"mode changed", func() { os.Chmod(filepath.Join(pkg, "small"), 0o600) }},
		{"file added", func() { os.WriteFile(filepath.Join(pkg, "new"), nil, 0o644) }},
		{"link target changed", func() {
			os.Remove(filepath.Join(pkg, "link"))
			os.Symlink("bin/bug", filepath.Join(pkg, "link"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			store, paths := modelStore(t)
			pkg = paths[0]
			o.StoreDir = store
			l, err := layer.MeasureStorePaths(paths, o)
			if err != nil {
				t.Fatal(err)
			}
			c.change()
			err = l.Stream(&bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), "changed while the image was written") || !strings.Contains(err.Error(), pkg) {
				t.Errorf("error %v", err)
			}
		})
	}
}
