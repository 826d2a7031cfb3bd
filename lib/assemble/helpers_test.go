package assemble_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pytar"
)

// testStore builds a small store in a temporary directory (no root
// needed): two store paths with a program, a directory tree, a symlink, a
// hard link, a long and a non-ASCII name, and a store path that is a
// symlink. It returns the store directory and the paths.
func testStore(t *testing.T) (string, []string) {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	app := filepath.Join(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0")
	lib := filepath.Join(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.0")
	link := filepath.Join(store, "cccccccccccccccccccccccccccccccc-link")
	file := func(p string, data string, mode uint32) {
		t.Helper()
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, []byte(data), 0o644))
		must(t, syscall.Chmod(p, mode))
	}
	file(app+"/bin/app", "#!/bin/sh\necho app\n", 0o555)
	file(app+"/share/doc/"+strings.Repeat("long", 30), "long name\n", 0o444)
	file(app+"/share/ünï", "non-ASCII name\n", 0o444)
	file(lib+"/lib/libx.so", strings.Repeat("\x7fELF library bytes ", 1000), 0o444)
	must(t, os.Link(lib+"/lib/libx.so", lib+"/lib/libx.so.2"))
	must(t, os.Symlink("libx.so", lib+"/lib/libx.so.1"))
	must(t, os.Symlink(app, link))
	return store, []string{app, lib, link}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// storeLayer writes the layer of paths to dir/name and returns its
// descriptor, as path-to-layer would print it.
func storeLayer(t *testing.T, dir, name, storeDir string, paths []string) layer.Descriptor {
	t.Helper()
	o := layer.Defaults()
	o.StoreDir = storeDir
	return writeLayer(t, filepath.Join(dir, name), func(w io.Writer) (layer.Result, error) {
		return layer.WriteStorePaths(w, paths, o)
	}, paths)
}

// rootLayer writes the layer of a root directory (a customisation layer).
func rootLayer(t *testing.T, dir, name, root string) layer.Descriptor {
	t.Helper()
	d := writeLayer(t, filepath.Join(dir, name), func(w io.Writer) (layer.Result, error) {
		return layer.WriteRoot(w, root, layer.Defaults())
	}, nil)
	d.Root = root
	return d
}

func writeLayer(t *testing.T, file string, write func(io.Writer) (layer.Result, error), paths []string) layer.Descriptor {
	t.Helper()
	f, err := os.Create(file)
	must(t, err)
	res, err := write(f)
	must(t, err)
	must(t, f.Close())
	return layer.Descriptor{File: file, DiffID: res.DiffID, Size: res.Size, Paths: paths}
}

// writeNative builds spec and writes its docker-archive to w, compressed
// whole as kind says (none when not given): what assemble-image does.
func writeNative(w io.Writer, spec assemble.NativeSpec, kind ...compress.Kind) (assemble.Result, error) {
	b, err := assemble.Native(spec)
	if err != nil {
		return assemble.Result{}, err
	}
	defer b.Close()
	err = b.WriteArchive(w, append(kind, compress.None)[0])
	return b.Result, err
}

// writeNixpkgs builds the conf's image and writes its docker-archive to w.
func writeNixpkgs(w io.Writer, conf string, opts assemble.NixpkgsOptions, kind ...compress.Kind) (assemble.Result, error) {
	b, err := assemble.Nixpkgs(conf, opts)
	if err != nil {
		return assemble.Result{}, err
	}
	defer b.Close()
	err = b.WriteArchive(w, append(kind, compress.None)[0])
	return b.Result, err // complete once written
}

// native builds spec into memory.
func native(t *testing.T, spec assemble.NativeSpec, kind ...compress.Kind) ([]byte, assemble.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := writeNative(&buf, spec, kind...)
	if err != nil {
		t.Fatalf("Native: %v", err)
	}
	return buf.Bytes(), res
}

// openArchive writes b to a temporary file and opens it with the
// docker-archive reader.
func openArchive(t *testing.T, b []byte) *dockerarchive.Archive {
	t.Helper()
	p := writeTemp(t, "image.tar", b)
	ar, err := dockerarchive.Open(p)
	if err != nil {
		t.Fatalf("reading the archive back: %v", err)
	}
	t.Cleanup(func() { ar.Close() })
	return ar
}

func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	must(t, os.WriteFile(p, b, 0o644))
	return p
}

// member is one member of an archive: its header and bytes.
type member struct {
	hdr  *tar.Header
	data []byte
}

