package oci_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/oci"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// layerTar is a small tar with one file of the given content.
func layerTar(t testing.TB, name string, content []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	return buf.Bytes()
}

// memLayer is a measured layer of in-memory bytes.
func memLayer(t testing.TB, b []byte) image.Layer {
	t.Helper()
	l, err := image.Measure("test layer", func(w io.Writer) error { _, err := w.Write(b); return err })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is an image of the given layers, its config listing them.
func testImage(t testing.TB, arch string, names []string, layers ...[]byte) *image.Image {
	t.Helper()
	im := &image.Image{Names: names}
	var diffIDs []string
	for _, b := range layers {
		l := memLayer(t, b)
		im.Layers = append(im.Layers, l)
		diffIDs = append(diffIDs, l.DiffID.String())
	}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": arch, "os": "linux", "created": "2001-09-09T01:46:40Z",
		"config": map[string]any{"Cmd": []string{"/bin/app"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	im.Config = cfg
	return im
}

// noise is n deterministic bytes that compress a little.
func noise(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x % 16)
	}
	return b
}

func writeLayout(t *testing.T, dir string, opts oci.Options, ims ...*image.Image) {
	t.Helper()
	w, err := oci.CreateLayout(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims {
		if _, err := w.Add(im); err != nil {
			w.Abort()
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func writeArchive(t *testing.T, opts oci.Options, ims ...*image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := oci.NewArchiveWriter(&buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims {
		if _, err := w.Add(im); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// untar extracts an archive into a new directory.
func untar(t *testing.T, b []byte) string {
	t.Helper()
	dir := t.TempDir()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		data, _ := io.ReadAll(tr)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeDigests maps every file of a directory to its sha256.
func treeDigests(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			s := sha256.Sum256(b)
			rel, _ := filepath.Rel(dir, p)
			out[rel] = hex.EncodeToString(s[:])
		}
		return nil
	})
	return out
}

// TestRoundTrip: images written as a layout and as an archive, with
// each compression, read back with the same configs, diffIDs, names and
// layer bytes; every blob is named by its sha256, and each layer blob
// decompresses to its diffID.
func TestRoundTrip(t *testing.T) {
	l1, l2, l3 := layerTar(t, "a", noise(1, 300<<10)), layerTar(t, "b", noise(2, 3<<20)), layerTar(t, "c", []byte("c"))
	app := testImage(t, "amd64", []string{"app:1.0", "localhost:5000/team/app"}, l1, l2, l3)
	other := testImage(t, "arm64", nil, l2, l1) // shares two layers
	for _, kind := range []compress.Kind{compress.None, compress.Gzip, compress.Zstd} {
		t.Run(string(kind), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			writeLayout(t, dir, oci.Options{Compression: kind}, app, other)
			fromArchive := untar(t, writeArchive(t, oci.Options{Compression: kind}, app, other))
			if a, b := treeDigests(t, dir), treeDigests(t, fromArchive); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("the archive holds other files than the layout:\n%v\n%v", a, b)
			}
			for name, sum := range treeDigests(t, dir) {
				if strings.HasPrefix(name, "blobs/sha256/") && filepath.Base(name) != sum {
					t.Errorf("%s holds bytes with sha256 %s", name, sum)
				}
			}
			l, err := oci.OpenLayout(dir)
			if err != nil {
				t.Fatal(err)
			}
			ims, err := l.Images()
			if err != nil {
				t.Fatal(err)
			}
			if len(ims) != 2 {
				t.Fatalf("%d images", len(ims))
			}
			if fmt.Sprint(ims[0].Names) != "[docker.io/library/app:1.0 localhost:5000/team/app:latest]" || fmt.Sprint(ims[0].RefNames) != "[1.0 latest]" {
				t.Errorf("names %v, refs %v", ims[0].Names, ims[0].RefNames)
			}
			if len(ims[1].Names) != 0 {
				t.Errorf("unnamed image named %v", ims[1].Names)
			}
			for i, want := range []*image.Image{app, other} {
				got := ims[i]
				if !bytes.Equal(got.Config, want.Config) {
					t.Errorf("image %d: config changed", i)
				}
				for j, gl := range got.Layers {
					if gl.DiffID != want.Layers[j].DiffID {
						t.Errorf("image %d layer %d: diffID %s", i, j, gl.DiffID)
					}
					var buf bytes.Buffer
					if err := gl.Stream(&buf); err != nil {
						t.Fatal(err)
					}
					if digest.FromBytes(buf.Bytes()) != want.Layers[j].DiffID {
						t.Errorf("image %d layer %d: other bytes", i, j)
					}
					if (gl.Stored != nil) != (kind != compress.None) {
						t.Errorf("image %d layer %d: stored %+v", i, j, gl.Stored)
					}
				}
			}
			// Blobs: 3 layers, 2 configs, 2 manifests, each once.
			if n := len(treeDigests(t, filepath.Join(dir, "blobs"))); n != 7 {
				t.Errorf("%d blobs, want 7", n)
			}
		})
	}
}

// TestDeterministic: the same images give the same bytes whatever the
// number of layers compressed at once or GOMAXPROCS.
func TestDeterministic(t *testing.T) {
	var layers [][]byte
	for i := 0; i < 5; i++ {
		layers = append(layers, layerTar(t, fmt.Sprint(i), noise(i, (i+1)<<19)))
	}
	im := testImage(t, "amd64", []string{"app:1"}, layers...)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, kind := range []compress.Kind{compress.Gzip, compress.Zstd} {
		var first string
		for _, c := range []struct{ procs, jobs int }{{1, 1}, {4, 1}, {4, 3}, {2, 2}} {
			runtime.GOMAXPROCS(c.procs)
			b := writeArchive(t, oci.Options{Compression: kind, Jobs: c.jobs}, im)
			sum := digest.FromBytes(b).String()
			if first == "" {
				first = sum
			} else if sum != first {
				t.Errorf("%s, GOMAXPROCS %d, jobs %d: %s, first %s", kind, c.procs, c.jobs, sum, first)
			}
		}
	}
}

// TestAddToLayout: a layout is added to: new names are added, a name
// taken again points at the new image, blobs it has are not written
// again.
func TestAddToLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	l1, l2 := layerTar(t, "a", []byte("one")), layerTar(t, "b", []byte("two"))
	writeLayout(t, dir, oci.Options{}, testImage(t, "amd64", []string{"app:1", "app:2"}, l1))
	writeLayout(t, dir, oci.Options{}, testImage(t, "amd64", []string{"app:2", "web:1"}, l1, l2))
	l, err := oci.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	ims, err := l.Images()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, im := range ims {
		got = append(got, fmt.Sprintf("%d layers: %v", len(im.Layers), im.Names))
	}
	sort.Strings(got)
	want := "[1 layers: [docker.io/library/app:1] 2 layers: [docker.io/library/app:2 docker.io/library/web:1]]"
	if fmt.Sprint(got) != want {
		t.Errorf("images %v, want %s", got, want)
	}
}

// TestBadLayouts: one line naming the layout and what is wrong.
func TestBadLayouts(t *testing.T) {
	im := testImage(t, "amd64", []string{"app:1"}, layerTar(t, "a", []byte("one")))
	good := filepath.Join(t.TempDir(), "good")
	writeLayout(t, good, oci.Options{Compression: compress.Gzip}, im)
	var idx v1.Index
	b, _ := os.ReadFile(filepath.Join(good, "index.json"))
	json.Unmarshal(b, &idx)
	mb, _ := os.ReadFile(filepath.Join(good, "blobs/sha256", idx.Manifests[0].Digest.Encoded()))
	var m v1.Manifest
	json.Unmarshal(mb, &m)
	layerBlob := "blobs/sha256/" + m.Layers[0].Digest.Encoded()
	manifestBlob := "blobs/sha256/" + idx.Manifests[0].Digest.Encoded()

	for _, c := range []struct {
		name   string
		change func(dir string)
		want   string
	}{
		{"missing blob", func(d string) { os.Remove(filepath.Join(d, layerBlob)) }, "is missing"},
		{"blob does not match", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, layerBlob))
			b[len(b)-1] ^= 1
			os.WriteFile(filepath.Join(d, layerBlob), b, 0o644)
		}, "does not match its digest"},
		{"blob of another size", func(d string) { os.WriteFile(filepath.Join(d, layerBlob), []byte("not the blob"), 0o644) }, "its descriptor says"},
		{"manifest not JSON", func(d string) { os.WriteFile(filepath.Join(d, manifestBlob), []byte("{"), 0o644) }, "manifest"},
		{"index not JSON", func(d string) { os.WriteFile(filepath.Join(d, "index.json"), []byte("["), 0o644) }, "index.json: not valid JSON"},
		{"index of unknown media type", func(d string) {
			os.WriteFile(filepath.Join(d, "index.json"), []byte(`{"schemaVersion":2,"mediaType":"application/x-nope","manifests":[]}`), 0o644)
		}, `unknown media type "application/x-nope"`},
		{"entry of unknown media type", func(d string) {
			os.WriteFile(filepath.Join(d, "index.json"), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"text/plain","digest":"`+idx.Manifests[0].Digest.String()+`","size":1}]}`), 0o644)
		}, `unknown media type "text/plain"`},
		{"no oci-layout", func(d string) { os.Remove(filepath.Join(d, "oci-layout")) }, "no oci-layout"},
		{"symlink outside", func(d string) {
			outside := filepath.Join(t.TempDir(), "x")
			os.WriteFile(outside, []byte("x"), 0o644)
			os.Remove(filepath.Join(d, layerBlob))
			os.Symlink(outside, filepath.Join(d, layerBlob))
		}, "leads outside the layout"},
		{"bad digest", func(d string) {
			os.WriteFile(filepath.Join(d, "index.json"), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"`+v1.MediaTypeImageManifest+`","digest":"sha256:../../etc","size":1}]}`), 0o644)
		}, "digest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "layout")
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			c.change(dir)
			err := readAll(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line naming %s and saying %q", err, dir, c.want)
			}
		})
	}
}

