package assemble_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/opencontainers/go-digest"
)

// nativeLayers writes the test store's paths as three store layers and an
// image root as a fourth (customisation) layer.
func nativeLayers(t *testing.T) []layer.Descriptor {
	t.Helper()
	store, paths := testStore(t)
	dir := t.TempDir()
	return []layer.Descriptor{
		storeLayer(t, dir, "0.tar", store, paths[1:2]),
		storeLayer(t, dir, "1.tar", store, paths[0:1]),
		storeLayer(t, dir, "2.tar", store, paths[2:3]),
		rootLayer(t, dir, "3.tar", rootDir(t)),
	}
}

func mustConfig(t *testing.T, js string) imageconfig.Config {
	t.Helper()
	c, err := imageconfig.Parse([]byte(js))
	if err != nil {
		t.Fatalf("config %s: %v", js, err)
	}
	return c
}

// TestNativeRoundTrip builds an image from descriptors and reads it back:
// members, manifest, config, diff_ids and history agree with the inputs.
func TestNativeRoundTrip(t *testing.T) {
	layers := nativeLayers(t)
	cfgJSON := `{"Entrypoint": ["/bin/app"], "Cmd": ["--flag"], "Env": ["PATH=/bin", "LANG=C.UTF-8"],
		"User": "1000:1000", "WorkingDir": "/work", "ExposedPorts": {"8080/tcp": {}},
		"Labels": {"org.example": "ünï"}, "StopSignal": "SIGINT", "X-Unknown": [1.5, {"b": 1}]}`
	const tag = "registry.example.com:5000/team/app:1.0"
	b, res := native(t, assemble.NativeSpec{Tags: []string{tag}, Config: mustConfig(t, cfgJSON), Layers: layers})

	if res.Name != "registry.example.com:5000/team/app" || res.Tag != "1.0" {
		t.Errorf("result names %s:%s", res.Name, res.Tag)
	}
	ms := members(t, b)
	var want []string
	for _, d := range layers {
		want = append(want, d.DiffID.Encoded()+"/layer.tar")
	}
	want = append(want, res.ImageID.Encoded()+".json", "manifest.json", "repositories")
	if got := names(ms); !reflect.DeepEqual(got, want) {
		t.Fatalf("members:\n got %q\nwant %q", got, want)
	}
	for i, d := range layers {
		if got := "sha256:" + sha256Hex(ms[i].data); got != d.DiffID.String() {
			t.Errorf("layer member %d holds %s, not %s", i, got, d.DiffID)
		}
	}
	cfgBlob := ms[len(layers)].data
	if got := "sha256:" + sha256Hex(cfgBlob); got != res.ImageID.String() {
		t.Errorf("config member hashes to %s, result says %s", got, res.ImageID)
	}

	ar := openArchive(t, b)
	if len(ar.Images) != 1 {
		t.Fatalf("%d images", len(ar.Images))
	}
	img := ar.Images[0]
	if !reflect.DeepEqual(img.RepoTags, []string{tag}) {
		t.Errorf("RepoTags %q", img.RepoTags)
	}
	if img.ConfigDigest != res.ImageID {
		t.Errorf("manifest config %s, result %s", img.ConfigDigest, res.ImageID)
	}
	for i, l := range img.Layers {
		if l.DiffID != layers[i].DiffID || res.DiffIDs[i] != layers[i].DiffID {
			t.Errorf("layer %d: archive %s, result %s, descriptor %s", i, l.DiffID, res.DiffIDs[i], layers[i].DiffID)
		}
		if err := l.Verify(); err != nil {
			t.Error(err)
		}
	}

	im := parseImage(t, cfgBlob)
	arch, _ := imageconfig.DefaultArch()
	if im.Created != "1970-01-01T00:00:01Z" || im.Architecture != arch || im.OS != "linux" || im.RootFS.Type != "layers" {
		t.Errorf("created %q architecture %q os %q rootfs type %q", im.Created, im.Architecture, im.OS, im.RootFS.Type)
	}
	var wantCfg map[string]any
	must(t, json.Unmarshal([]byte(cfgJSON), &wantCfg))
	if !reflect.DeepEqual(im.Config, wantCfg) {
		t.Errorf("config\n got %v\nwant %v", im.Config, wantCfg)
	}
	if len(im.RootFS.DiffIDs) != len(layers) || len(im.History) != len(layers) {
		t.Fatalf("%d diff_ids and %d history entries for %d layers", len(im.RootFS.DiffIDs), len(im.History), len(layers))
	}
	for i, h := range im.History {
		if h.EmptyLayer || h.Comment == "" || h.Created != im.Created {
			t.Errorf("history %d: %+v", i, h)
		}
	}
	if want := "store paths: " + pyjson.ReprList(layers[0].Paths); im.History[0].Comment != want {
		t.Errorf("history 0 comment %q, want %q", im.History[0].Comment, want)
	}

	var repos map[string]map[string]string
	must(t, json.Unmarshal(memberData(t, ms, "repositories"), &repos))
	top := layers[len(layers)-1].DiffID.Encoded()
	if !reflect.DeepEqual(repos, map[string]map[string]string{res.Name: {"1.0": top}}) {
		t.Errorf("repositories %v", repos)
	}
}

