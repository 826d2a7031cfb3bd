package merge_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/merge"
	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
)

// three are images a and b (b shares a's five layers and adds two, as the
// conformance cases do) and c (one layer of its own, one shared with a).
type three struct {
	a, b, c mergetest.Image
}

func threeImages(t *testing.T) three {
	var ls []mergetest.Layer
	for i := 0; i < 8; i++ {
		ls = append(ls, mergetest.RootLayer(t, map[string]string{fmt.Sprintf("layer%d/file", i): strings.Repeat(fmt.Sprint(i), 1000*(i+1))}))
	}
	return three{
		a: mergetest.Image{Tags: []string{"fixture/app:a"}, Layers: ls[:5]},
		b: mergetest.Image{Tags: []string{"registry.example.com:5000/fixture/app:b"}, Layers: ls[:7]},
		c: mergetest.Image{Tags: []string{"third:1", "third:latest"}, Layers: []mergetest.Layer{ls[0], ls[7]}},
	}
}

// writeThree writes a.tar, b.tar and c.tar (plain) into dir.
func writeThree(t *testing.T, dir string, im three) []string {
	files := []string{filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar"), filepath.Join(dir, "c.tar")}
	mergetest.WriteArchive(t, files[0], compress.None, im.a)
	mergetest.WriteArchive(t, files[1], compress.None, im.b)
	mergetest.WriteArchive(t, files[2], compress.None, im.c)
	return files
}

func mergeBytes(t *testing.T, inputs []string, kind compress.Kind) ([]byte, merge.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := mergeTo(&buf, inputs, kind)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

// members lists an archive's member names, in order.
func members(t *testing.T, data []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

func TestMergeSharedLayersAndCompressedInputs(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	plain := writeThree(t, dir, im)
	// a plain, b gzip, c zstd: recognised by content, whatever the name.
	mixed := []string{plain[0], mergetest.Compressed(t, plain[1], compress.Gzip), mergetest.Compressed(t, plain[2], compress.Zstd)}
	renamed := filepath.Join(dir, "b-really-gzip.tar")
	if err := os.Rename(mixed[1], renamed); err != nil {
		t.Fatal(err)
	}
	mixed[1] = renamed

	out, res := mergeBytes(t, mixed, compress.None)
	if res.Images != 3 || res.Tags != 4 || res.Layers != 8 {
		t.Errorf("result %+v, want 3 images, 4 tags, 8 layers", res)
	}
	// Every layer once, then configs, manifest.json and repositories.
	names := members(t, out)
	layers := 0
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Errorf("member %s stored twice", n)
		}
		seen[n] = true
		if strings.HasSuffix(n, "/layer.tar") {
			layers++
		}
	}
	if layers != 8 || len(names) != 8+3+2 {
		t.Errorf("members %v: want 8 layers, 3 configs, manifest.json, repositories", names)
	}
	if names[len(names)-2] != "manifest.json" || names[len(names)-1] != "repositories" {
		t.Errorf("archive does not end with manifest.json, repositories: %v", names[len(names)-2:])
	}

	// Read back: the images in input order with their tags and layers,
	// every layer matching its diff_id.
	f := filepath.Join(dir, "merged.tar")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	ar, err := dockerarchive.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	want := []mergetest.Image{im.a, im.b, im.c}
	if len(ar.Images) != 3 {
		t.Fatalf("%d images, want 3", len(ar.Images))
	}
	for i, got := range ar.Images {
		if !reflect.DeepEqual(got.RepoTags, want[i].Tags) {
			t.Errorf("image %d tags %v, want %v", i+1, got.RepoTags, want[i].Tags)
		}
		if got.ConfigDigest != want[i].ID() {
			t.Errorf("image %d is %s, want %s", i+1, got.ConfigDigest, want[i].ID())
		}
		if got.ConfigName != got.ConfigDigest.Encoded()+".json" {
			t.Errorf("image %d config member %s", i+1, got.ConfigName)
		}
		for j, l := range got.Layers {
			if l.DiffID != want[i].Layers[j].DiffID || l.Name != l.DiffID.Encoded()+"/layer.tar" {
				t.Errorf("image %d layer %d: %s (%s), want %s", i+1, j+1, l.Name, l.DiffID, want[i].Layers[j].DiffID)
			}
			if err := l.Verify(); err != nil {
				t.Error(err)
			}
		}
	}

	// repositories: every tag, naming its image's top layer.
	var repos map[string]map[string]string
	if err := json.Unmarshal(member(t, out, "repositories"), &repos); err != nil {
		t.Fatal(err)
	}
	wantRepos := map[string]map[string]string{
		"fixture/app":                           {"a": im.a.Layers[4].DiffID.Encoded()},
		"registry.example.com:5000/fixture/app": {"b": im.b.Layers[6].DiffID.Encoded()},
		"third":                                 {"1": im.c.Layers[1].DiffID.Encoded(), "latest": im.c.Layers[1].DiffID.Encoded()},
	}
	if !reflect.DeepEqual(repos, wantRepos) {
		t.Errorf("repositories %v, want %v", repos, wantRepos)
	}

	// The same inputs, plain, give the same bytes; so does merging again.
	again, _ := mergeBytes(t, plain, compress.None)
	if !bytes.Equal(out, again) {
		t.Error("merging plain and compressed forms of the same archives gave different bytes")
	}
	again, _ = mergeBytes(t, mixed, compress.None)
	if !bytes.Equal(out, again) {
		t.Error("merging the same archives twice gave different bytes")
	}
	allZstd := []string{mergetest.Compressed(t, plain[0], compress.Zstd), mergetest.Compressed(t, plain[1], compress.Zstd), mixed[2]}
	again, _ = mergeBytes(t, allZstd, compress.None)
	if !bytes.Equal(out, again) {
		t.Error("merging zstd forms gave different bytes")
	}
}

func member(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no member %s: %v", name, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestCompressedOutput(t *testing.T) {
	files := writeThree(t, t.TempDir(), threeImages(t))
	plain, _ := mergeBytes(t, files, compress.None)
	for _, kind := range []compress.Kind{compress.Gzip, compress.Zstd} {
		out, _ := mergeBytes(t, files, kind)
		again, _ := mergeBytes(t, files, kind)
		if !bytes.Equal(out, again) {
			t.Errorf("%s output differs between two runs", kind)
		}
		r, got, err := compress.NewReader(bytes.NewReader(out))
		if err != nil || got != kind {
			t.Fatalf("%s output: %v (recognised as %s)", kind, err, got)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, plain) {
			t.Errorf("%s output does not decompress to the plain output", kind)
		}
	}
}

func TestSameImageTwiceIsStoredOnce(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	files := writeThree(t, dir, im)
	// a again, under another tag too, in an archive that also holds c.
	again := im.a
	again.Tags = []string{"fixture/app:a", "fixture/app:stable"}
	both := filepath.Join(dir, "again.tar")
	mergetest.WriteArchive(t, both, compress.Gzip, im.c, again)
	out, res := mergeBytes(t, []string{files[0], files[1], both, files[0]}, compress.None)
	if res.Images != 3 || len(res.Notes) != 2 {
		t.Errorf("result %+v: want 3 images and 2 notes", res)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
	}
	if err := json.Unmarshal(member(t, out, "manifest.json"), &manifest); err != nil {
		t.Fatal(err)
	}
	var tags [][]string
	for _, m := range manifest {
		tags = append(tags, m.RepoTags)
	}
	want := [][]string{{"fixture/app:a", "fixture/app:stable"}, {"registry.example.com:5000/fixture/app:b"}, {"third:1", "third:latest"}}
	if !reflect.DeepEqual(tags, want) {
		t.Errorf("manifest tags %v, want %v", tags, want)
	}
}

func TestTagClash(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	files := writeThree(t, dir, im)
	for _, tc := range []struct{ name, tag string }{
		{"same spelling", "fixture/app:a"},
		{"legacy index spelling", "index.docker.io/third:latest"},
		{"docker hub spelling", "docker.io/library/third:latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := im.c
			other.Created = "2001-09-09T01:46:40Z" // another image
			other.Tags = []string{"other:1", tc.tag}
			clash := filepath.Join(t.TempDir(), "clash.tar.zst")
			mergetest.WriteArchive(t, clash, compress.Zstd, other)
			var buf bytes.Buffer
			_, err := mergeTo(&buf, append(files, clash), compress.None)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			first := files[0]
			if tc.name != "same spelling" {
				first = files[2]
			}
			for _, s := range []string{tc.tag, first, clash, "two different images"} {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not name %q", msg, s)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the clash was found", buf.Len())
			}
		})
	}
	// Within one archive too.
	a2 := im.a
	a2.Created = "2001-09-09T01:46:40Z"
	one := filepath.Join(dir, "one.tar")
	mergetest.WriteArchive(t, one, compress.None, im.a, a2)
	if _, err := mergeTo(io.Discard, []string{one}, compress.None); err == nil || !strings.Contains(err.Error(), "fixture/app:a") {
		t.Errorf("clash inside one archive: %v", err)
	}
}