// readAll opens a layout and reads every layer of every image.
func readAll(dir string) error {
	l, err := oci.OpenLayout(dir)
	if err != nil {
		return err
	}
	ims, err := l.Images()
	if err != nil {
		return err
	}
	for _, im := range ims {
		for _, layer := range im.Layers {
			if err := layer.Stream(io.Discard); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestDecompressionBomb: a zstd layer blob that expands far past its
// size is refused before it is all decompressed.
func TestDecompressionBomb(t *testing.T) {
	var blob bytes.Buffer
	zw, _ := compress.NewWriter(&blob, compress.Zstd)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 200; i++ { // 200 MiB of zeros: a few KiB compressed
		zw.Write(zeros)
	}
	zw.Close()
	bomb := blob.Bytes()
	l := image.Layer{DiffID: digest.FromString("whatever"), Size: -1}
	im := testImage(t, "amd64", []string{"bomb:1"}, layerTar(t, "a", nil))
	dir := filepath.Join(t.TempDir(), "layout")
	writeLayout(t, dir, oci.Options{Compression: compress.Zstd}, im)
	_ = l
	// Replace the layer blob with the bomb, keeping the layout consistent.
	var idx v1.Index
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(b, &idx)
	mpath := filepath.Join(dir, "blobs/sha256", idx.Manifests[0].Digest.Encoded())
	mb, _ := os.ReadFile(mpath)
	var m v1.Manifest
	json.Unmarshal(mb, &m)
	os.Remove(filepath.Join(dir, "blobs/sha256", m.Layers[0].Digest.Encoded()))
	m.Layers[0].Digest, m.Layers[0].Size = digest.FromBytes(bomb), int64(len(bomb))
	os.WriteFile(filepath.Join(dir, "blobs/sha256", m.Layers[0].Digest.Encoded()), bomb, 0o644)
	mb, _ = json.Marshal(m)
	os.Remove(mpath)
	os.WriteFile(filepath.Join(dir, "blobs/sha256", digest.FromBytes(mb).Encoded()), mb, 0o644)
	idx.Manifests[0].Digest, idx.Manifests[0].Size = digest.FromBytes(mb), int64(len(mb))
	b, _ = json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), b, 0o644)
	err := readAll(dir)
	if err == nil || !strings.Contains(err.Error(), "decompression bomb") {
		t.Errorf("bomb: %v", err)
	}
}
