package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/testutil"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociImage builds the app's closure as an OCI image with assemble-image
// (one layer per store path) in the given format and layer compression,
// and returns where it went.
func (e env) ociImage(t *testing.T, format, compression, name string, env ...string) string {
	t.Helper()
	var descs []string
	for i, p := range []string{e.data, e.app} {
		d := filepath.Join(e.dir, fmt.Sprintf("l%d.json", i))
		e.run(t, filepath.Join(e.bin, "path-to-layer"), "-q", "-o", filepath.Join(e.dir, fmt.Sprintf("l%d.tar", i)), "--descriptor", d, p)
		descs = append(descs, d)
	}
	out := filepath.Join(e.dir, name)
	args := append([]string{"-q", "--tag", "dt-e2e/oci:1", "--tag", "dt-e2e/oci:latest", "--config", e.appConfig(t, nil),
		"--format", format, "--layer-compression", compression, "-o", out}, descs...)
	cmd := exec.Command(filepath.Join(e.bin, "assemble-image"), args...)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("assemble-image %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// TestOCIWithSkopeoAndDocker: skopeo reads the layout and the archive,
// copies the archive into the Docker engine, and the image runs.
func TestOCIWithSkopeoAndDocker(t *testing.T) {
	e := setup(t)
	skopeo := testutil.Need(t, "skopeo")[0]
	layout := e.ociImage(t, "oci", "gzip", "layout")
	archive := e.ociImage(t, "oci-archive", "gzip", "app.oci.tar")
	for _, ref := range []string{"oci:" + layout + ":1", "oci:" + layout + ":latest", "oci-archive:" + archive + ":1"} {
		var in struct {
			Architecture string
			Layers       []string
		}
		if err := json.Unmarshal([]byte(testutil.Run(t, skopeo, "inspect", ref)), &in); err != nil {
			t.Fatal(err)
		}
		if len(in.Layers) != 2 || in.Architecture == "" {
			t.Errorf("skopeo inspect %s: %+v", ref, in)
		}
	}
	const ref = "dt-e2e/oci-skopeo:1"
	t.Cleanup(func() { exec.Command(e.docker, "rmi", "-f", ref).Run() })
	testutil.Run(t, skopeo, "copy", "--quiet", "oci-archive:"+archive+":1", "docker-daemon:"+ref)
	if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("docker run of the copied image printed %q", got)
	}
}

// TestOCIWithContainerd: ctr imports the oci-archive (gzip and zstd
// layers) under its full name and runs it.
func TestOCIWithContainerd(t *testing.T) {
	e := setup(t)
	ctr := testutil.Need(t, "ctr")[0]
	sock := "/var/run/docker/containerd/containerd.sock"
	if _, err := os.Stat(sock); err != nil {
		testutil.Missing(t, "containerd's socket %s is not there (docker's containerd)", sock)
	}
	for _, kind := range []string{"gzip", "zstd"} {
		archive := e.ociImage(t, "oci-archive", kind, "app-"+kind+".oci.tar")
		ns := "dockertools-e2e-" + kind
		c := func(args ...string) string {
			return testutil.Run(t, ctr, append([]string{"--address", sock, "--namespace", ns}, args...)...)
		}
		t.Cleanup(func() {
			exec.Command(ctr, "--address", sock, "--namespace", ns, "images", "rm", "docker.io/dt-e2e/oci:1", "docker.io/dt-e2e/oci:latest").Run()
		})
		out := c("images", "import", archive)
		if !strings.Contains(out, "docker.io/dt-e2e/oci:1") {
			t.Fatalf("ctr images import (%s): %q", kind, out)
		}
		got := c("run", "--rm", "docker.io/dt-e2e/oci:1", "dockertools-e2e-"+kind)
		if got != "hello from a nix store path\n" {
			t.Errorf("ctr run (%s layers) printed %q", kind, got)
		}
	}
}

// TestOCIWithUmoci: umoci unpacks the layout into the store paths' files,
// with their modes, contents and link targets. (Debian's umoci 0.4.7
// knows no zstd layers: gzip and plain ones.)
func TestOCIWithUmoci(t *testing.T) {
	e := setup(t)
	umoci := testutil.Need(t, "umoci")[0]
	for _, kind := range []string{"gzip", "none"} {
		layout := e.ociImage(t, "oci", kind, "layout-"+kind)
		bundle := filepath.Join(e.dir, "bundle-"+kind)
		testutil.Run(t, umoci, "unpack", "--rootless", "--image", layout+":1", bundle)
		for _, p := range []string{e.app, e.data} {
			want, got := tree(t, p), tree(t, filepath.Join(bundle, "rootfs", p))
			if want != got {
				t.Errorf("%s layers: %s unpacked:\n%s\nthe store holds:\n%s", kind, p, got, want)
			}
		}
	}
}

// tree lists a directory's entries: name, mode, and a file's sha256 or a
// symlink's target.
func tree(t *testing.T, root string) string {
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", target)
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			s := sha256.Sum256(data)
			fmt.Fprintf(&b, " %s", hex.EncodeToString(s[:8]))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestOCIBlobs: with gzip and zstd layers every blob's sha256 is its
// name, each layer blob decompresses to the config's diffID, and builds
// under GOMAXPROCS 1 and 4 give the same trees.
func TestOCIBlobs(t *testing.T) {
	e := setup(t)
	for _, kind := range []string{"none", "gzip", "zstd"} {
		one := e.ociImage(t, "oci", kind, "one-"+kind, "GOMAXPROCS=1")
		four := e.ociImage(t, "oci", kind, "four-"+kind, "GOMAXPROCS=4")
		if a, b := tree(t, one), tree(t, four); a != b {
			t.Errorf("%s: GOMAXPROCS=1 and 4 give other layouts:\n%s\n%s", kind, a, b)
		}
		blobs := filepath.Join(one, "blobs", "sha256")
		es, err := os.ReadDir(blobs)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range es {
			data, _ := os.ReadFile(filepath.Join(blobs, en.Name()))
			if s := sha256.Sum256(data); hex.EncodeToString(s[:]) != en.Name() {
				t.Errorf("%s: blob %s holds bytes of sha256 %x", kind, en.Name(), s)
			}
		}
		var idx v1.Index
		readJSON(t, filepath.Join(one, "index.json"), &idx)
		var m v1.Manifest
		readJSON(t, filepath.Join(blobs, idx.Manifests[0].Digest.Encoded()), &m)
		var cfg struct {
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		readJSON(t, filepath.Join(blobs, m.Config.Digest.Encoded()), &cfg)
		for i, l := range m.Layers {
			if want := map[string]string{"none": v1.MediaTypeImageLayer, "gzip": v1.MediaTypeImageLayerGzip, "zstd": v1.MediaTypeImageLayerZstd}[kind]; l.MediaType != want {
				t.Errorf("%s: layer %d media type %s", kind, i, l.MediaType)
			}
			f, err := os.Open(filepath.Join(blobs, l.Digest.Encoded()))
			if err != nil {
				t.Fatal(err)
			}
			zr, _, err := compress.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			io.Copy(h, zr)
			zr.Close()
			f.Close()
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != cfg.RootFS.DiffIDs[i] {
				t.Errorf("%s: layer %d decompresses to %s, the config says %s", kind, i, got, cfg.RootFS.DiffIDs[i])
			}
		}
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