// TestRefusesTagsDockerLoadRefuses: a RepoTag docker load would refuse
// (its name, or no tag at all) is an error naming the archive and the
// rule, before anything is written.
func TestRefusesTagsDockerLoadRefuses(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	for _, c := range []struct{ tag, want string }{
		{"Fixture/App:a", "lowercase"},
		{"fixture/app", `image name "fixture/app": no tag`},
		{"localhost:5000/app", `image name "localhost:5000/app": no tag`},
		{strings.Repeat("a", 64), "image ID"},
	} {
		bad := im.a
		bad.Tags = []string{"fixture/app:b", c.tag}
		f := filepath.Join(dir, "bad.tar")
		mergetest.WriteArchive(t, f, compress.None, bad)
		var buf bytes.Buffer
		_, err := mergeTo(&buf, []string{f}, compress.None)
		if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("RepoTag %s: error %v: want one naming %s and saying %q", c.tag, err, f, c.want)
		}
		if buf.Len() != 0 {
			t.Errorf("RepoTag %s: output written", c.tag)
		}
	}
}

func TestUntaggedImagesAreKept(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	im.a.Tags, im.b.Tags = nil, nil
	files := writeThree(t, dir, im)
	out, res := mergeBytes(t, files, compress.None)
	if res.Images != 3 || res.Tags != 2 {
		t.Errorf("result %+v", res)
	}
	f := filepath.Join(dir, "merged.tar")
	os.WriteFile(f, out, 0o644)
	ar, err := dockerarchive.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	if len(ar.Images) != 3 || ar.Images[0].ConfigDigest != im.a.ID() {
		t.Errorf("images %v", ar.Images)
	}
}

