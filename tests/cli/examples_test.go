package cli

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/oci"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// examples returns the command lines under "Example:" or "Examples:" in a
// --help output: each line indented as the first is a command, a line
// indented deeper continues the one before (joined with a newline, as the
// shell reads it), a blank or less indented line ends them.
func examples(help string) []string {
	var out []string
	in, indent := false, 0
	for _, line := range strings.Split(help, "\n") {
		text := strings.TrimSpace(line)
		if text == "Example:" || text == "Examples:" {
			in, indent = true, -1
			continue
		}
		if !in {
			continue
		}
		n := len(line) - len(strings.TrimLeft(line, " "))
		switch {
		case text == "":
			in = false
		case indent < 0 || n == indent:
			indent = n
			out = append(out, text)
		case n > indent:
			out[len(out)-1] += "\n" + text
		default:
			in = false
		}
	}
	return out
}

func TestExamplesParse(t *testing.T) {
	help := `NAME:
   tool - does things

DESCRIPTION:
   Some text.

   Examples:
     tool -o x a
     tool a |
       other b
     tool c

GLOBAL OPTIONS:
   --output FILE  Examples: none here
`
	want := []string{"tool -o x a", "tool a |\nother b", "tool c"}
	if got := examples(help); !reflect.DeepEqual(got, want) {
		t.Errorf("examples = %q, want %q", got, want)
	}
	if got := examples("Example:\n  one\nOPTIONS:\n"); !reflect.DeepEqual(got, []string{"one"}) {
		t.Errorf("examples = %q", got)
	}
}

// placeholders stand in the examples for what only a real system has;
// each is replaced before the example runs.
var placeholders = map[string]string{
	"/nix/store/...-hello-2.12": testutil.App,
}

// example says what an example needs beyond the workspace (setup runs
// in the example's directory before it) and what it must have done: it
// has exited 0 when check runs.
type example struct {
	setup func(t *testing.T, w *workspace, dir string)
	check func(t *testing.T, w *workspace, dir string, r testutil.Result)
}