// TestNativeDerivedTag: without a tag part, the tag is the first 32 hex
// digits of the image ID, so it changes exactly when the image does.
func TestNativeDerivedTag(t *testing.T) {
	layers := nativeLayers(t)
	tagOf := func(cfg string) assemble.Result {
		b, res := native(t, assemble.NativeSpec{Tags: []string{"localhost:5000/app"}, Config: mustConfig(t, cfg), Layers: layers})
		if res.Tag != res.ImageID.Encoded()[:32] {
			t.Errorf("tag %s, image ID %s", res.Tag, res.ImageID)
		}
		img := openArchive(t, b).Images[0]
		if want := "localhost:5000/app:" + res.Tag; !reflect.DeepEqual(img.RepoTags, []string{want}) {
			t.Errorf("RepoTags %q, want %s", img.RepoTags, want)
		}
		return res
	}
	a, a2, b := tagOf(`{"Cmd": ["a"]}`), tagOf(`{"Cmd": ["a"]}`), tagOf(`{"Cmd": ["b"]}`)
	if a.Tag != a2.Tag {
		t.Errorf("the same image got tags %s and %s", a.Tag, a2.Tag)
	}
	if a.Tag == b.Tag {
		t.Errorf("different images got the same tag %s", a.Tag)
	}
}

func intp(i int) *int { return &i }

// TestDescriptorOrder: descriptors with an index are ordered by it, in
// whatever order they come (xargs -P); mixed or repeated indexes are
// refused; without indexes the given order stays.
func TestDescriptorOrder(t *testing.T) {
	layers := nativeLayers(t)
	var lines bytes.Buffer
	for _, i := range []int{2, 0, 3, 1} {
		d := layers[i]
		d.Index = intp(i)
		js, _ := json.Marshal(d)
		lines.Write(append(js, '\n'))
	}
	ds, err := layer.ReadDescriptors(&lines, "stdin")
	must(t, err)
	ordered, err := layer.OrderDescriptors(ds)
	must(t, err)
	for i, d := range ordered {
		if d.File != layers[i].File || *d.Index != i {
			t.Errorf("position %d: %s (index %d)", i, d.File, *d.Index)
		}
	}
	spec := assemble.NativeSpec{Tags: []string{"app:1"}}
	spec.Layers = ordered
	got, _ := native(t, spec)
	spec.Layers = layers
	want, _ := native(t, spec)
	if !bytes.Equal(got, want) {
		t.Error("ordering by index gives other bytes than giving the layers in order")
	}

	kept, err := layer.OrderDescriptors([]layer.Descriptor{layers[2], layers[0]})
	must(t, err)
	if kept[0].File != layers[2].File {
		t.Error("descriptors without an index were reordered")
	}
	mixed := []layer.Descriptor{layers[0], layers[1]}
	mixed[0].Index = intp(0)
	if _, err := layer.OrderDescriptors(mixed); err == nil || !strings.Contains(err.Error(), "all or none") {
		t.Errorf("mixed indexes: %v", err)
	}
	mixed[1].Index = intp(0)
	if _, err := layer.OrderDescriptors(mixed); err == nil || !strings.Contains(err.Error(), "two layers have index 0") {
		t.Errorf("repeated index: %v", err)
	}
}

