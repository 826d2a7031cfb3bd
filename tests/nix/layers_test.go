package nix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// conf is the description streams carry as passthru.conf.
type conf struct {
	RepoTag            string   `json:"repo_tag"`
	Created            string   `json:"created"`
	Architecture       string   `json:"architecture"`
	Config             string   `json:"config"`
	Layers             []string `json:"layers"`
	CustomisationLayer string   `json:"customisation_layer"`
	MaxLayers          int      `json:"max_layers"`
}

// descriptor is what path-to-layer prints.
type descriptor struct {
	File   string   `json:"file"`
	DiffID string   `json:"diffID"`
	Paths  []string `json:"paths"`
	Mtime  int64    `json:"mtime"`
	UID    int64    `json:"uid"`
	GID    int64    `json:"gid"`
	Uname  string   `json:"uname"`
	Gname  string   `json:"gname"`
	// Perms are the permission rules (nix2container's perms) the layer
	// was written with.
	Perms []json.RawMessage `json:"perms"`
}

func readDescriptors(t *testing.T, name string) []descriptor {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds []descriptor
	dec := json.NewDecoder(f)
	for {
		var d descriptor
		if err := dec.Decode(&d); err == io.EOF {
			return ds
		} else if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ds = append(ds, d)
	}
}

// TestStreamBytes: the stream writes the bytes assemble-image writes from
// layer files that path-to-layer makes of the same store paths with the
// same options; one layer derivation each (layerDerivations) gives the same
// image; buildLayeredImage's archive is the stream's bytes; a second run
// and a second build (nix-build --check) give the same bytes.
func TestStreamBytes(t *testing.T) {
	e := setup(t)
	f := e.expr(t, "let"+appImage+`in rec {
  stream = dt.streamLayeredImage (common // { name = "dt-i-nix/bytes"; });
  ifd = dt.streamLayeredImage (common // { name = "dt-i-nix/bytes"; layerDerivations = true; });
  archive = dt.buildLayeredImage (common // { name = "dt-i-nix/bytes"; compressor = "none"; });
  conf = stream.conf;
  custom = stream.customisationLayer;
  firstLayer = builtins.head ifd.layers;
}`)
	out := mustBuild(t, e, f, "stream")
	got := stream(t, out)
	var c conf
	if err := json.Unmarshal(readFile(t, mustBuild(t, e, f, "conf")), &c); err != nil {
		t.Fatal(err)
	}

	// The same image from layer files.
	bin := filepath.Join(e.toolkit, "bin")
	var files []string
	for _, l := range c.Layers {
		for _, d := range readDescriptors(t, l) {
			tar := filepath.Join(e.dir, fmt.Sprintf("%d.tar", len(files)))
			args := []string{"--quiet", "-o", tar, "--mtime", fmt.Sprint(d.Mtime), "--uid", fmt.Sprint(d.UID),
				"--gid", fmt.Sprint(d.GID), "--uname", d.Uname, "--gname", d.Gname, "--"}
			desc := testutil.Run(t, filepath.Join(bin, "path-to-layer"), append(args, d.Paths...)...)
			name := filepath.Join(e.dir, fmt.Sprintf("%d.json", len(files)))
			if err := os.WriteFile(name, []byte(desc), 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, name)
		}
	}
	if len(files) != 3 {
		t.Errorf("%d store layers, want 3 (data, app, fake NSS)", len(files))
	}
	want := filepath.Join(e.dir, "want.tar")
	testutil.Run(t, filepath.Join(bin, "assemble-image"), append([]string{"--quiet", "--tag", c.RepoTag,
		"--config", c.Config, "--created", c.Created, "--arch", c.Architecture,
		"--max-layers", fmt.Sprint(c.MaxLayers), "-o", want}, append(files, c.CustomisationLayer)...)...)
	if sha(got) != fileSHA(t, want) {
		t.Errorf("the stream's bytes (sha256 %s) are not assemble-image's over layer files (%s)", sha(got), fileSHA(t, want))
	}
	if again := stream(t, out); !bytes.Equal(again, got) {
		t.Error("the stream wrote other bytes the second time")
	}
	if archive := readFile(t, mustBuild(t, e, f, "archive")); !bytes.Equal(archive, got) {
		t.Error("buildLayeredImage's archive is not the stream's bytes")
	}
	ifd := stream(t, mustBuild(t, e, f, "ifd"), "-t", c.RepoTag)
	if !bytes.Equal(ifd, got) {
		t.Error("with a derivation per layer, the image differs")
	}
	// A second build of each derivation that writes bytes gives the same.
	for _, attr := range []string{"archive", "custom", "firstLayer"} {
		if _, stderr, ok := nix(t, "nix-build", append(e.args(), f, "-A", attr, "--check", "--no-out-link")...); !ok {
			t.Errorf("nix-build --check -A %s: a second build differs:\n%s", attr, stderr)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRebuildOnlyChangedLayers: one store path of the closure changes
// (extra): a new build builds that path, the layer that holds it and the
// image's own derivations, and no layer of the paths that did not change
// (app, data), whether the layers are automatic with a derivation each
// (layerDerivations) or explicit (buildLayer). Counted from nix-build's
// "building" lines.
func TestRebuildOnlyChangedLayers(t *testing.T) {
	e := setup(t)
	f := e.expr(t, `{
  auto = dt.streamLayeredImage {
    name = "dt-i-nix/rebuild"; contents = [ t.app t.extraPath ];
    config.Cmd = [ "/bin/hello" "greet" ]; layerDerivations = true;
  };
  explicit = dt.streamLayeredImage {
    name = "dt-i-nix/rebuild-explicit"; contents = [ t.app t.extraPath ];
    layers = [ (dt.buildLayer { deps = [ t.app ]; }) ];
    config.Cmd = [ "/bin/hello" "greet" ];
  };
}`)
	cases := []struct {
		attr string
		want []string // built after extra changed
		kept []string // built the first time, not after the change
	}{
		{"auto",
			[]string{"dt-nix-extra", "layer-dt-nix-extra", "rebuild-conf.json", "rebuild-customisation-layer",
				"rebuild-layers-plan", "stream-rebuild"},
			[]string{"layer-dt-nix-app", "layer-dt-nix-data"}},
		{"explicit",
			[]string{"rebuild-explicit-conf.json", "rebuild-explicit-customisation-layer",
				"rebuild-explicit-layers", "stream-rebuild-explicit"},
			[]string{"layer-dt-nix-app"}},
	}
	for _, c := range cases {
		_, first := e.build(t, f, c.attr, "--argstr", "extra", "one")
		for _, k := range c.kept {
			if !contains(built(first), k) {
				t.Errorf("%s: the first build built %v, without %s", c.attr, built(first), k)
			}
		}
		out, second := e.build(t, f, c.attr, "--argstr", "extra", "two")
		got := built(second)
		if c.attr == "explicit" {
			// The changed path itself was built by the first case.
			got = without(got, "dt-nix-extra")
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%s: after extra changed, nix-build built\n  %v\nwant\n  %v", c.attr, got, c.want)
		}
		if len(stream(t, out)) == 0 {
			t.Errorf("%s: the rebuilt stream wrote nothing", c.attr)
		}
	}
}

func without(list []string, s string) []string {
	var out []string
	for _, l := range list {
		if l != s {
			out = append(out, l)
		}
	}
	return out
}

// TestGarbageCollection: once an image is built (its result link the only
// root), the garbage collector keeps everything its stream reads, and the
// stream writes the same bytes after the collection. A full nix-store --gc
// would also delete the conformance fixture the other tests share (its
// paths are not registered: nix-store --gc --print-dead lists them), so the
// test asks the collector what is dead (--print-dead) and deletes the
// dead ones among this image's paths (nix-store --delete, which refuses a
// live path as the collector keeps it) and a decoy, a path built without
// a root, which must go.
func TestGarbageCollection(t *testing.T) {
	e := setup(t)
	f := e.expr(t, `{
  plain = dt.streamLayeredImage { name = "dt-i-nix/gc"; contents = [ t.app ]; config.Cmd = [ "/bin/hello" "greet" ]; };
  ifd = dt.streamLayeredImage { name = "dt-i-nix/gc-ifd"; contents = [ t.app ]; config.Cmd = [ "/bin/hello" "greet" ]; layerDerivations = true; };
  decoy = t.extraPath;
  app = t.app;
  data = t.data;
}`)
	for _, attr := range []string{"plain", "ifd"} {
		out, _ := e.build(t, f, attr)
		before := stream(t, out)
		decoyOut, stderr, ok := nix(t, "nix-build", append(e.args("--argstr", "extra", "decoy-"+attr), f, "-A", "decoy", "--no-out-link")...)
		if !ok {
			t.Fatalf("building the decoy: %s", stderr)
		}
		decoy := strings.TrimSpace(decoyOut)

		// What the stream needs is in its closure.
		closure := lines(testutil.Run(t, "nix-store", "-qR", out))
		for _, need := range []string{"app.outPath", "data.outPath"} {
			var p string
			e.eval(t, f, need, &p)
			if !contains(closure, p) {
				t.Errorf("%s: %s (%s) is not in the stream's closure: a collection would delete it", attr, need, p)
			}
		}
		if !containsPrefix(closure, "-dockertools-toolkit") {
			t.Errorf("%s: the toolkit is not in the stream's closure", attr)
		}

		dead := lines(testutil.Run(t, "nix-store", "--gc", "--print-dead"))
		if !contains(dead, decoy) {
			t.Fatalf("%s: the collector would keep the decoy %s: the test cannot tell", attr, decoy)
		}
		drv := strings.TrimSpace(testutil.Run(t, "nix-store", "-qd", out))
		candidates := []string{decoy}
		for _, d := range lines(testutil.Run(t, "nix-store", "-qR", drv)) {
			if strings.HasSuffix(d, ".drv") {
				candidates = append(candidates, lines(testutil.Run(t, "nix-store", "-q", "--outputs", d))...)
			}
		}
		for _, p := range candidates {
			if contains(dead, p) {
				if contains(closure, p) {
					t.Errorf("%s: the collector would delete %s, which the stream reads", attr, p)
					continue
				}
				exec.Command("nix-store", append(append([]string{}, testutil.NixOptions...), "--delete", p)...).Run()
			}
		}
		if _, err := os.Lstat(decoy); err == nil {
			t.Errorf("%s: the decoy %s is still there", attr, decoy)
		}
		if after := stream(t, out); !bytes.Equal(after, before) {
			t.Errorf("%s: after the collection the stream writes other bytes", attr)
		}
	}
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsPrefix(list []string, suffix string) bool {
	for _, l := range list {
		if strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

// TestSharedLayerDerivations: images whose layers hold the same paths
// with the same options share the layers' derivations (the same .drv),
// whether automatic (layerDerivations) or explicit (buildLayer); other
// options give other derivations.
func TestSharedLayerDerivations(t *testing.T) {
	e := setup(t)
	f := e.expr(t, `let
  drvs = image: map (l: l.drvPath) image.layers;
  auto = name: extra: dt.streamLayeredImage ({ inherit name; contents = [ app ]; layerDerivations = true; } // extra);
  explicit = name: dt.streamLayeredImage { inherit name; layers = [ (dt.buildLayer { deps = [ app ]; }) ]; };
in {
  a = drvs (auto "dt-i-nix/share-a" { });
  b = drvs (auto "dt-i-nix/share-b" { config.Cmd = [ "/bin/hello" ]; extraCommands = "mkdir tmp"; });
  owned = drvs (auto "dt-i-nix/share-c" { uid = 1000; });
  c = drvs (explicit "dt-i-nix/share-d");
  d = drvs (explicit "dt-i-nix/share-e");
}`)
	var a, b, owned, c, d []string
	e.eval(t, f, "a", &a)
	e.eval(t, f, "b", &b)
	e.eval(t, f, "owned", &owned)
	e.eval(t, f, "c", &c)
	e.eval(t, f, "d", &d)
	if len(a) != 2 || strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("two images of the same closure: layer derivations\n  %v\n  %v\nwant the same two", a, b)
	}
	for i := range owned {
		if i < len(a) && owned[i] == a[i] {
			t.Errorf("uid 1000 gave the layer derivation of uid 0: %s", owned[i])
		}
	}
	if len(c) != 1 || strings.Join(c, " ") != strings.Join(d, " ") {
		t.Errorf("one buildLayer in two images: %v and %v, want the same derivation", c, d)
	}
}
