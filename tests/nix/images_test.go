package nix

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// appImage is the expression of the examples/hello image each function
// builds: the program's store path among the contents (so /bin/hello is a
// link into it), fake NSS files, a world-writable /tmp.
const appImage = `
  common = {
    contents = [ app dt.fakeNss ];
    config = { Entrypoint = [ "/bin/hello" ]; Cmd = [ "greet" ]; Env = [ "A=1" ]; };
    extraCommands = "mkdir -m 1777 tmp";
  };
`

// TestStreamLayeredImage: the stream of the example closure, piped into
// docker load, runs; its tag is the content-derived one the result
// carries; each store path has a layer whose diffID is path-to-layer's.
func TestStreamLayeredImage(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	f := e.expr(t, "let"+appImage+`in {
  stream = dt.streamLayeredImage (common // { name = "dt-i-nix/stream"; });
  tag = (dt.streamLayeredImage (common // { name = "dt-i-nix/stream"; })).imageTag;
  data = builtins.readFile "${app}/share/data-path";
  inherit app;
}`)
	out, _ := e.build(t, f, "stream")
	var tag, data string
	e.eval(t, f, "tag", &tag)
	e.eval(t, f, "data", &data)
	data = strings.TrimSpace(data)
	if len(tag) != 32 {
		t.Fatalf("imageTag %q: want the 32 characters of a store hash", tag)
	}
	ref := "dt-i-nix/stream:" + tag
	if got := d.load(t, stream(t, out), ref); !strings.Contains(got, "Loaded image: "+ref) {
		t.Fatalf("docker load: %q, want %s", got, ref)
	}
	if got := d.run(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("docker run: %q", got)
	}
	if got := d.run(t, "-u", "nobody", ref, "id"); got != "uid=65534 gid=65534\n" {
		t.Errorf("fakeNss: -u nobody: %q", got)
	}
	if got := d.run(t, ref, "env", "A"); !strings.HasPrefix(got, "A=1\n") {
		t.Errorf("Env: %q", got)
	}
	if got := d.run(t, ref, "stat", "/tmp"); got != "/tmp 777\n" {
		t.Errorf("extraCommands' /tmp: %q", got)
	}
	// The store layers: data and app, with path-to-layer's diffIDs; the
	// customisation layer last.
	var app string
	e.eval(t, f, "app.outPath", &app)
	layers := d.layers(t, ref)
	want := []string{diffID(t, e, data), diffID(t, e, app)}
	if len(layers) < 3 || !contains(layers, want[0]) || !contains(layers, want[1]) {
		t.Errorf("layers %v: want one with %s (data) and one with %s (app)", layers, want[0], want[1])
	}
	// -t renames the image, as nixpkgs' stream does.
	d.load(t, stream(t, out, "-t", "dt-i-nix/renamed:1"), "dt-i-nix/renamed:1")
	if d.imageID(t, "dt-i-nix/renamed:1") != d.imageID(t, ref) {
		t.Error("-t NAME:TAG changed the image, not only its name")
	}
}

// diffID is path-to-layer's diffID of the layer of one store path.
func diffID(t *testing.T, e env, path string) string {
	t.Helper()
	var d struct{ DiffID string }
	out := testutil.Run(t, filepath.Join(e.toolkit, "bin", "path-to-layer"), "--digest-only", path)
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	return d.DiffID
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// TestBuildLayeredImage: the archive of each compressor, named as nixpkgs
// names it, loads and runs; it is the stream's image.
func TestBuildLayeredImage(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "zstd")
	f := e.expr(t, "let"+appImage+`in {
  none = dt.buildLayeredImage (common // { name = "dt-i-nix/archive"; tag = "none"; compressor = "none"; });
  gz = dt.buildLayeredImage (common // { name = "dt-i-nix/archive"; tag = "gz"; });
  zstd = dt.buildLayeredImage (common // { name = "dt-i-nix/archive"; tag = "zstd"; compressor = "zstd"; });
  stream = dt.streamLayeredImage (common // { name = "dt-i-nix/archive"; tag = "stream"; });
}`)
	d.load(t, stream(t, mustBuild(t, e, f, "stream")), "dt-i-nix/archive:stream")
	want := d.imageID(t, "dt-i-nix/archive:stream")
	for _, c := range []struct{ attr, suffix string }{{"none", ".tar"}, {"gz", ".tar.gz"}, {"zstd", ".tar.zst"}} {
		out := mustBuild(t, e, f, c.attr)
		if !strings.HasSuffix(out, "-archive"+c.suffix) {
			t.Errorf("compressor %s: output %s, want a name ending in archive%s", c.attr, out, c.suffix)
		}
		ref := "dt-i-nix/archive:" + c.attr
		d.loadFile(t, out, ref)
		if got := d.run(t, ref); got != "hello from a nix store path\n" {
			t.Errorf("%s: docker run: %q", c.attr, got)
		}
		if id := d.imageID(t, ref); id != want {
			t.Errorf("%s: image %s, the stream's is %s", c.attr, id, want)
		}
	}
}

