// Package cli checks the toolkit's commands as a user meets them: every
// example their --help shows runs and does what it says, and flags work
// before, among and after the arguments.
//
// The examples run in a workspace holding the files they name
// (config.json, conf.json, graph.json, layers/*.json and their tars,
// layer.tar, rootfs/, image archives), made by the tools from the
// conformance fixture's store paths. They need root (the fixture lives
// under /nix/store); the example loading an image into Docker and the one
// reading a Nix build's closure need those too, and fail under CI=true or
// are skipped elsewhere without them.
package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// binDir holds the toolkit's commands, built by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { binDir = dir }))
}

// descriptor is path-to-layer's JSON line.
type descriptor struct {
	Index  *int     `json:"index"`
	File   string   `json:"file"`
	DiffID string   `json:"diffID"`
	Size   int64    `json:"size"`
	TarSum string   `json:"tarsum"`
	Paths  []string `json:"paths"`
	Root   string   `json:"root"`
}

// workspace is a directory of the files the examples name, copied afresh
// for each command run in it.
type workspace struct {
	template string
	layers   []descriptor // layers/0.json ... layers/2.json
	layerTar descriptor   // layer.tar's, with its TarSum
	confTag  string       // conf.json's repo_tag, unique to this run
	config   []byte       // config.json
}

// The store paths of the workspace's layers/N.json, and the images made
// of them.
var (
	layerPaths = [][]string{{testutil.Libc}, {testutil.Libfoo}, {testutil.App, testutil.Data, testutil.Single, testutil.Link}}
	images     = []struct {
		file, tag, compress string
		layers              []int
	}{
		{"web.tar", "web:1", "none", []int{0, 1}},
		{"worker.tar", "worker:1", "none", []int{0, 2}},
		{"worker.tar.gz", "worker:1", "gzip", []int{0, 2}},
		{"db.tar.zst", "db:1", "zstd", []int{1}},
		{"base.tar", "base:1", "none", []int{0, 1}},
		{"hello.tar", "hello:1", "none", []int{0, 2}},
		{"image.tar", "image:1", "none", []int{1, 2}},
		{"release.tar.zst", "web:1.0", "zstd", []int{0, 1}},
	}
)

// newWorkspace makes the workspace's template with the tools, giving
// flags before arguments (which every version of them accepts).
func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	fx := testutil.ConformanceFixture(t)
	w := &workspace{template: t.TempDir()}
	dir := w.template
	run := func(args ...string) string {
		t.Helper()
		r := testutil.Exec(t, dir, nil, []byte{}, filepath.Join(binDir, args[0]), args[1:]...)
		if r.Code != 0 {
			t.Fatalf("preparing the workspace: %s: exit %d\n%s", strings.Join(args, " "), r.Code, r.Stderr)
		}
		return r.Stdout
	}
	write := func(name string, data []byte) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	graph, err := os.ReadFile(filepath.Join(fx.Dir, "graph.json"))
	if err != nil {
		t.Fatal(err)
	}
	write("graph.json", graph)
	write("-g.json", graph) // a file name only an argument after "--" can give
	write("rootfs/etc/motd", []byte("hello\n"))
	if err := os.Mkdir(filepath.Join(dir, "layers"), 0o755); err != nil {
		t.Fatal(err)
	}
	w.config = []byte(`{"Cmd": ["` + testutil.App + `/bin/app"], "Env": ["PATH=/bin"]}`)
	write("config.json", w.config)
	write("paths.txt", []byte(testutil.Libc+"\n"))
	write("pipeline.json", []byte(`[["subcomponent_out", ["`+testutil.App+`"]], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 98]]]]]`))
	write("json", []byte(`{"id":"extra bytes for tarsum --extra"}`))

	var conf map[string]any
	data, err := os.ReadFile(filepath.Join(fx.Dir, "out", "a.conf.json"))
	if err == nil {
		err = json.Unmarshal(data, &conf)
	}
	if err != nil {
		t.Fatal(err)
	}
	w.confTag = "dockertools-examples/app:" + strings.ToLower(rand.Text()[:12])
	conf["repo_tag"] = w.confTag
	data, _ = json.Marshal(conf)
	write("conf.json", data)

	for i, paths := range layerPaths {
		n := strconv.Itoa(i)
		out := run(append([]string{"path-to-layer", "--index", n, "-o", "layers/" + n + ".tar"}, paths...)...)
		write("layers/"+n+".json", []byte(out))
		w.layers = append(w.layers, parseDescriptor(t, out))
	}
	w.layerTar = parseDescriptor(t, run("path-to-layer", "--tarsum", "-o", "layer.tar", testutil.Libfoo))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(readFile(t, filepath.Join(dir, "layer.tar")))
	zw.Close()
	write("layer.tar.gz", gz.Bytes())

	for _, im := range images {
		args := []string{"assemble-image", "--tag", im.tag, "--compress", im.compress, "-o", im.file}
		for _, l := range im.layers {
			args = append(args, "layers/"+strconv.Itoa(l)+".json")
		}
		run(args...)
	}
	return w
}

// copy returns a fresh copy of the workspace.
func (w *workspace) copy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", w.template+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dir
}

// env is the environment of the commands run in a workspace: the tools
// first in PATH; the nix command usable.
func env() []string {
	return []string{
		"PATH=" + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"NIX_CONFIG=extra-experimental-features = nix-command",
	}
}

func parseDescriptor(t *testing.T, line string) descriptor {
	t.Helper()
	var d descriptor
	if err := json.Unmarshal([]byte(line), &d); err != nil {
		t.Fatalf("%q is not a descriptor: %v", line, err)
	}
	return d
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Of(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

// members reads an archive (plain, gzip or zstd) into memory: its
// members' names in order and their contents; the names without a
// leading "/" or "./".
func members(t *testing.T, name string) ([]string, map[string][]byte) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := compress.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, files
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("%s: %s: %v", name, h.Name, err)
		}
		n := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		names = append(names, n)
		files[n] = b
	}
}

// image is one image of an archive, as docker load would read it.
type image struct {
	Tags    []string
	DiffIDs []string
	Config  struct {
		Cmd []string
		Env []string
	}
}

// readImages reads the images of a docker-archive and checks that each
// layer's sha256 is its config's diff_id.
func readImages(t *testing.T, name string) []image {
	t.Helper()
	_, files := members(t, name)
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil {
		t.Fatalf("%s: manifest.json: %v", name, err)
	}
	var out []image
	for _, m := range manifest {
		var cfg struct {
			Config struct {
				Cmd []string
				Env []string
			} `json:"config"`
			RootFS struct {
				DiffIDs []string `json:"diff_ids"`
			} `json:"rootfs"`
		}
		if err := json.Unmarshal(files[m.Config], &cfg); err != nil {
			t.Fatalf("%s: config %s: %v", name, m.Config, err)
		}
		if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
			t.Fatalf("%s: %d layers, %d diff_ids", name, len(m.Layers), len(cfg.RootFS.DiffIDs))
		}
		for i, l := range m.Layers {
			data, ok := files[l]
			if !ok {
				t.Fatalf("%s: no layer %s", name, l)
			}
			if got := sha256Of(data); got != cfg.RootFS.DiffIDs[i] {
				t.Fatalf("%s: layer %s is %s, its diff_id %s", name, l, got, cfg.RootFS.DiffIDs[i])
			}
		}
		im := image{Tags: m.RepoTags, DiffIDs: cfg.RootFS.DiffIDs}
		im.Config.Cmd, im.Config.Env = cfg.Config.Cmd, cfg.Config.Env
		out = append(out, im)
	}
	return out
}