// TestNativeDeterministic: the archive's bytes do not depend on
// GOMAXPROCS, for each compression, and a compressed archive holds the
// uncompressed one.
func TestNativeDeterministic(t *testing.T) {
	store, paths := testStore(t)
	// Enough incompressible bytes for several parallel gzip blocks.
	big := filepath.Join(store, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-big")
	must(t, os.MkdirAll(big, 0o755))
	data := make([]byte, 5<<20)
	x := uint64(1)
	for i := range data {
		x = x*6364136223846793005 + 1442695040888963407
		data[i] = byte(x >> 56)
	}
	must(t, os.WriteFile(big+"/blob", data, 0o444))
	dir := t.TempDir()
	layers := []layer.Descriptor{
		storeLayer(t, dir, "0.tar", store, []string{big}),
		storeLayer(t, dir, "1.tar", store, paths),
	}
	var plain []byte
	for _, kind := range []compress.Kind{compress.None, compress.Gzip, compress.Zstd} {
		var outs [][]byte
		for _, procs := range []int{1, 4, runtime.NumCPU()} {
			old := runtime.GOMAXPROCS(procs)
			b, _ := native(t, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers}, kind)
			runtime.GOMAXPROCS(old)
			outs = append(outs, b)
		}
		for i := 1; i < len(outs); i++ {
			if !bytes.Equal(outs[0], outs[i]) {
				t.Errorf("%s: GOMAXPROCS changes the bytes (%s vs %s)", kind, sha256Hex(outs[0]), sha256Hex(outs[i]))
			}
		}
		if kind == compress.None {
			plain = outs[0]
			continue
		}
		r, got, err := compress.NewReader(bytes.NewReader(outs[0]))
		must(t, err)
		var buf bytes.Buffer
		_, err = buf.ReadFrom(r)
		must(t, err)
		if got != kind || !bytes.Equal(buf.Bytes(), plain) {
			t.Errorf("%s: the archive is %s and decompresses to other bytes than the plain archive", kind, got)
		}
	}
}

// fakeImage is an image for the fake docker save archives.
type fakeImage struct {
	tags    []string
	config  map[string]any // "rootfs" is filled in
	layers  [][]byte
	history bool // give one history entry per layer
}

func (im fakeImage) blob(t *testing.T) []byte {
	t.Helper()
	cfg := map[string]any{}
	for k, v := range im.config {
		cfg[k] = v
	}
	var ids []string
	var hist []map[string]any
	for i, l := range im.layers {
		ids = append(ids, "sha256:"+sha256Hex(l))
		if im.history {
			hist = append(hist, map[string]any{"created": "2020-01-01T00:00:00Z", "created_by": fmt.Sprintf("base step %d", i+1)})
		}
	}
	// An empty-layer entry, as docker build writes for ENV, around them.
	if im.history {
		hist = append([]map[string]any{{"created": "2020-01-01T00:00:00Z", "created_by": "ENV X=1", "empty_layer": true}}, hist...)
		cfg["history"] = hist
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": ids}
	b, err := json.Marshal(cfg)
	must(t, err)
	return b
}

// dockerSave2010 lays images out as docker save before version 25 does:
// <v1 id>/{VERSION,json,layer.tar} per layer of each image (the ID chained
// from the parent's, so a layer shared at another depth gets another
// directory whose layer.tar is a symlink to the first copy), <id>.json,
// manifest.json and repositories.
func dockerSave2010(t *testing.T, ims ...fakeImage) []byte {
	t.Helper()
	var files []tarFile
	var manifest []map[string]any
	first := map[string]string{} // diffID -> member holding it
	seen := map[string]bool{}
	for _, im := range ims {
		blob := im.blob(t)
		parent := ""
		var layerNames []string
		for _, l := range im.layers {
			id := sha256Hex([]byte(parent + sha256Hex(l)))
			parent = id
			name := id + "/layer.tar"
			layerNames = append(layerNames, name)
			if seen[id] {
				continue
			}
			seen[id] = true
			files = append(files, tarFile{hdr: tarHeader(id+"/", '5')}, file(id+"/VERSION", []byte("1.0")), file(id+"/json", []byte(`{"id":"`+id+`"}`)))
			if prev, ok := first[sha256Hex(l)]; ok {
				h := tarHeader(name, '2')
				h.Linkname = "../" + prev
				files = append(files, tarFile{hdr: h})
			} else {
				first[sha256Hex(l)] = name
				files = append(files, file(name, l))
			}
		}
		cfgName := sha256Hex(blob) + ".json"
		files = append(files, file(cfgName, blob))
		manifest = append(manifest, map[string]any{"Config": cfgName, "RepoTags": im.tags, "Layers": layerNames})
	}
	mb, _ := json.Marshal(manifest)
	files = append(files, file("manifest.json", mb), file("repositories", []byte("{}")))
	return tarOf(t, files...)
}

// dockerSave25 lays images out as docker save 25 and later does: every
// blob under blobs/sha256/, an OCI index and layout beside manifest.json.
func dockerSave25(t *testing.T, ims ...fakeImage) []byte {
	t.Helper()
	files := []tarFile{{hdr: tarHeader("blobs/", '5')}, {hdr: tarHeader("blobs/sha256/", '5')}}
	seen := map[string]bool{}
	blobFile := func(b []byte) string {
		name := "blobs/sha256/" + sha256Hex(b)
		if !seen[name] {
			seen[name] = true
			files = append(files, file(name, b))
		}
		return name
	}
	var manifest []map[string]any
	var index []map[string]any
	for _, im := range ims {
		var layerNames []string
		sources := map[string]any{}
		for _, l := range im.layers {
			n := blobFile(l)
			layerNames = append(layerNames, n)
			sources["sha256:"+sha256Hex(l)] = map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(l), "digest": "sha256:" + sha256Hex(l)}
		}
		cfg := blobFile(im.blob(t))
		manifest = append(manifest, map[string]any{"Config": cfg, "RepoTags": im.tags, "Layers": layerNames, "LayerSources": sources})
		index = append(index, map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + strings.TrimPrefix(cfg, "blobs/sha256/"), "size": 1})
	}
	mb, _ := json.Marshal(manifest)
	ib, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": index})
	files = append(files, file("index.json", ib), file("manifest.json", mb), file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)), file("repositories", []byte("{}")))
	return tarOf(t, files...)
}

