package nix

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
)

// archiveOf writes an image's bytes to a file and opens it.
func archiveOf(t *testing.T, e env, b []byte) *dockerarchive.Image {
	t.Helper()
	f, err := os.CreateTemp(e.dir, "image-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b)
	f.Close()
	a, err := dockerarchive.Open(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if len(a.Images) != 1 {
		t.Fatalf("%d images in the archive", len(a.Images))
	}
	return &a.Images[0]
}

// entries lists a layer's tar headers by name.
func entries(t *testing.T, l dockerarchive.Layer) map[string]*tar.Header {
	t.Helper()
	m := map[string]*tar.Header{}
	tr := tar.NewReader(l.Open())
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		m[strings.TrimPrefix(strings.TrimPrefix(strings.TrimSuffix(h.Name, "/"), "./"), "/")] = h
	}
}

// TestLayeredOptions: the image-level options reach the image: owners and
// times of the store layers, the customisation layer's nixpkgs times, the
// architecture, created, a layering pipeline, includeStorePaths = false,
// maxLayers, and a base image that is itself a stream.
func TestLayeredOptions(t *testing.T) {
	e := setup(t)
	f := e.expr(t, `let
  base = dt.streamLayeredImage { name = "dt-i-nix/base-stream"; contents = [ dt.fakeNss ]; };
in {
  owned = dt.streamLayeredImage {
    name = "dt-i-nix/options"; contents = [ app ]; uid = 1000; gid = 100; uname = "user"; gname = "users";
    mtime = "2001-09-09T01:46:40Z"; created = "2024-02-29T12:34:56Z"; architecture = "arm64";
  };
  pipeline = dt.streamLayeredImage {
    name = "dt-i-nix/options"; contents = [ app ];
    layeringPipeline = [ [ "subcomponent_out" [ app ] ] [ "over" "rest" [ "pipe" [ [ "popularity_contest" ] [ "limit_layers" 1 ] ] ] ] ];
  };
  noStore = dt.streamLayeredImage { name = "dt-i-nix/options"; contents = [ app ]; includeStorePaths = false; };
  onStream = dt.streamLayeredImage { name = "dt-i-nix/options"; contents = [ app ]; fromImage = base; maxLayers = 4; };
  now = dt.streamLayeredImage { name = "dt-i-nix/options"; contents = [ app ]; created = "now"; mtime = "now"; };
  inherit app;
  data = builtins.readFile "${app}/share/data-path";
}`)
	var app, data string
	e.eval(t, f, "app.outPath", &app)
	e.eval(t, f, "data", &data)
	data = strings.TrimSpace(data)

	im := archiveOf(t, e, stream(t, mustBuild(t, e, f, "owned")))
	var cfg struct {
		Architecture, Created string
	}
	json.Unmarshal(im.Config, &cfg)
	if cfg.Architecture != "arm64" || cfg.Created != "2024-02-29T12:34:56Z" {
		t.Errorf("architecture %q, created %q: want arm64, 2024-02-29T12:34:56Z", cfg.Architecture, cfg.Created)
	}
	if n := len(im.Layers); n != 3 {
		t.Fatalf("%d layers, want data, app, customisation", n)
	}
	for _, l := range im.Layers[:2] {
		for name, h := range entries(t, l) {
			if h.Uid != 1000 || h.Gid != 100 || h.Uname != "user" || h.Gname != "users" || h.ModTime.Unix() != 1000000000 {
				t.Errorf("store layer entry %s: %d:%d %s:%s %v, want 1000:100 user:users 2001-09-09T01:46:40Z", name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
				break
			}
		}
	}
	for name, h := range entries(t, im.Layers[2]) {
		if h.Uid != 0 || h.ModTime.Unix() != 315532800 {
			t.Errorf("customisation layer entry %s: uid %d, time %v: want 0 and SOURCE_DATE_EPOCH's 1980-01-01", name, h.Uid, h.ModTime)
		}
	}

	// The pipeline: the app's closure in one layer, the rest (nothing) in
	// none.
	im = archiveOf(t, e, stream(t, mustBuild(t, e, f, "pipeline")))
	if n := len(im.Layers); n != 2 {
		t.Errorf("layeringPipeline: %d layers, want the app's closure in one, and the customisation layer", n)
	} else if got := entries(t, im.Layers[0]); got[strings.TrimPrefix(app, "/")] == nil || got[strings.TrimPrefix(data, "/")] == nil {
		t.Errorf("layeringPipeline: the first layer does not hold %s and %s", app, data)
	}

	im = archiveOf(t, e, stream(t, mustBuild(t, e, f, "noStore")))
	if n := len(im.Layers); n != 1 {
		t.Errorf("includeStorePaths = false: %d layers, want the customisation layer alone", n)
	} else if h := entries(t, im.Layers[0])["bin/hello"]; h == nil || h.Linkname != app+"/bin/hello" {
		t.Errorf("includeStorePaths = false: no /bin/hello link to %s/bin/hello", app)
	}

	// A stream as fromImage: its 2 layers, then data and app in the one
	// layer maxLayers leaves them, then the customisation layer.
	im = archiveOf(t, e, stream(t, mustBuild(t, e, f, "onStream")))
	if n := len(im.Layers); n != 4 {
		t.Errorf("on a stream of 2 layers with maxLayers 4: %d layers, want 4", n)
	}

	// "now": created when the stream runs; mtime fixed when the layer was
	// measured, so the layers are the same each run.
	out := mustBuild(t, e, f, "now")
	first, second := archiveOf(t, e, stream(t, out)), archiveOf(t, e, stream(t, out))
	for i := range first.Layers {
		if first.Layers[i].DiffID != second.Layers[i].DiffID {
			t.Errorf("mtime = \"now\": layer %d differs between two runs of the stream", i+1)
		}
	}
	var c1 struct{ Created string }
	json.Unmarshal(first.Config, &c1)
	if c1.Created == "1970-01-01T00:00:01Z" || c1.Created == "" {
		t.Errorf("created = \"now\": the image says %q", c1.Created)
	}
}
