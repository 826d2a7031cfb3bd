package dockerarchive_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/opencontainers/go-digest"
)

// FuzzOpen feeds Open arbitrary files: it must never panic, fail with a
// one-line message or give images whose layers can be verified (each
// either matching its diff_id or failing with a one-line message), and
// never allocate far beyond what its limits allow, whatever sizes and
// counts the input claims.
//
// Besides the seeds added below, testdata/fuzz/FuzzOpen holds archives
// other programs wrote: docker save of Docker 20.10 (a layer shared by two
// images at different depths stored once and symlinked), a Docker 25
// style OCI layout written by Python's tarfile, and merge-images output
// compressed by gzip(1) and zstd(1).
func FuzzOpen(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if expandedSize(data) > 4<<20 {
			// A few bytes of gzip or zstd expand to gigabytes, which Open
			// spools to a temporary file: slow, not wrong.
			t.Skip()
		}
		name := filepath.Join(t.TempDir(), "archive")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a, err := dockerarchive.Open(name)
		runtime.ReadMemStats(&after)
		// What Open may hold: the JSON documents, bounded by the limits,
		// and the headers of the members, bounded by the file's size. The
		// zstd decoder reserves the window a frame declares (up to 512
		// MiB), memory that is touched only as data arrives: not counted.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20+200*uint64(len(data)) && !bytes.HasPrefix(data, zstdMagic) {
			t.Errorf("Open allocated %d bytes for %d bytes of input", alloc, len(data))
		}
		if err != nil {
			oneLine(t, err)
			if a != nil {
				t.Error("an archive with an error")
			}
			return
		}
		defer a.Close()
		if len(a.Images) == 0 {
			t.Error("an archive without images")
		}
		for _, im := range a.Images {
			if im.ConfigDigest != digest.FromBytes(im.Config) {
				t.Errorf("config digest %s is not the config's", im.ConfigDigest)
			}
			for _, l := range im.Layers {
				if l.Size() < 0 {
					t.Errorf("layer %s: size %d", l.Name, l.Size())
				}
				if err := l.Verify(); err != nil {
					oneLine(t, err)
				}
			}
		}
		for i := range a.Images {
			for _, l := range a.Model(&a.Images[i]).Layers {
				if err := l.Stream(io.Discard); err != nil {
					oneLine(t, err)
				}
			}
		}
	})
}

// expandedSize is the size of data decompressed, counted up to a little
// over 4 MiB.
func expandedSize(data []byte) int64 {
	r, _, err := compress.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0
	}
	defer r.Close()
	n, _ := io.Copy(io.Discard, io.LimitReader(r, 4<<20+1))
	return n
}

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

func oneLine(t *testing.T, err error) {
	t.Helper()
	if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error %q is not one line", msg)
	}
}

// fuzzSeeds are small archives, valid and not.
func fuzzSeeds(f *testing.F) [][]byte {
	layer := tarOf(f, entry{name: "hello", data: "hello"})
	diffID := digest.FromBytes(layer)
	layer2 := tarOf(f, entry{name: "bin/", typ: tar.TypeDir}, entry{name: "bin/sh", typ: tar.TypeSymlink, link: "/x"})
	diffID2 := digest.FromBytes(layer2)
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q,%q]}}`, diffID, diffID2))
	cfgName := digest.FromBytes(cfg).Encoded() + ".json"
	manifest := fmt.Sprintf(`[{"Config":%q,"RepoTags":["a:1"],"Layers":["l1/layer.tar","l2/layer.tar"]}]`, cfgName)

	// The toolkit's writer, two images sharing a layer.
	var w bytes.Buffer
	aw := dockerarchive.NewWriter(&w, dockerarchive.Native, 1)
	l1, l2 := memLayer(layer), memLayer(layer2)
	cfgB := []byte(fmt.Sprintf(`{"rootfs":{"type":"layers","diff_ids":[%q]}}`, diffID))
	if err := aw.Add(&image.Image{Config: cfg, Names: []string{"a:1"}, Layers: []image.Layer{l1, l2}}); err != nil {
		f.Fatal(err)
	}
	if err := aw.Add(&image.Image{Config: cfgB, Names: []string{"b:1", "b:latest"}, Layers: []image.Layer{l1}}); err != nil {
		f.Fatal(err)
	}
	if err := aw.Close(); err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{w.Bytes(), compressed(f, w.Bytes(), compress.Gzip), compressed(f, w.Bytes(), compress.Zstd)}

	reg := func(name, data string) entry { return entry{name: name, data: data} }
	for _, es := range [][]entry{
		// Hand-made, valid.
		{reg("l1/layer.tar", string(layer)), reg("l2/layer.tar", string(layer2)), reg(cfgName, string(cfg)), reg("manifest.json", manifest)},
		// A symlinked layer, as docker save before 25 writes.
		{reg("l1/layer.tar", string(layer)), {name: "l2/layer.tar", typ: tar.TypeSymlink, link: "../l1/layer.tar"}, reg(cfgName, string(cfg)),
			reg("manifest.json", fmt.Sprintf(`[{"Config":%q,"Layers":["l1/layer.tar","l2/layer.tar"]}]`, cfgName))},
		// Hostile.
		{reg("/abs", "x"), reg("manifest.json", manifest)},
		{reg("../up", "x"), reg("manifest.json", manifest)},
		{{name: "manifest.json", typ: tar.TypeSymlink, link: "/etc/passwd"}},
		{{name: "l1/layer.tar", typ: tar.TypeLink, link: "../../etc/passwd"}, reg(cfgName, string(cfg)), reg("manifest.json", manifest)},
		{reg(cfgName, string(cfg)), reg("manifest.json", manifest)},
		{reg("l1/layer.tar", "not the layer"), reg("l2/layer.tar", string(layer2)), reg(cfgName, string(cfg)), reg("manifest.json", manifest)},
		{reg("manifest.json", strings.Repeat("[", 100)+strings.Repeat("]", 100))},
		{reg("manifest.json", `[{"Config":"c","Layers":["x","x","x"]},{},{}]`), reg("c", `{"rootfs":{"diff_ids":["sha256:00"]}}`)},
		{reg("manifest.json", "[]")},
		{reg("manifest.json", "null")},
		{reg("manifest.json", manifest+"[]")},
	} {
		seeds = append(seeds, tarOf(f, es...))
	}
	seeds = append(seeds, nil, []byte("not a tar"), compressed(f, []byte("plain text"), compress.Gzip), w.Bytes()[:700])
	return seeds
}

type entry struct {
	name, data, link string
	typ              byte
}

func tarOf(f *testing.F, es ...entry) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range es {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644}
		if typ == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Fatal(err)
		}
		io.WriteString(tw, e.data)
	}
	if err := tw.Close(); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

func copyOf(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

func compressed(f *testing.F, data []byte, kind compress.Kind) []byte {
	var b bytes.Buffer
	zw, err := compress.NewWriter(&b, kind)
	if err != nil {
		f.Fatal(err)
	}
	zw.Write(data)
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}

// memLayer is a layer of bytes in memory.
func memLayer(b []byte) image.Layer {
	d := digest.FromBytes(b)
	gen := func(w io.Writer) error { _, err := w.Write(b); return err }
	return image.Layer{DiffID: d, Size: int64(len(b)), Source: image.Generated("test layer", gen, image.Want{Digest: d, Size: int64(len(b)), By: "its test"})}
}