// members lists an (uncompressed, or compressed by content) archive's
// members in order.
func members(t *testing.T, b []byte) []member {
	t.Helper()
	r, _, err := compress.NewReader(bytes.NewReader(b))
	must(t, err)
	defer r.Close()
	tr := tar.NewReader(r)
	var ms []member
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return ms
		}
		must(t, err)
		data, err := io.ReadAll(tr)
		must(t, err)
		ms = append(ms, member{h, data})
	}
}

func names(ms []member) []string {
	var ns []string
	for _, m := range ms {
		ns = append(ns, m.hdr.Name)
	}
	return ns
}

func memberData(t *testing.T, ms []member, name string) []byte {
	t.Helper()
	for _, m := range ms {
		if m.hdr.Name == name {
			return m.data
		}
	}
	t.Fatalf("no member %s among %q", name, names(ms))
	return nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// imageJSON is the part of an image config the tests look at.
type imageJSON struct {
	Created      string         `json:"created"`
	Architecture string         `json:"architecture"`
	Variant      string         `json:"variant"`
	OS           string         `json:"os"`
	Config       map[string]any `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []struct {
		Created    string `json:"created"`
		CreatedBy  string `json:"created_by"`
		Comment    string `json:"comment"`
		EmptyLayer bool   `json:"empty_layer"`
	} `json:"history"`
}

func parseImage(t *testing.T, blob []byte) imageJSON {
	t.Helper()
	var im imageJSON
	if err := json.Unmarshal(blob, &im); err != nil {
		t.Fatalf("image config: %v\n%s", err, blob)
	}
	return im
}

// customisationDir makes a directory as nixpkgs' customisation layer
// derivation does: layer.tar (here the layer of root) and checksum.
func customisationDir(t *testing.T, root string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dddddddddddddddddddddddddddddddd-customisation-layer")
	must(t, os.MkdirAll(dir, 0o755))
	f, err := os.Create(filepath.Join(dir, "layer.tar"))
	must(t, err)
	h := sha256.New()
	_, err = layer.WriteRoot(io.MultiWriter(f, h), root, layer.Defaults())
	must(t, err)
	must(t, f.Close())
	must(t, os.Chmod(f.Name(), 0o444))
	must(t, os.WriteFile(filepath.Join(dir, "checksum"), []byte(hex.EncodeToString(h.Sum(nil))), 0o444))
	return dir
}

// rootDir makes an image root with /etc/passwd and an empty /work.
func rootDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must(t, os.MkdirAll(root+"/etc", 0o755))
	must(t, os.MkdirAll(root+"/work", 0o755))
	must(t, os.WriteFile(root+"/etc/passwd", []byte("root:x:0:0::/root:/bin/sh\nuser:x:1000:1000::/work:/bin/sh\n"), 0o644))
	return root
}

// tarOf writes members with Go's archive/tar (as docker save does).
func tarOf(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := f.hdr
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(f.data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		must(t, tw.WriteHeader(&h))
		_, err := tw.Write(f.data)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

type tarFile struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) tarFile {
	return tarFile{hdr: tar.Header{Name: name}, data: data}
}

// pyTarOf writes members the way Python's tarfile does (nixpkgs' format).
func pyTarOf(t *testing.T, files ...tarFile) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := pytar.NewWriter(&buf)
	for _, f := range files {
		must(t, tw.WriteHeader(&pytar.Header{Name: f.hdr.Name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: pytar.TypeReg}))
		_, err := tw.Write(f.data)
		must(t, err)
	}
	must(t, tw.Close())
	return buf.Bytes()
}

func tarHeader(name string, typ byte) tar.Header {
	return tar.Header{Name: name, Typeflag: typ, Mode: 0o755}
}

// writeConf writes a stream_layered_image.py conf.json: nixpkgs' defaults
// (no store layers, an empty config) with the given keys replaced.
func writeConf(t *testing.T, keys map[string]any) string {
	t.Helper()
	conf := map[string]any{
		"architecture": "amd64", "os": "linux", "store_dir": "/nix/store", "from_image": nil,
		"uid": "0", "gid": "0", "uname": "root", "gname": "root", "repo_tag": "app:1",
		"created": "1970-01-01T00:00:01+00:00", "mtime": "1970-01-01T00:00:01+00:00",
		"config": map[string]any{}, "store_layers": [][]string{},
	}
	for k, v := range keys {
		conf[k] = v
	}
	b, err := json.MarshalIndent(conf, "", " ")
	must(t, err)
	return writeTemp(t, "conf.json", b)
}