func compressed(t *testing.T, b []byte, kind compress.Kind) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := compress.NewWriter(&buf, kind)
	must(t, err)
	_, err = zw.Write(b)
	must(t, err)
	must(t, zw.Close())
	return buf.Bytes()
}

// baseFiles is a base image's layers: small tars of distinct files.
func baseLayers(t *testing.T, n int) [][]byte {
	t.Helper()
	var ls [][]byte
	for i := range n {
		ls = append(ls, tarOf(t, tarFile{hdr: tarHeader("etc/", '5')}, file(fmt.Sprintf("etc/base-%d", i+1), []byte(strings.Repeat("base ", i+1)))))
	}
	return ls
}

var baseConfig = map[string]any{
	"architecture": "arm64", "variant": "v8", "os": "linux",
	"config": map[string]any{
		"Env":  []any{"PATH=/bin", "A=1", "LANG=C"},
		"Cmd":  []any{"/bin/base-cmd"},
		"User": "base", "WorkingDir": "/base",
		"Labels": map[string]any{"from": "base"},
	},
}

// TestNativeFromImage builds on base images in each format that docker
// save (20.10 and 25+), nixpkgs and this toolkit write, plain, gzip and
// zstd: the base layers come first in their order, the config inherits
// what the new one leaves unset (a null field included), Env is merged
// one entry per variable, and the base's architecture is kept.
func TestNativeFromImage(t *testing.T) {
	bl := baseLayers(t, 3)
	base := fakeImage{tags: []string{"base:1"}, config: baseConfig, layers: bl, history: true}
	other := fakeImage{tags: []string{"other:2"}, config: map[string]any{"architecture": "amd64", "os": "linux"}, layers: bl[2:]}

	// A base in nixpkgs' and in our own format: Native's output over the
	// same layers, and a nixpkgs-style tar of the same members.
	dir := t.TempDir()
	var ds []layer.Descriptor
	for i, l := range bl {
		f := filepath.Join(dir, fmt.Sprintf("b%d.tar", i))
		must(t, os.WriteFile(f, l, 0o644))
		ds = append(ds, layer.Descriptor{File: f, DiffID: digest.FromBytes(l), Size: int64(len(l))})
	}
	ours, _ := native(t, assemble.NativeSpec{Tags: []string{"base:1"}, Arch: "arm64", Variant: "v8", Layers: ds,
		Config: mustConfig(t, `{"Env": ["PATH=/bin", "A=1", "LANG=C"], "Cmd": ["/bin/base-cmd"], "User": "base", "WorkingDir": "/base", "Labels": {"from": "base"}}`)})
	nixBlob := base.blob(t)
	nixFiles := []tarFile{}
	var nixLayers []string
	for _, l := range bl {
		nixFiles = append(nixFiles, file(sha256Hex(l)+"/layer.tar", l))
		nixLayers = append(nixLayers, sha256Hex(l)+"/layer.tar")
	}
	nixManifest, _ := json.MarshalIndent([]map[string]any{{"Config": sha256Hex(nixBlob) + ".json", "RepoTags": []string{"base:1"}, "Layers": nixLayers}}, "", "    ")
	nixFiles = append(nixFiles, file(sha256Hex(nixBlob)+".json", nixBlob), file("manifest.json", nixManifest))
	nixpkgsStyle := pyTarOf(t, nixFiles...)

	newLayers := nativeLayers(t)[3:] // the root layer
	over := mustConfig(t, `{"Entrypoint": ["/bin/app"], "Env": ["A=2", "NEW=1", "PATH=/usr/bin"], "User": null}`)
	formats := []struct {
		name    string
		archive []byte
		tag     string
	}{
		{"docker save 20.10", dockerSave2010(t, other, base), "base:1"},
		{"docker save 25", dockerSave25(t, base, other), "base:1"},
		{"nixpkgs", nixpkgsStyle, ""},
		{"assemble-image", ours, ""},
	}
	for _, f := range formats {
		for _, kind := range []compress.Kind{compress.None, compress.Gzip, compress.Zstd} {
			t.Run(f.name+"/"+string(kind), func(t *testing.T) {
				from := writeTemp(t, "base.tar", compressed(t, f.archive, kind))
				b, res := native(t, assemble.NativeSpec{Tags: []string{"app:1"}, Config: over, Layers: newLayers, FromImage: from, FromImageTag: f.tag})
				img := openArchive(t, b).Images[0]
				var want []digest.Digest
				for _, l := range bl {
					want = append(want, digest.FromBytes(l))
				}
				want = append(want, newLayers[0].DiffID)
				var got []digest.Digest
				for _, l := range img.Layers {
					got = append(got, l.DiffID)
					if err := l.Verify(); err != nil {
						t.Error(err)
					}
				}
				if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(res.DiffIDs, want) {
					t.Fatalf("layers\n got %v\nwant %v", got, want)
				}
				im := parseImage(t, img.Config)
				if im.Architecture != "arm64" || im.Variant != "v8" {
					t.Errorf("architecture %s variant %s, want the base's arm64 v8", im.Architecture, im.Variant)
				}
				// A new Entrypoint drops the base's Cmd, as in a Dockerfile.
				wantCfg := map[string]any{
					"Env":        []any{"PATH=/usr/bin", "A=2", "LANG=C", "NEW=1"},
					"Entrypoint": []any{"/bin/app"},
					"User":       "base", "WorkingDir": "/base", "Labels": map[string]any{"from": "base"},
				}
				if !reflect.DeepEqual(im.Config, wantCfg) {
					t.Errorf("config\n got %v\nwant %v", im.Config, wantCfg)
				}
				nonEmpty := 0
				for _, h := range im.History {
					if !h.EmptyLayer {
						nonEmpty++
					}
				}
				if nonEmpty != len(want) {
					t.Errorf("%d non-empty history entries for %d layers: %+v", nonEmpty, len(want), im.History)
				}
				// Each layer is stored once, under its diffID.
				ms := names(members(t, b))
				sort.Strings(ms)
				var wantMembers []string
				for _, d := range want {
					wantMembers = append(wantMembers, d.Encoded()+"/layer.tar")
				}
				wantMembers = append(wantMembers, res.ImageID.Encoded()+".json", "manifest.json", "repositories")
				sort.Strings(wantMembers)
				if !reflect.DeepEqual(ms, wantMembers) {
					t.Errorf("members\n got %q\nwant %q", ms, wantMembers)
				}
			})
		}
	}
}

