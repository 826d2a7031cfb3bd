package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
	"github.com/go-dockertools/dockertools/lib/oci"
	"github.com/go-dockertools/dockertools/lib/reference"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// listOf runs --list on files and returns the images it describes.
func listOf(t *testing.T, dir string, files ...string) []imagefile.Summary {
	t.Helper()
	r := runTool(t, dir, append([]string{"--list"}, files...)...)
	if r.code != 0 {
		t.Fatalf("--list %v: exit %d: %s", files, r.code, r.stderr)
	}
	var out []imagefile.Summary
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var s imagefile.Summary
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("--list printed %q: %v", line, err)
		}
		out = append(out, s)
	}
	return out
}

// TestOCIInAndOut: docker-archives merged into an OCI layout hold one
// manifest per image and every blob once; the layout, an oci-archive
// (plain, gzip- or zstd-compressed blobs; the archive itself compressed
// too) and a mix of formats merge back into a docker-archive with the same
// images, layers and tags; --list reads every format.
func TestOCIInAndOut(t *testing.T) {
	dir := t.TempDir()
	a, imA := good(t, dir, "a.tar", "app:1")
	b, imB := good(t, dir, "b.tar", "web:2")

	layout := filepath.Join(dir, "layout")
	if r := runTool(t, dir, "--format", "oci", "-o", layout, a, b); r.code != 0 {
		t.Fatalf("--format oci: %s", r.stderr)
	}
	var idx v1.Index
	readJSONFile(t, filepath.Join(layout, "index.json"), &idx)
	if len(idx.Manifests) != 2 {
		t.Fatalf("index.json lists %d manifests, want 2", len(idx.Manifests))
	}
	blobs, _ := os.ReadDir(filepath.Join(layout, "blobs", "sha256"))
	if len(blobs) != 3+2+2 { // shared + two own layers, two configs, two manifests
		t.Errorf("%d blobs, want 7", len(blobs))
	}

	want := map[string][]string{}
	for _, s := range listOf(t, dir, a, b) {
		want[s.Tags[0]] = digests(s)
	}
	for _, kind := range []string{"none", "gzip", "zstd"} {
		archive := filepath.Join(dir, "all-"+kind+".oci.tar")
		if r := runTool(t, dir, "--format", "oci-archive", "--layer-compression", kind, "-o", archive, a, b); r.code != 0 {
			t.Fatalf("--format oci-archive --layer-compression %s: %s", kind, r.stderr)
		}
		for _, in := range [][]string{{archive}, {mergetest.Compressed(t, archive, compress.Gzip)}, {layout}, {a, archive}} {
			back := filepath.Join(dir, "back.tar")
			if r := runTool(t, dir, "-o", back, strings.Join(in, " ")); len(in) == 1 && r.code != 0 {
				t.Fatalf("merge-images %v: %s", in, r.stderr)
			} else if len(in) > 1 {
				if r := runTool(t, dir, append([]string{"-o", back}, in...)...); r.code != 0 {
					t.Fatalf("merge-images %v: %s", in, r.stderr)
				}
			}
			got := map[string][]string{}
			for _, s := range listOf(t, dir, back) {
				for _, tag := range s.Tags {
					r, err := reference.Parse(tag)
					if err != nil {
						t.Fatal(err)
					}
					got[r.Familiar()] = digests(s)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %v back as %v, want %v", kind, in, got, want)
			}
		}
		for _, s := range listOf(t, dir, archive) {
			if s.Format != imagefile.OCIArchive {
				t.Errorf("--list of %s says format %s", archive, s.Format)
			}
		}
	}
	_ = imA
	_ = imB
}

func digests(s imagefile.Summary) []string {
	out := []string{s.ImageID.String()}
	for _, d := range s.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

func readJSONFile(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// TestBadOCIInputs: a broken layout or oci-archive is one line naming
// it, exit 1, and no output.
func TestBadOCIInputs(t *testing.T) {
	dir := t.TempDir()
	a, _ := good(t, dir, "a.tar", "app:1")
	layoutDir := filepath.Join(dir, "good")
	if r := runTool(t, dir, "--format", "oci", "-o", layoutDir, a); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var idx v1.Index
	readJSONFile(t, filepath.Join(layoutDir, "index.json"), &idx)
	var m v1.Manifest
	readJSONFile(t, filepath.Join(layoutDir, "blobs", "sha256", idx.Manifests[0].Digest.Encoded()), &m)
	layer := filepath.Join("blobs", "sha256", m.Layers[1].Digest.Encoded())
	for _, c := range []struct {
		name   string
		change func(string)
		want   string
	}{
		{"missing blob", func(d string) { os.Remove(filepath.Join(d, layer)) }, "is missing"},
		{"blob that does not match", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, layer))
			b[20] ^= 1
			os.WriteFile(filepath.Join(d, layer), b, 0o644)
		}, "does not match"},
		{"index not JSON", func(d string) { os.WriteFile(filepath.Join(d, "index.json"), []byte("{"), 0o644) }, "not valid JSON"},
		{"symlink out of the layout", func(d string) {
			os.Remove(filepath.Join(d, layer))
			os.Symlink(a, filepath.Join(d, layer))
		}, "leads outside the layout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := filepath.Join(t.TempDir(), "layout")
			if err := os.CopyFS(in, os.DirFS(layoutDir)); err != nil {
				t.Fatal(err)
			}
			c.change(in)
			out := filepath.Join(t.TempDir(), "out.tar")
			r := runTool(t, dir, "-o", out, in)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, in) || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("exit %d, stderr %q; want 1 and one line naming %s saying %q", r.code, r.stderr, in, c.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("output left")
			}
			es, _ := os.ReadDir(filepath.Dir(out))
			if len(es) != 0 {
				t.Errorf("left in the output's directory: %v", names(es))
			}
		})
	}
	// An index with no image of the tag asked for.
	r := runTool(t, dir, "--list", "--tag", "nope:1", layoutDir)
	if r.code != 1 || !strings.Contains(r.stderr, `no image tagged "nope:1"`) {
		t.Errorf("--list --tag nope:1: exit %d, %q", r.code, r.stderr)
	}
	// A layout output that fails leaves no directory.
	out := filepath.Join(dir, "failed-layout")
	b, _ := good(t, dir, "b.tar", "web:2")
	broken := filepath.Join(dir, "broken")
	if r := runTool(t, dir, "--format", "oci", "-o", broken, b); r.code != 0 {
		t.Fatal(r.stderr)
	}
	var bidx v1.Index
	readJSONFile(t, filepath.Join(broken, "index.json"), &bidx)
	var bm v1.Manifest
	readJSONFile(t, filepath.Join(broken, "blobs", "sha256", bidx.Manifests[0].Digest.Encoded()), &bm)
	os.Remove(filepath.Join(broken, "blobs", "sha256", bm.Layers[1].Digest.Encoded()))
	if r := runTool(t, dir, "--format", "oci", "-o", out, a, broken); r.code != 1 {
		t.Errorf("merging a broken layout into a layout: exit %d", r.code)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed --format oci left its directory")
	}
	if l, err := oci.OpenLayout(layoutDir); err != nil {
		t.Error(err)
	} else if _, err := l.Images(); err != nil {
		t.Error(err)
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