// exampleChecks holds every example of every --help, word for word: an
// example without an entry fails the test, so a new or changed example
// comes with what it must do.
var exampleChecks = map[string]example{
	"assemble-image --tag hello --config config.json layers/*.json -o hello.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		var res struct {
			Name, Tag string
			DiffIDs   []string
		}
		if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.Name != "hello" || res.Tag == "" {
			t.Fatalf("stdout %q is not the result line of image hello (%v)", r.Stdout, err)
		}
		ims := readImages(t, filepath.Join(dir, "hello.tar"))
		if len(ims) != 1 || !reflect.DeepEqual(ims[0].Tags, []string{"hello:" + res.Tag}) {
			t.Fatalf("hello.tar holds %+v, want one image tagged hello:%s", ims, res.Tag)
		}
		checkLayers(t, ims[0].DiffIDs, w.layers)
		checkLayers(t, res.DiffIDs, w.layers)
		var cfg struct{ Cmd []string }
		json.Unmarshal(w.config, &cfg)
		if !reflect.DeepEqual(ims[0].Config.Cmd, cfg.Cmd) {
			t.Errorf("the image's Cmd is %q, config.json's %q", ims[0].Config.Cmd, cfg.Cmd)
		}
	}},
	"cat layers/*.json | assemble-image --tag hello:1.0 --compress gzip > hello.tar.gz": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		if data := readFile(t, filepath.Join(dir, "hello.tar.gz")); !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatal("hello.tar.gz is not gzip-compressed")
		}
		ims := readImages(t, filepath.Join(dir, "hello.tar.gz"))
		if len(ims) != 1 || !reflect.DeepEqual(ims[0].Tags, []string{"hello:1.0"}) {
			t.Fatalf("hello.tar.gz holds %+v, want one image tagged hello:1.0", ims)
		}
		checkLayers(t, ims[0].DiffIDs, w.layers)
	}},
	"assemble-image --tag hello:1.0 --tag hello:latest --format oci -o hello-oci layers/*.json": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		l, err := oci.OpenLayout(filepath.Join(dir, "hello-oci"))
		if err != nil {
			t.Fatal(err)
		}
		ims, err := l.Images()
		if err != nil {
			t.Fatal(err)
		}
		if len(ims) != 1 || !reflect.DeepEqual(ims[0].RefNames, []string{"1.0", "latest"}) || !reflect.DeepEqual(ims[0].Names, []string{"docker.io/library/hello:1.0", "docker.io/library/hello:latest"}) {
			t.Fatalf("hello-oci holds %d images, names %v, refs %v; want one, tagged 1.0 and latest", len(ims), ims[0].Names, ims[0].RefNames)
		}
		var diffIDs []string
		for _, l := range ims[0].Layers {
			if err := l.Stream(io.Discard); err != nil {
				t.Fatal(err)
			}
			diffIDs = append(diffIDs, l.DiffID.String())
		}
		checkLayers(t, diffIDs, w.layers)
	}},
	// The root filesystems hold the store paths of the images' layers.
	"export-image -o rootfs.tar hello.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		names, _ := members(t, filepath.Join(dir, "rootfs.tar"))
		for _, p := range []string{testutil.Libc, testutil.App, testutil.Data} {
			if !slices.Contains(names, strings.TrimPrefix(p, "/")+"/") && !slices.Contains(names, strings.TrimPrefix(p, "/")) {
				t.Errorf("rootfs.tar lacks %s", p)
			}
		}
	}},
	"export-image --tag web:1.0 release.tar.zst | tar -C rootfs -xf -": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		for _, p := range []string{testutil.Libc, testutil.Libfoo} {
			if _, err := os.Lstat(filepath.Join(dir, "rootfs", p)); err != nil {
				t.Errorf("rootfs lacks %s: %v", p, err)
			}
		}
	}},
	"export-image --mtime 315532800 -o rootfs.tar image.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		f, err := os.Open(filepath.Join(dir, "rootfs.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		n := 0
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
			if h.ModTime.Unix() != 315532800 {
				t.Errorf("%s: mtime %d", h.Name, h.ModTime.Unix())
			}
		}
		if n == 0 {
			t.Error("rootfs.tar is empty")
		}
	}},
	// The engine that answers loads it; the image is removed afterwards.
	"assemble-image --nixpkgs-conf conf.json | docker load": {
		setup: func(t *testing.T, w *workspace, dir string) {
			docker := testutil.Docker(t)
			t.Cleanup(func() { exec.Command(docker, "rmi", w.confTag).Run() })
		},
		check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
			if !strings.Contains(r.Stdout, "Loaded image: "+w.confTag+"\n") {
				t.Fatalf("docker load printed %q, want it to load %s", r.Stdout, w.confTag)
			}
			var conf struct {
				StoreLayers [][]string `json:"store_layers"`
			}
			json.Unmarshal(readFile(t, filepath.Join(dir, "conf.json")), &conf)
			out := testutil.Run(t, "docker", "image", "inspect", "--format", "{{len .RootFS.Layers}}", w.confTag)
			// The store layers and the customisation layer.
			if want := strconv.Itoa(len(conf.StoreLayers) + 1); strings.TrimSpace(out) != want {
				t.Errorf("the loaded image has %s layers, want %s", strings.TrimSpace(out), want)
			}
		},
	},

	// ./result is a two-path closure nix-build makes.
	"nix path-info --json -r ./result | closure-popularity --max-layers 100": {
		setup: func(t *testing.T, w *workspace, dir string) {
			testutil.Need(t, "nix", "nix-build", "nix-store")
			expr := filepath.Join(t.TempDir(), "result.nix")
			if err := os.WriteFile(expr, []byte(resultNix), 0o644); err != nil {
				t.Fatal(err)
			}
			testutil.Run(t, "nix-build", append(append([]string{"--quiet"}, testutil.NixOptions...), expr, "-o", filepath.Join(dir, "result"))...)
		},
		check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
			closure := strings.Fields(testutil.Run(t, "nix-store", "-qR", filepath.Join(dir, "result")))
			got := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
			slices.Sort(closure)
			slices.Sort(got)
			if len(closure) < 2 || !reflect.DeepEqual(got, closure) {
				t.Errorf("the plan is %q, want one layer for each path of the closure %q", r.Stdout, closure)
			}
		},
	},

	"path-to-layer -o layer.tar /nix/store/...-hello-2.12": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		d := parseDescriptor(t, r.Stdout)
		checkLayerFile(t, dir, d)
		if d.File != "layer.tar" || !reflect.DeepEqual(d.Paths, []string{testutil.App}) {
			t.Errorf("descriptor %+v, want layer.tar of %s", d, testutil.App)
		}
		names, _ := members(t, filepath.Join(dir, "layer.tar"))
		if !slices.Contains(names, strings.TrimPrefix(testutil.App, "/")+"/bin/app") {
			t.Errorf("layer.tar holds %q, not the app", names)
		}
	}},
	// The app's closure (app, libfoo, libc, data, single-file) first,
	// the rest (the link) after it.
	"closure-popularity --pipeline pipeline.json --json graph.json": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		var layers [][]string
		if err := json.Unmarshal([]byte(r.Stdout), &layers); err != nil {
			t.Fatalf("stdout %q: %v", r.Stdout, err)
		}
		closure := []string{testutil.App, testutil.Libfoo, testutil.Libc, testutil.Data, testutil.Single}
		if len(layers) != 2 || !slices.Contains(layers[0], testutil.App) || len(layers[0]) != len(closure) || !reflect.DeepEqual(layers[1], []string{testutil.Link}) {
			t.Errorf("layers %q, want the app's closure %q, then the link", layers, closure)
		}
	}},
	// The same layer measured, not written: assemble-image writes it.
	"path-to-layer --digest-only /nix/store/...-hello-2.12 > layer.json": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		data, err := os.ReadFile(filepath.Join(dir, "layer.json"))
		if err != nil {
			t.Fatal(err)
		}
		ds, err := layer.ReadDescriptors(bytes.NewReader(data), "layer.json")
		if err != nil {
			t.Fatal(err)
		}
		if d := ds[0]; d.File != "" || !reflect.DeepEqual(d.Paths, []string{testutil.App}) {
			t.Errorf("descriptor %+v, want one of %s without a file", d, testutil.App)
		}
		l, err := ds[0].Layer()
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Stream(io.Discard); err != nil {
			t.Errorf("the layer written again from the store: %v", err)
		}
	}},
	// The fixture's graph: one layer per path (fewer than 50).
	"closure-popularity --max-layers 50 graph.json | awk '{print NR-1, $0}' |\nxargs -P4 -L1 sh -c 'path-to-layer --index \"$0\" -o \"layers/$0.tar\" \"$@\" > \"layers/$0.json\"'": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		var all []string
		for i := 0; ; i++ {
			name := filepath.Join(dir, "layers", strconv.Itoa(i)+".json")
			data, err := os.ReadFile(name)
			if os.IsNotExist(err) {
				break
			}
			d := parseDescriptor(t, string(data))
			if d.Index == nil || *d.Index != i || d.File != "layers/"+strconv.Itoa(i)+".tar" || len(d.Paths) != 1 {
				t.Errorf("layers/%d.json is %+v", i, d)
			}
			checkLayerFile(t, dir, d)
			all = append(all, d.Paths...)
		}
		want := []string{testutil.Libc, testutil.Libfoo, testutil.App, testutil.Data, testutil.Link, testutil.Single}
		slices.Sort(all)
		slices.Sort(want)
		if !reflect.DeepEqual(all, want) {
			t.Errorf("the layers hold %q, want each of %q once", all, want)
		}
	}},
	"path-to-layer --root ./rootfs --tarsum -o custom.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		d := parseDescriptor(t, r.Stdout)
		checkLayerFile(t, dir, d)
		f, err := os.Open(filepath.Join(dir, "custom.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sum, err := tarsum.Archive(f, tarsum.Version1, "sha256", nil)
		if err != nil || d.TarSum != sum || d.Root != "./rootfs" {
			t.Errorf("descriptor %+v, want root ./rootfs and TarSum %s (%v)", d, sum, err)
		}
		if _, files := members(t, filepath.Join(dir, "custom.tar")); string(files["etc/motd"]) != "hello\n" {
			t.Errorf("custom.tar holds no etc/motd from rootfs")
		}
	}},
	// The rule gives etc/motd its owner and mode; etc/ keeps the
	// defaults; the descriptor records the rule.
	"echo '[{\"path\": \"/etc\", \"regex\": \"/motd$\", \"uid\": 1000, \"gid\": 1000, \"mode\": \"0600\"}]' > perms.json &&\npath-to-layer --root ./rootfs --perms perms.json -o custom.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		checkLayerFile(t, dir, parseDescriptor(t, r.Stdout))
		ds, err := layer.ReadDescriptors(strings.NewReader(r.Stdout), "stdout")
		if err != nil {
			t.Fatal(err)
		}
		if p := ds[0].Perms; len(p) != 1 || p[0].Path != "/etc" || p[0].Regex != "/motd$" || p[0].Mode != "0600" {
			t.Errorf("descriptor %+v, want the rule of perms.json", ds[0])
		}
		f, err := os.Open(filepath.Join(dir, "custom.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr := tar.NewReader(f)
		seen := 0
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch strings.Trim(h.Name, "/") {
			case "etc/motd":
				seen++
				if h.Uid != 1000 || h.Gid != 1000 || h.Mode != 0o600 {
					t.Errorf("etc/motd: %d:%d mode %o, want 1000:1000 0600", h.Uid, h.Gid, h.Mode)
				}
			case "etc":
				seen++
				if h.Uid != 0 || h.Gid != 0 {
					t.Errorf("etc/: owner %d:%d, want 0:0 (the rule's regex does not match it)", h.Uid, h.Gid)
				}
			}
		}
		if seen != 2 {
			t.Errorf("custom.tar lacks etc/ or etc/motd")
		}
	}},

	"fake-nss -o nss.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		names, files := members(t, filepath.Join(dir, "nss.tar"))
		for _, n := range []string{"etc/passwd", "etc/group", "etc/nsswitch.conf"} {
			if !slices.Contains(names, n) {
				t.Errorf("nss.tar holds %q, no %s", names, n)
			}
		}
		if !strings.HasPrefix(string(files["etc/passwd"]), "root:x:0:0:") {
			t.Errorf("etc/passwd is %q", files["etc/passwd"])
		}
	}},
	"fake-nss --user app:1000:1000 --shadow --dir rootfs && path-to-layer --root rootfs -o custom.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		if passwd := readFile(t, filepath.Join(dir, "rootfs/etc/passwd")); !strings.Contains(string(passwd), "\napp:x:1000:1000:") {
			t.Errorf("rootfs/etc/passwd is %q, without the app user", passwd)
		}
		d := parseDescriptor(t, r.Stdout)
		checkLayerFile(t, dir, d)
		names, _ := members(t, filepath.Join(dir, "custom.tar"))
		for _, n := range []string{"etc/passwd", "etc/shadow", "etc/motd"} {
			if !slices.Contains(names, n) {
				t.Errorf("custom.tar holds %q, no %s", names, n)
			}
		}
	}},

	"merge-images -o release.tar web.tar worker.tar.gz db.tar.zst": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		checkTags(t, readImages(t, filepath.Join(dir, "release.tar")), "web:1", "worker:1", "db:1")
	}},
	"merge-images --list --store-paths base.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		var s struct {
			Tags       []string
			StorePaths []string
		}
		if err := json.Unmarshal([]byte(r.Stdout), &s); err != nil || strings.Count(r.Stdout, "\n") != 1 {
			t.Fatalf("stdout %q is not one JSON line (%v)", r.Stdout, err)
		}
		slices.Sort(s.StorePaths)
		if !reflect.DeepEqual(s.Tags, []string{"base:1"}) || !reflect.DeepEqual(s.StorePaths, []string{testutil.Libc, testutil.Libfoo}) {
			t.Errorf("--list printed %+v, want base:1 holding %s and %s", s, testutil.Libc, testutil.Libfoo)
		}
	}},
	"merge-images --compress zstd web.tar worker.tar > release.tar.zst": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		if data := readFile(t, filepath.Join(dir, "release.tar.zst")); !bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatal("release.tar.zst is not zstd-compressed")
		}
		checkTags(t, readImages(t, filepath.Join(dir, "release.tar.zst")), "web:1", "worker:1")
	}},

	"tarsum < layer.tar": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		if r.Stdout != w.layerTar.TarSum+"\n" {
			t.Errorf("tarsum printed %q, want path-to-layer's %s", r.Stdout, w.layerTar.TarSum)
		}
	}},
	"tarsum --version dev --extra json layer.tar.gz": {check: func(t *testing.T, w *workspace, dir string, r testutil.Result) {
		f, err := os.Open(filepath.Join(dir, "layer.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		want, err := tarsum.Archive(f, tarsum.VersionDev, "sha256", readFile(t, filepath.Join(dir, "json")))
		if err != nil {
			t.Fatal(err)
		}
		if r.Stdout != want+"\n" {
			t.Errorf("tarsum printed %q, want %s", r.Stdout, want)
		}
	}},
}

// resultNix builds a store path referring to another.
const resultNix = `let
  mk = name: script: derivation {
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
  };
  dep = mk "dockertools-examples-dep" "echo dep > $out";
in mk "dockertools-examples-app" "echo ${dep} > $out"
`

// TestHelpExamples runs every example of every command's --help, with
// bash -o pipefail in a fresh copy of the workspace, and checks that it
// exits 0 and did what exampleChecks says.
func TestHelpExamples(t *testing.T) {
	w := newWorkspace(t)
	tools, err := os.ReadDir(filepath.Join(testutil.RepoRoot(), "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	usedPlaceholder := map[string]bool{}
	for _, tool := range tools {
		if !tool.IsDir() {
			continue
		}
		name := tool.Name()
		help := testutil.Exec(t, t.TempDir(), nil, []byte{}, filepath.Join(binDir, name), "--help")
		if help.Code != 0 {
			t.Fatalf("%s --help: exit %d\n%s", name, help.Code, help.Stderr)
		}
		exs := examples(help.Stdout)
		if len(exs) == 0 {
			t.Errorf("%s --help shows no example", name)
		}
		for i, ex := range exs {
			seen[ex] = true
			t.Run(name+"/"+strconv.Itoa(i+1), func(t *testing.T) {
				e, ok := exampleChecks[ex]
				if !ok {
					t.Fatalf("%s --help shows an example exampleChecks does not know; add what it must do:\n%s", name, ex)
				}
				script := ex
				for p, v := range placeholders {
					if strings.Contains(script, p) {
						usedPlaceholder[p] = true
						script = strings.ReplaceAll(script, p, v)
					}
				}
				dir := w.copy(t)
				if e.setup != nil {
					e.setup(t, w, dir)
				}
				r := testutil.Exec(t, dir, env(), []byte{}, "bash", "-o", "pipefail", "-c", script)
				if r.Code != 0 {
					t.Fatalf("%s\nexit %d\nstderr: %s", script, r.Code, r.Stderr)
				}
				e.check(t, w, dir, r)
			})
		}
	}
	for ex := range exampleChecks {
		if !seen[ex] {
			t.Errorf("no --help shows this example any more; remove it from exampleChecks:\n%s", ex)
		}
	}
	for p := range placeholders {
		if !usedPlaceholder[p] {
			t.Errorf("no example holds the placeholder %s any more", p)
		}
	}
}

// checkLayers compares an image's diffIDs with the descriptors'.
func checkLayers(t *testing.T, got []string, want []descriptor) {
	t.Helper()
	var ids []string
	for _, d := range want {
		ids = append(ids, d.DiffID)
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("the image's layers are %q, want the descriptors' %q", got, ids)
	}
}

// checkLayerFile checks a descriptor against its layer file.
func checkLayerFile(t *testing.T, dir string, d descriptor) {
	t.Helper()
	data := readFile(t, filepath.Join(dir, d.File))
	if sha256Of(data) != d.DiffID || int64(len(data)) != d.Size {
		t.Errorf("%s: %d bytes of %s, its descriptor says %d of %s", d.File, len(data), sha256Of(data), d.Size, d.DiffID)
	}
}

// checkTags checks an archive's images' tags, one each.
func checkTags(t *testing.T, ims []image, tags ...string) {
	t.Helper()
	var got []string
	for _, im := range ims {
		got = append(got, strings.Join(im.Tags, ","))
	}
	if !reflect.DeepEqual(got, tags) {
		t.Errorf("the archive holds images tagged %q, want %q", got, tags)
	}
}
