package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/opencontainers/go-digest"
)

// TestOCIBase: a base image given as an OCI layout or an oci-archive
// (gzip or zstd layers) goes below the new layers, in every output
// format; a tag the layout does not have is one line, exit 1, no output.
func TestOCIBase(t *testing.T) {
	w := newWorkspace(t)
	run := func(args ...string) result {
		t.Helper()
		r := runTool(t, w.dir, nil, "assemble-image", append([]string{"-q"}, args...)...)
		if r.code != 0 {
			t.Fatalf("assemble-image %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
		}
		return r
	}
	run("--tag", "base:1", "--format", "oci", "-o", "base-layout", "layers/0.json")
	run("--tag", "base:1", "--format", "oci-archive", "--layer-compression", "zstd", "-o", "base.oci.tar", "layers/0.json")
	want := []digest.Digest{w.descs[0].DiffID, w.descs[1].DiffID}
	for _, base := range []string{"base-layout", "base.oci.tar"} {
		for _, format := range []string{"docker-archive", "oci", "oci-archive"} {
			out := filepath.Join(w.dir, "out-"+format+"-"+filepath.Base(base))
			run("--tag", "app:1", "--from-image", base, "--from-image-tag", "base:1", "--format", format, "-o", out, "layers/1.json")
			f, err := imagefile.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			im, err := f.Find("app:1")
			if err != nil {
				t.Fatal(err)
			}
			if got := im.DiffIDs(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s on %s: layers %v, want %v", format, base, got, want)
			}
			for _, l := range im.Layers {
				if err := l.Stream(io.Discard); err != nil {
					t.Errorf("%s on %s: %v", format, base, err)
				}
			}
			f.Close()
		}
	}
	r := runTool(t, w.dir, nil, "assemble-image", "--tag", "app:1", "--from-image", "base-layout", "--from-image-tag", "other:1", "-o", "none.tar", "layers/1.json")
	if r.code != 1 || !strings.Contains(r.stderr, `base-layout has no image tagged "other:1"`) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("a tag the layout lacks: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "none.tar")); err == nil {
		t.Error("output left")
	}
}
