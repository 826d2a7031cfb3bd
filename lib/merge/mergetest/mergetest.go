// Package mergetest builds small image archives for the tests of
// merge-images and fake-nss: layers from files given in the test, a static
// program in a store path of its own, configs and archives written with
// the toolkit's own docker-archive writer. Only tests import it.
package mergetest

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/testutil"
	"github.com/opencontainers/go-digest"
)

// Layer is a layer tar in a file.
type Layer struct {
	File   string
	DiffID digest.Digest
	Size   int64
}

// RootLayer writes a layer holding files (name relative to the image
// root: contents), packed the way path-to-layer --root packs a directory.
func RootLayer(t testing.TB, files map[string]string) Layer {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return write(t, func(f *os.File) (layer.Result, error) { return layer.WriteRoot(f, dir, layer.Defaults()) })
}

// TarLayer takes an existing layer tar (fake-nss output, say).
func TarLayer(t testing.TB, file string) Layer {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := digest.SHA256.Digester()
	n, err := io.Copy(d.Hash(), f)
	if err != nil {
		t.Fatal(err)
	}
	return Layer{File: file, DiffID: d.Digest(), Size: n}
}

// StoreLayer writes the layer of store paths, as path-to-layer does.
func StoreLayer(t testing.TB, paths ...string) Layer {
	t.Helper()
	return write(t, func(f *os.File) (layer.Result, error) { return layer.WriteStorePaths(f, paths, layer.Defaults()) })
}

func write(t testing.TB, fn func(*os.File) (layer.Result, error)) Layer {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := fn(f)
	if err != nil {
		t.Fatal(err)
	}
	return Layer{File: f.Name(), DiffID: res.DiffID, Size: res.Size}
}

// helloSource prints who runs it, as the image's /etc/passwd says.
const helloSource = `package main

import (
	"fmt"
	"os"
	"os/user"
)

func main() {
	name := "?"
	if u, err := user.Current(); err == nil {
		name = u.Username + " home=" + u.HomeDir
	}
	fmt.Printf("hello uid=%d gid=%d user=%s\n", os.Getuid(), os.Getgid(), name)
}
`

// Hello builds a static program into a store path of its own
// (/nix/store/<hash>-dt-test-hello/bin/hello, removed when the test ends)
// and returns the store path. It prints "hello uid=N gid=N user=NAME
// home=DIR", the user as the image's /etc/passwd names it. It needs root
// (it writes under /nix/store) and Go.
func Hello(t testing.TB) string {
	t.Helper()
	testutil.NeedRoot(t)
	goBin := testutil.Need(t, "go")[0]
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello.go"), []byte(helloSource), 0o644); err != nil {
		t.Fatal(err)
	}
	store := "/nix/store/" + nixHash() + "-dt-test-hello"
	if err := os.MkdirAll(store+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(store) })
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", store+"/bin/hello", "hello.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
	return store
}

func copyFile(w io.Writer, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// nixHash is a random store path hash (32 characters of Nix's base32).
func nixHash() string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Image is one image of an archive to write.
type Image struct {
	Tags   []string
	Layers []Layer
	Cmd    []string // the program to run, if any
	// Created distinguishes images that have the same layers.
	Created string
}

// Config is the image's config blob.
func (im Image) Config() []byte {
	created := im.Created
	if created == "" {
		created = "1970-01-01T00:00:01Z"
	}
	cfg := imageconfig.Config{}
	if len(im.Cmd) > 0 {
		cfg.SetStrings("Cmd", im.Cmd)
	}
	arch, variant := imageconfig.DefaultArch()
	blob := imageconfig.Image{Created: created, Architecture: arch, Variant: variant, OS: "linux", Config: cfg.JSON(), RootFS: imageconfig.RootFS{Type: "layers"}}
	for _, l := range im.Layers {
		blob.RootFS.DiffIDs = append(blob.RootFS.DiffIDs, l.DiffID)
		blob.History = append(blob.History, imageconfig.History{Created: created, CreatedBy: "mergetest"})
	}
	return blob.JSON()
}

// ID is the image ID: the config's digest.
func (im Image) ID() digest.Digest { return digest.FromBytes(im.Config()) }

// Model is the layer in the lib/image model, read from its file as it
// is, unchecked: tests write archives whose layers lie.
func (l Layer) Model() image.Layer {
	return image.Layer{DiffID: l.DiffID, Size: l.Size, Source: rawFile(l.File)}
}

// rawFile writes a file's bytes, whatever they are.
type rawFile string

func (f rawFile) String() string           { return string(f) }
func (f rawFile) Stream(w io.Writer) error { return copyFile(w, string(f)) }

// Model is the image in the lib/image model.
func (im Image) Model() *image.Image {
	out := &image.Image{Config: im.Config(), Names: im.Tags}
	for _, l := range im.Layers {
		out.Layers = append(out.Layers, l.Model())
	}
	return out
}

// WriteArchive writes an archive holding images, compressed as asked, to
// file.
func WriteArchive(t testing.TB, file string, kind compress.Kind, images ...Image) {
	t.Helper()
	Write(t, file, imagefile.Options{Format: imagefile.DockerArchive, Compress: kind, Mtime: 1}, images...)
}

// Write writes images to file (a directory for an OCI layout) with the
// toolkit's writers.
func Write(t testing.TB, file string, o imagefile.Options, images ...Image) {
	t.Helper()
	out, err := imagefile.Create(file, o)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Abort()
	for _, im := range images {
		if err := out.Add(im.Model()); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Compressed writes a copy of the archive file compressed with kind, and
// returns its name (the original name plus .gz or .zst, or a copy for
// none).
func Compressed(t testing.TB, file string, kind compress.Kind) string {
	t.Helper()
	ext := map[compress.Kind]string{compress.None: ".copy", compress.Gzip: ".gz", compress.Zstd: ".zst"}[kind]
	out := strings.TrimSuffix(file, ".tar") + ext
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, err := compress.NewWriter(f, kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}