// TestNativeFromImageOverrides: the new config's fields win over the
// base's, an --arch that contradicts the base's is refused, and a base
// without history gets one made-up entry per layer.
func TestNativeFromImageOverrides(t *testing.T) {
	bl := baseLayers(t, 2)
	from := writeTemp(t, "base.tar", dockerSave25(t, fakeImage{tags: []string{"base:1"}, config: baseConfig, layers: bl}))
	newLayers := nativeLayers(t)[3:]
	cfg := mustConfig(t, `{"Cmd": ["/bin/mine"], "User": "1000", "Labels": {"mine": "yes"}, "Env": ["A=1"]}`)
	_, err := writeNative(io.Discard, assemble.NativeSpec{Tags: []string{"app"}, Arch: "amd64", Layers: newLayers, FromImage: from, Config: cfg})
	if err == nil || !strings.Contains(err.Error(), "is for arm64, the image is for amd64") {
		t.Errorf("--arch amd64 on an arm64 base: %v", err)
	}
	b, _ := native(t, assemble.NativeSpec{Tags: []string{"app"}, Arch: "arm64", Layers: newLayers, FromImage: from, Config: cfg})
	im := parseImage(t, openArchive(t, b).Images[0].Config)
	if im.Architecture != "arm64" {
		t.Errorf("architecture %s, want arm64", im.Architecture)
	}
	want := map[string]any{
		"Env": []any{"PATH=/bin", "A=1", "LANG=C"}, "Cmd": []any{"/bin/mine"},
		"User": "1000", "WorkingDir": "/base", "Labels": map[string]any{"mine": "yes"},
	}
	if !reflect.DeepEqual(im.Config, want) {
		t.Errorf("config\n got %v\nwant %v", im.Config, want)
	}
	if len(im.History) != 3 {
		t.Fatalf("%d history entries for 3 layers", len(im.History))
	}
	for i, h := range im.History {
		if h.Comment == "" || h.EmptyLayer {
			t.Errorf("history %d: %+v", i, h)
		}
	}
}