// A layer whose bytes do not match its diff_id is found while copied; the
// message names the file and the layer.
func TestLayerNotMatchingDiffID(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	bad := im.c
	l := bad.Layers[1]
	data, err := os.ReadFile(l.File)
	if err != nil {
		t.Fatal(err)
	}
	data[600] ^= 1 // a byte of the file's contents
	forged := filepath.Join(dir, "forged.tar")
	os.WriteFile(forged, data, 0o644)
	bad.Layers = []mergetest.Layer{bad.Layers[0], {File: forged, DiffID: l.DiffID, Size: l.Size}}
	f := filepath.Join(dir, "bad.tar")
	mergetest.WriteArchive(t, f, compress.None, bad)
	_, err = mergeTo(io.Discard, []string{f}, compress.None)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "does not match its diff_id") || !strings.Contains(err.Error(), l.DiffID.Encoded()) {
		t.Errorf("error %v", err)
	}
}

func TestNoInput(t *testing.T) {
	if _, err := mergeTo(io.Discard, nil, compress.None); err == nil {
		t.Error("no error without inputs")
	}
	if _, err := mergeTo(io.Discard, []string{"-", "-"}, compress.None); err == nil || !strings.Contains(err.Error(), "stdin") {
		t.Errorf("stdin twice: %v", err)
	}
	if _, err := mergeTo(io.Discard, []string{"/nonexistent/x.tar"}, compress.None); err == nil || !strings.Contains(err.Error(), "/nonexistent/x.tar") {
		t.Errorf("missing file: %v", err)
	}
}

// writeErrer fails after n bytes.
type writeErrer struct{ n int }

func (w *writeErrer) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, fmt.Errorf("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteErrorIsMarked(t *testing.T) {
	files := writeThree(t, t.TempDir(), threeImages(t))
	_, err := mergeTo(&writeErrer{n: 10000}, files, compress.None)
	var we *image.WriteError
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v", err)
	}
	if !errors.As(err, &we) {
		t.Errorf("%v is not a WriteError", err)
	}
}