func mustBuild(t *testing.T, e env, f, attr string) string {
	t.Helper()
	out, _ := e.build(t, f, attr)
	return out
}

// TestBuildImageOnFromImage: buildImage on a base built by
// buildLayeredImage runs; its one layer holds none of the base's store
// paths; copyToRoot's files are copies at the image root.
func TestBuildImageOnFromImage(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "zstd")
	f := e.expr(t, `rec {
  base = dt.buildLayeredImage { name = "dt-i-nix/base"; tag = "1"; contents = [ dt.fakeNss ]; compressor = "zstd"; };
  image = dt.buildImage {
    name = "dt-i-nix/on-base"; tag = "1"; fromImage = base;
    copyToRoot = [ app dt.fakeNss ];
    config = { Entrypoint = [ "/bin/hello" ]; Cmd = [ "greet" ]; };
    extraCommands = "mkdir -m 1777 tmp";
  };
  fakeNss = dt.fakeNss;
}`)
	out := mustBuild(t, e, f, "image")
	if !strings.HasSuffix(out, "-on-base.tar.gz") {
		t.Errorf("output %s: want on-base.tar.gz", out)
	}
	d.loadFile(t, out, "dt-i-nix/on-base:1")
	if got := d.run(t, "dt-i-nix/on-base:1"); got != "hello from a nix store path\n" {
		t.Errorf("docker run: %q", got)
	}
	if got := d.run(t, "-u", "nobody", "dt-i-nix/on-base:1", "id"); got != "uid=65534 gid=65534\n" {
		t.Errorf("-u nobody: %q", got)
	}
	if got := d.run(t, "dt-i-nix/on-base:1", "stat", "/bin/hello", "/tmp"); got != "/bin/hello 555\n/tmp 777\n" {
		t.Errorf("copyToRoot's /bin/hello (a copy, mode kept) and extraCommands' /tmp: %q", got)
	}
	list := testutil.Run(t, filepath.Join(e.toolkit, "bin", "merge-images"), "--list", "--store-paths", out)
	var im struct {
		Layers     int
		StorePaths []string
	}
	if err := json.Unmarshal([]byte(list), &im); err != nil {
		t.Fatal(err)
	}
	base := mustBuild(t, e, f, "base")
	baseList := testutil.Run(t, filepath.Join(e.toolkit, "bin", "merge-images"), "--list", base)
	var b struct{ Layers int }
	json.Unmarshal([]byte(baseList), &b)
	if im.Layers != b.Layers+1 {
		t.Errorf("%d layers on a base of %d: want one more", im.Layers, b.Layers)
	}
	fakeNss := mustBuild(t, e, f, "fakeNss")
	n := 0
	for _, p := range im.StorePaths {
		if p == fakeNss {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the fake NSS store path is %d times in the image's layers, want once (in the base's): %v", n, im.StorePaths)
	}
}

// TestMergeImages: mergeImages of an archive and a stream loads both.
func TestMergeImages(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	f := e.expr(t, "let"+appImage+`in {
  merged = dt.mergeImages [
    (dt.buildLayeredImage (common // { name = "dt-i-nix/merged-a"; tag = "1"; }))
    (dt.streamLayeredImage (common // { name = "dt-i-nix/merged-b"; tag = "1"; config = common.config // { Cmd = [ "id" ]; }; }))
  ];
}`)
	out := mustBuild(t, e, f, "merged")
	got := d.loadFile(t, out, "dt-i-nix/merged-a:1", "dt-i-nix/merged-b:1")
	for _, ref := range []string{"dt-i-nix/merged-a:1", "dt-i-nix/merged-b:1"} {
		if !strings.Contains(got, "Loaded image: "+ref) {
			t.Errorf("docker load: %q, want %s", got, ref)
		}
	}
	if got := d.run(t, "dt-i-nix/merged-a:1"); got != "hello from a nix store path\n" {
		t.Errorf("merged-a: %q", got)
	}
	if got := d.run(t, "dt-i-nix/merged-b:1"); got != "uid=0 gid=0\n" {
		t.Errorf("merged-b: %q", got)
	}
}