// TestNativeBadBase: a base layer that does not match its diff_id is an
// error naming it; so is a base that is no archive, lacks a manifest, or
// holds several images when no tag picks one.
func TestNativeBadBase(t *testing.T) {
	bl := baseLayers(t, 2)
	good := dockerSave2010(t, fakeImage{tags: []string{"base:1"}, config: baseConfig, layers: bl})
	tampered := bytes.Replace(good, []byte("base base "), []byte("BASE BASE "), 1)
	if bytes.Equal(good, tampered) {
		t.Fatal("no layer bytes to tamper with")
	}
	two := dockerSave25(t, fakeImage{tags: []string{"a:1"}, config: baseConfig, layers: bl}, fakeImage{tags: []string{"b:1"}, config: baseConfig, layers: bl[:1]})
	layers := nativeLayers(t)[3:]
	for _, c := range []struct {
		name, tag string
		archive   []byte
		want      string
	}{
		{"tampered", "", tampered, "does not match its diff_id"},
		{"not an archive", "", []byte("hello, world\n"), "not a tar archive"},
		{"no manifest", "", tarOf(t, file("x", []byte("x"))), "no manifest.json"},
		{"two images", "", two, "holds 2 images"},
		{"no such tag", "c:1", two, `no image tagged "c:1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			from := writeTemp(t, "base.tar", c.archive)
			var buf bytes.Buffer
			_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers, FromImage: from, FromImageTag: c.tag})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if !strings.Contains(err.Error(), from) {
				t.Errorf("error %q does not name the base image", err)
			}
		})
	}
	// A base picked by tag in a multi-image archive.
	from := writeTemp(t, "base.tar", two)
	b, _ := native(t, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers, FromImage: from, FromImageTag: "b:1"})
	if n := len(openArchive(t, b).Images[0].Layers); n != 2 {
		t.Errorf("image b:1 as base gives %d layers, want 2", n)
	}
}

// TestNativeBaseTagSpellings: --from-image-tag picks the base image by
// name as docker resolves it, whatever spelling the archive and the user
// chose: app, app:latest and docker.io/library/app:latest are one name,
// localhost:5000/app another. A name docker would refuse is an error
// naming it.
func TestNativeBaseTagSpellings(t *testing.T) {
	bl := baseLayers(t, 3)
	from := writeTemp(t, "base.tar", dockerSave25(t,
		fakeImage{tags: []string{"docker.io/library/app:latest"}, config: baseConfig, layers: bl[:1]},
		fakeImage{tags: []string{"web:1"}, config: baseConfig, layers: bl[:2]},
		fakeImage{tags: []string{"localhost:5000/app"}, config: baseConfig, layers: bl}))
	layers := nativeLayers(t)[3:]
	for _, c := range []struct {
		tag        string
		baseLayers int // 0: no such image
	}{
		{"app", 1},
		{"app:latest", 1},
		{"index.docker.io/library/app", 1},
		{"web:1", 2},
		{"docker.io/library/web:1", 2},
		{"localhost:5000/app:latest", 3},
		{"web", 0},
		{"localhost:5001/app", 0},
	} {
		var buf bytes.Buffer
		_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"new:1"}, Layers: layers, FromImage: from, FromImageTag: c.tag})
		if c.baseLayers == 0 {
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no image tagged %q", c.tag)) || buf.Len() != 0 {
				t.Errorf("--from-image-tag %s: error %v, %d bytes written; want no image", c.tag, err, buf.Len())
			}
			continue
		}
		if err != nil {
			t.Errorf("--from-image-tag %s: %v", c.tag, err)
			continue
		}
		if n := len(openArchive(t, buf.Bytes()).Images[0].Layers); n != c.baseLayers+len(layers) {
			t.Errorf("--from-image-tag %s: %d layers, want the base's %d and %d", c.tag, n, c.baseLayers, len(layers))
		}
	}
	for _, tag := range []string{"App:1", "app:-x"} {
		var buf bytes.Buffer
		_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"new:1"}, Layers: layers, FromImage: from, FromImageTag: tag})
		if err == nil || !strings.Contains(err.Error(), strconv.Quote(tag)) || strings.Contains(err.Error(), "no image tagged") || buf.Len() != 0 {
			t.Errorf("--from-image-tag %s: error %v, %d bytes written; want one saying what is wrong with the name", tag, err, buf.Len())
		}
	}
}

// TestNativeMaxLayers: more layers than allowed, base layers counted, is
// an error naming both numbers; the default is 125.
func TestNativeMaxLayers(t *testing.T) {
	layers := nativeLayers(t)
	var buf bytes.Buffer
	_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers, MaxLayers: 3})
	if err == nil || !strings.Contains(err.Error(), "4 layers") || !strings.Contains(err.Error(), "the 3 allowed") {
		t.Errorf("4 layers, max 3: %v", err)
	}
	from := writeTemp(t, "base.tar", dockerSave2010(t, fakeImage{tags: []string{"base:1"}, config: baseConfig, layers: baseLayers(t, 2)}))
	_, err = writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers, MaxLayers: 5, FromImage: from})
	if err == nil || !strings.Contains(err.Error(), "6 layers") || !strings.Contains(err.Error(), "the 5 allowed") {
		t.Errorf("2 base + 4 layers, max 5: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written before the layer count was checked", buf.Len())
	}
	many := make([]layer.Descriptor, 126)
	for i := range many {
		many[i] = layers[i%len(layers)]
	}
	_, err = writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: many})
	if err == nil || !strings.Contains(err.Error(), "126 layers, more than the 125 allowed") {
		t.Errorf("126 layers by default: %v", err)
	}
	native(t, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: many[:125]})
}

// TestNativeDescriptorMismatch: a layer file whose size or bytes differ
// from its descriptor is an error naming the file.
func TestNativeDescriptorMismatch(t *testing.T) {
	layers := nativeLayers(t)
	short := layers[0]
	short.Size--
	other := layers[0]
	other.DiffID = digest.FromString("other bytes")
	// A repeated diffID is stored once, but each file is still checked.
	repeated := layers[0]
	repeated.DiffID = layers[1].DiffID
	missing := layers[0]
	missing.File += ".gone"
	for _, c := range []struct {
		name string
		d    layer.Descriptor
		want string
	}{
		{"size", short, fmt.Sprintf("is %d bytes, its descriptor says %d", layers[0].Size, short.Size)},
		{"digest", other, "does not match its descriptor"},
		{"repeated diffID", repeated, "does not match its descriptor"},
		{"missing", missing, "no such file"},
	} {
		var buf bytes.Buffer
		_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: []layer.Descriptor{layers[1], c.d}})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.d.File) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, c.d.File, c.want)
		}
	}
}

// TestNativeBadName: names are checked as docker load checks them before
// anything is written.
func TestNativeBadName(t *testing.T) {
	layers := nativeLayers(t)
	for _, tag := range []string{"", "App:1", "app:-x", "app:" + strings.Repeat("x", 129), "a//b", "app@sha256:" + strings.Repeat("0", 64), "-app"} {
		var buf bytes.Buffer
		_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{tag}, Layers: layers})
		if err == nil {
			t.Errorf("tag %q accepted", tag)
		}
		if buf.Len() != 0 {
			t.Errorf("tag %q: %d bytes written", tag, buf.Len())
		}
	}
}

// failWriter fails every write after n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriteErrorIsMarked: a failure of the destination is a WriteError
// holding the destination's error, never blamed on a layer or input.
func TestWriteErrorIsMarked(t *testing.T) {
	store, paths := testStore(t)
	layers := nativeLayers(t)
	custom := customisationDir(t, rootDir(t))
	conf := writeConf(t, map[string]any{"store_dir": store, "store_layers": [][]string{paths}, "customisation_layer": custom})
	for _, kind := range []compress.Kind{compress.None, compress.Gzip, compress.Zstd} {
		spec := assemble.NativeSpec{Tags: []string{"app:1"}, Layers: layers}
		whole, _ := native(t, spec, kind)
		for _, n := range []int{0, len(whole) / 2, len(whole) - 1} {
			_, err := writeNative(&failWriter{n}, spec, kind)
			checkWriteError(t, fmt.Sprintf("Native %s after %d of %d bytes", kind, n, len(whole)), err)
		}
		var buf bytes.Buffer
		_, err := writeNixpkgs(&buf, conf, assemble.NixpkgsOptions{}, kind)
		must(t, err)
		for _, n := range []int{0, buf.Len() / 2, buf.Len() - 1} {
			_, err = writeNixpkgs(&failWriter{n}, conf, assemble.NixpkgsOptions{}, kind)
			checkWriteError(t, fmt.Sprintf("Nixpkgs %s after %d of %d bytes", kind, n, buf.Len()), err)
		}
	}
}

func checkWriteError(t *testing.T, what string, err error) {
	t.Helper()
	var we *image.WriteError
	if !errors.As(err, &we) || !errors.Is(err, errDiskFull) {
		t.Errorf("%s: %v (%T) is not a WriteError holding the writer's error", what, err, err)
		return
	}
	if strings.Contains(err.Error(), "layer ") {
		t.Errorf("%s: %q blames a layer", what, err)
	}
}

// TestNativeArchVariant: --variant is kept whether the architecture is
// given, inherited from the base or this machine's; 32-bit ARM gets v7
// unless told otherwise.
func TestNativeArchVariant(t *testing.T) {
	layers := nativeLayers(t)[3:]
	from := writeTemp(t, "base.tar", dockerSave25(t, fakeImage{tags: []string{"base:1"}, config: baseConfig, layers: baseLayers(t, 1)}))
	def, _ := imageconfig.DefaultArch()
	for _, c := range []struct {
		arch, variant, from string
		want                [2]string
	}{
		{"", "", "", [2]string{def, ""}},
		{"", "v9", "", [2]string{def, "v9"}},
		{"", "", from, [2]string{"arm64", "v8"}},
		{"", "v9", from, [2]string{"arm64", "v9"}},
		{"arm64", "", from, [2]string{"arm64", ""}},
		{"arm", "", "", [2]string{"arm", "v7"}},
		{"arm", "v6", "", [2]string{"arm", "v6"}},
		{"riscv64", "", "", [2]string{"riscv64", ""}},
	} {
		if def == "arm" && c.arch == "" && c.from == "" && c.variant == "" {
			c.want[1] = "v7"
		}
		b, _ := native(t, assemble.NativeSpec{Tags: []string{"app:1"}, Arch: c.arch, Variant: c.variant, FromImage: c.from, Layers: layers})
		im := parseImage(t, openArchive(t, b).Images[0].Config)
		if got := [2]string{im.Architecture, im.Variant}; got != c.want {
			t.Errorf("--arch %q --variant %q, base %v: %q, want %q", c.arch, c.variant, c.from != "", got, c.want)
		}
	}
}