// TestDocker25Layout merges an archive in the layout docker save writes
// since Docker 25 (members under blobs/sha256/, an OCI index beside
// manifest.json) with one of the toolkit's that shares a layer.
func TestDocker25Layout(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t)
	files := writeThree(t, dir, im)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755})
	modern := mergetest.Image{Tags: []string{"modern:1"}, Layers: im.c.Layers, Created: "2024-01-01T00:00:00Z"}
	var layerNames []string
	for _, l := range modern.Layers {
		data, err := os.ReadFile(l.File)
		if err != nil {
			t.Fatal(err)
		}
		add("blobs/sha256/"+l.DiffID.Encoded(), data)
		layerNames = append(layerNames, fmt.Sprintf("%q", "blobs/sha256/"+l.DiffID.Encoded()))
	}
	add("blobs/sha256/"+modern.ID().Encoded(), modern.Config())
	add("index.json", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`))
	add("manifest.json", []byte(`[{"Config":"blobs/sha256/`+modern.ID().Encoded()+`","RepoTags":["modern:1"],"Layers":[`+strings.Join(layerNames, ",")+`],"LayerSources":{}}]`))
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	tw.Close()
	f := filepath.Join(dir, "docker25.tar")
	os.WriteFile(f, buf.Bytes(), 0o644)

	out, res := mergeBytes(t, []string{files[0], f}, compress.None)
	if res.Images != 2 || res.Layers != 6 {
		t.Errorf("result %+v, want 2 images, 6 layers", res)
	}
	merged := filepath.Join(dir, "merged.tar")
	os.WriteFile(merged, out, 0o644)
	ar, err := dockerarchive.Open(merged)
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	got := ar.Images[1]
	if got.ConfigDigest != modern.ID() || got.ConfigName != modern.ID().Encoded()+".json" || len(got.Layers) != 2 || got.Layers[1].Name != modern.Layers[1].DiffID.Encoded()+"/layer.tar" {
		t.Errorf("image %+v", got)
	}
	for _, l := range got.Layers {
		if err := l.Verify(); err != nil {
			t.Error(err)
		}
	}
}

// A layer member stored compressed (docker load takes those) is copied as
// it is, and checked against its diff_id once decompressed.
func TestCompressedLayerMembers(t *testing.T) {
	dir := t.TempDir()
	im := threeImages(t).c
	for _, kind := range []compress.Kind{compress.Gzip, compress.Zstd} {
		f, stored := compressedLayers(t, filepath.Join(dir, string(kind)+".tar"), im, kind, false)
		out, _ := mergeBytes(t, []string{f}, compress.None)
		for i, l := range im.Layers {
			if got := member(t, out, l.DiffID.Encoded()+"/layer.tar"); !bytes.Equal(got, stored[i]) {
				t.Errorf("%s: layer %d not copied as stored", kind, i+1)
			}
		}
		f, _ = compressedLayers(t, filepath.Join(dir, string(kind)+"-spoilt.tar"), im, kind, true)
		_, err := mergeTo(io.Discard, []string{f}, compress.None)
		if err == nil || !strings.Contains(err.Error(), "does not match its diff_id") || !strings.Contains(err.Error(), "l1/layer.tar") {
			t.Errorf("%s: spoilt compressed layer: %v", kind, err)
		}
	}
}

// compressedLayers writes im to file with its layers compressed as
// members l0/layer.tar, l1/layer.tar...; spoil flips a byte of the second
// layer. It returns the members' bytes.
func compressedLayers(t *testing.T, file string, im mergetest.Image, kind compress.Kind, spoil bool) (string, [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))})
		tw.Write(data)
	}
	var names []string
	var stored [][]byte
	for i, l := range im.Layers {
		data, err := os.ReadFile(l.File)
		if err != nil {
			t.Fatal(err)
		}
		if spoil && i == 1 {
			data[700] ^= 1
		}
		var z bytes.Buffer
		zw, _ := compress.NewWriter(&z, kind)
		zw.Write(data)
		zw.Close()
		name := fmt.Sprintf("l%d/layer.tar", i)
		add(name, z.Bytes())
		names = append(names, fmt.Sprintf("%q", name))
		stored = append(stored, z.Bytes())
	}
	add("c.json", im.Config())
	add("manifest.json", []byte(`[{"Config":"c.json","RepoTags":["z:1"],"Layers":[`+strings.Join(names, ",")+`]}]`))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, stored
}

// mergeTo merges inputs into a docker-archive written to w, compressed
// whole as kind says: what merge-images does.
func mergeTo(w io.Writer, inputs []string, kind compress.Kind) (merge.Result, error) {
	out, err := imagefile.NewWriter(w, imagefile.Options{Format: imagefile.DockerArchive, Compress: kind, Mtime: 1})
	if err != nil {
		return merge.Result{}, err
	}
	res, err := merge.Merge(out, inputs)
	if err != nil {
		return res, err
	}
	return res, out.Close()
}