// TestExportImage: the root file system of an image built by buildImage.
func TestExportImage(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "tar")
	f := e.expr(t, `{
  exported = dt.exportImage {
    fromImage = dt.streamLayeredImage { name = "dt-i-nix/export"; contents = [ app ]; };
    name = "export.tar";
  };
  inherit app;
}`)
	out := mustBuild(t, e, f, "exported")
	if !strings.HasSuffix(out, "-export.tar") {
		t.Errorf("output %s: want the name given", out)
	}
	var app string
	e.eval(t, f, "app.outPath", &app)
	list := testutil.Run(t, "tar", "-tvf", out)
	if !strings.Contains(list, "bin/hello -> "+app+"/bin/hello") {
		t.Errorf("the exported root has no /bin/hello link to %s/bin/hello:\n%s", app, list)
	}
	if !strings.Contains(list, "-dt-e2e-data/greeting") {
		t.Errorf("the exported root lacks the data path:\n%s", list)
	}
}

// TestCopyHelpers: copyToDockerDaemon loads the image, copyToOCI writes
// a layout that holds it, copyToRegistry pushes it.
func TestCopyHelpers(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	f := e.expr(t, "let"+appImage+`in rec {
  stream = dt.streamLayeredImage (common // { name = "dt-i-nix/helpers"; tag = "stream"; });
  archive = dt.buildLayeredImage (common // { name = "dt-i-nix/helpers"; tag = "archive"; });
  daemon = stream.copyToDockerDaemon;
  oci = stream.copyToOCI;
  registry = stream.copyToRegistry;
  archiveDaemon = archive.copyToDockerDaemon;
  archiveOCI = archive.copyToOCI;
}`)
	for _, c := range []struct{ attr, ref string }{{"daemon", "dt-i-nix/helpers:stream"}, {"archiveDaemon", "dt-i-nix/helpers:archive"}} {
		bin := filepath.Join(mustBuild(t, e, f, c.attr), "bin", "copy-to-docker-daemon")
		t.Cleanup(func() { exec.Command(d.cli, "rmi", "-f", c.ref).Run() })
		testutil.Run(t, bin)
		if got := d.run(t, c.ref); got != "hello from a nix store path\n" {
			t.Errorf("%s: docker run: %q", c.attr, got)
		}
	}
	for _, attr := range []string{"oci", "archiveOCI"} {
		layout := filepath.Join(e.dir, attr)
		testutil.Run(t, filepath.Join(mustBuild(t, e, f, attr), "bin", "copy-to-oci"), layout)
		idx, err := os.ReadFile(filepath.Join(layout, "index.json"))
		if err != nil || !strings.Contains(string(idx), "dt-i-nix/helpers") {
			t.Errorf("%s: index.json %s (%v): want the image named", attr, idx, err)
		}
		list := testutil.Run(t, filepath.Join(e.toolkit, "bin", "merge-images"), "--list", layout)
		if !strings.Contains(list, `"layers":`) {
			t.Errorf("%s: merge-images --list of the layout: %s", attr, list)
		}
	}
	testutil.Need(t, "skopeo")
	addr := registry(t)
	push := filepath.Join(mustBuild(t, e, f, "registry"), "bin", "copy-to-registry")
	digest := strings.TrimSpace(testutil.Run(t, push, "--tls-verify=false", addr+"/dt-i-nix/helpers:1"))
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("copy-to-registry printed %q, want a digest", digest)
	}
	testutil.Run(t, "skopeo", "inspect", "--tls-verify=false", "docker://"+addr+"/dt-i-nix/helpers@"+digest)
}

// TestBuildLayerCopyToRoot: an explicit layer of copyToRoot (the app's
// files at the image root, its closure less itself in the store), on a
// stream as buildImage's base, runs.
func TestBuildLayerCopyToRoot(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	f := e.expr(t, `rec {
  rooted = dt.buildLayer { copyToRoot = [ app ]; };
  layered = dt.streamLayeredImage {
    name = "dt-i-nix/rooted"; tag = "1"; layers = [ rooted ];
    config = { Entrypoint = [ "/bin/hello" ]; Cmd = [ "greet" ]; };
  };
  onStream = dt.buildImage {
    name = "dt-i-nix/rooted"; tag = "2"; fromImage = dt.streamLayeredImage { name = "dt-i-nix/nss"; contents = [ dt.fakeNss ]; };
    copyToRoot = [ app ]; config = { Entrypoint = [ "/bin/hello" ]; Cmd = [ "id" ]; User = "nobody"; };
  };
  inherit app;
}`)
	var app string
	e.eval(t, f, "app.outPath", &app)
	desc := readDescriptors(t, mustBuild(t, e, f, "rooted"))
	if len(desc) != 1 || len(desc[0].Paths) != 1 || !strings.HasSuffix(desc[0].Paths[0], "-dt-e2e-data") {
		t.Errorf("buildLayer { copyToRoot = [ app ]; }: %+v, want the data path alone in the store", desc)
	}
	d.load(t, stream(t, mustBuild(t, e, f, "layered")), "dt-i-nix/rooted:1")
	if got := d.run(t, "dt-i-nix/rooted:1"); got != "hello from a nix store path\n" {
		t.Errorf("copyToRoot layer: %q", got)
	}
	if got := d.run(t, "dt-i-nix/rooted:1", "stat", "/bin/hello"); got != "/bin/hello 555\n" {
		t.Errorf("copyToRoot layer: /bin/hello %q, want a file of mode 555", got)
	}
	if out, err := exec.Command(d.cli, "run", "--rm", "--network=none", "dt-i-nix/rooted:1", "stat", app).CombinedOutput(); err == nil {
		t.Errorf("copyToRoot layer: %s is in the image (%s); its files are at the root instead", app, out)
	}
	d.loadFile(t, mustBuild(t, e, f, "onStream"), "dt-i-nix/rooted:2")
	if got := d.run(t, "dt-i-nix/rooted:2"); got != "uid=65534 gid=65534\n" {
		t.Errorf("buildImage on a stream: %q", got)
	}
}

// TestFakeNss: fakeNss is nixpkgs' (root and nobody), and
// fakeNss.override adds lines, as nixpkgs' does.
func TestFakeNss(t *testing.T) {
	e := setup(t)
	f := e.expr(t, `{
  plain = dt.fakeNss;
  extra = dt.fakeNss.override {
    extraPasswdLines = [ "app:x:1000:1000:App:/home/app:/bin/sh" ];
    extraGroupLines = [ "app:x:1000:" ];
  };
  twice = (dt.fakeNss.override { extraGroupLines = [ "a:x:1:" ]; }).override (old: { extraGroupLines = old.extraGroupLines ++ [ "b:x:2:" ]; });
}`)
	read := func(attr, file string) string {
		return string(readFile(t, filepath.Join(mustBuild(t, e, f, attr), file)))
	}
	if got := read("plain", "etc/passwd"); got != "root:x:0:0:root user:/var/empty:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n" {
		t.Errorf("fakeNss /etc/passwd: %q", got)
	}
	if got := read("extra", "etc/passwd"); !strings.Contains(got, "\napp:x:1000:1000:App:/home/app:/bin/sh\n") || !strings.HasPrefix(got, "root:") {
		t.Errorf("fakeNss.override /etc/passwd: %q", got)
	}
	if got := read("extra", "etc/group"); !strings.Contains(got, "\napp:x:1000:\n") {
		t.Errorf("fakeNss.override /etc/group: %q", got)
	}
	if got := read("twice", "etc/group"); !strings.Contains(got, "\na:x:1:\nb:x:2:\n") {
		t.Errorf("fakeNss.override twice, the second a function: /etc/group %q", got)
	}
	if fi, err := os.Stat(filepath.Join(mustBuild(t, e, f, "plain"), "var", "empty")); err != nil || !fi.IsDir() {
		t.Errorf("fakeNss /var/empty: %v", err)
	}
}
