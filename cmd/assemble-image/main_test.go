package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// binDir holds assemble-image and path-to-layer, built once by TestMain:
// the tests run the real commands.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { binDir = dir }))
}

type result struct {
	code           int
	stdout, stderr string
}

// runTool runs a built command in dir with stdin.
func runTool(t *testing.T, dir string, stdin []byte, tool string, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = []byte{}
	}
	r := testutil.Exec(t, dir, nil, stdin, filepath.Join(binDir, tool), args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o644))
	return p
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// workspace is a directory with a small store, two layers and their
// descriptors (layers/0.json, layers/1.json, with indexes), a config and
// a customisation layer and conf.json for --nixpkgs-conf.
type workspace struct {
	dir, store string
	paths      []string
	descs      []layer.Descriptor
	conf       string
}

func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	w := &workspace{dir: t.TempDir()}
	w.store = filepath.Join(w.dir, "store")
	for i, name := range []string{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.0"} {
		p := filepath.Join(w.store, name)
		write(t, p, "bin/prog", []byte(fmt.Sprintf("#!/bin/sh\necho %d\n", i)))
		w.paths = append(w.paths, p)
	}
	o := layer.Defaults()
	o.StoreDir = w.store
	for i, p := range w.paths {
		f := filepath.Join("layers", fmt.Sprintf("%d.tar", i))
		must(t, os.MkdirAll(filepath.Join(w.dir, "layers"), 0o755))
		out, err := os.Create(filepath.Join(w.dir, f))
		must(t, err)
		res, err := layer.WriteStorePaths(out, []string{p}, o)
		must(t, err)
		must(t, out.Close())
		d := layer.Descriptor{Index: &i, File: f, DiffID: res.DiffID, Size: res.Size, Paths: []string{p}}
		w.descs = append(w.descs, d)
		js, _ := json.Marshal(d)
		write(t, w.dir, fmt.Sprintf("layers/%d.json", i), append(js, '\n'))
	}
	write(t, w.dir, "config.json", []byte(`{"Cmd": ["/bin/prog"], "Env": ["A=1"]}`))

	custom := filepath.Join(w.dir, "cccccccccccccccccccccccccccccccc-customisation-layer")
	must(t, os.MkdirAll(custom, 0o755))
	var lt bytes.Buffer
	res, err := layer.WriteRoot(&lt, w.dir+"/layers", layer.Defaults())
	must(t, err)
	write(t, custom, "layer.tar", lt.Bytes())
	write(t, custom, "checksum", []byte(res.DiffID.Encoded()))
	w.conf = write(t, w.dir, "conf.json", w.confJSON(nil))
	return w
}

// confJSON is the workspace's conf.json with some keys replaced.
func (w *workspace) confJSON(keys map[string]any) []byte {
	conf := map[string]any{
		"architecture": "amd64", "os": "linux", "store_dir": w.store, "from_image": nil,
		"uid": "0", "gid": "0", "uname": "root", "gname": "root", "repo_tag": "app:conf",
		"created": "1970-01-01T00:00:01+00:00", "mtime": "1970-01-01T00:00:01+00:00",
		"config":              map[string]any{"Cmd": []string{"/bin/prog"}},
		"store_layers":        [][]string{w.paths},
		"customisation_layer": filepath.Join(w.dir, "cccccccccccccccccccccccccccccccc-customisation-layer"),
	}
	for k, v := range keys {
		conf[k] = v
	}
	b, _ := json.Marshal(conf)
	return b
}

// descriptorLines is every descriptor as JSON lines, as `cat layers/*.json`
// gives them.
func (w *workspace) descriptorLines() []byte {
	var b bytes.Buffer
	for _, d := range w.descs {
		js, _ := json.Marshal(d)
		b.Write(append(js, '\n'))
	}
	return b.Bytes()
}

func (w *workspace) entries(t *testing.T) []string {
	t.Helper()
	es, err := os.ReadDir(w.dir)
	must(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// fakeBase writes a docker-archive base image (one layer, one file).
func fakeBase(t *testing.T, dir string, tamper bool) string {
	t.Helper()
	var lt bytes.Buffer
	tw := tar.NewWriter(&lt)
	must(t, tw.WriteHeader(&tar.Header{Name: "etc/base", Mode: 0o644, Size: 4, Typeflag: tar.TypeReg}))
	tw.Write([]byte("base"))
	must(t, tw.Close())
	l := lt.Bytes()
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:` + sha256Hex(l) + `"]}}`)
	if tamper {
		l = bytes.Replace(l, []byte("base"), []byte("BASE"), 1)
	}
	var out bytes.Buffer
	tw = tar.NewWriter(&out)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"l/layer.tar", l},
		{sha256Hex(cfg) + ".json", cfg},
		{"manifest.json", []byte(`[{"Config":"` + sha256Hex(cfg) + `.json","RepoTags":["base:1"],"Layers":["l/layer.tar"]}]`)},
	} {
		must(t, tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.data)), Typeflag: tar.TypeReg}))
		tw.Write(f.data)
	}
	must(t, tw.Close())
	return write(t, dir, "base.tar", out.Bytes())
}

// elf64 is the start of a 64-bit little-endian ELF executable for the
// given e_machine.
func elf64(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	h[16], h[18], h[19] = 2, byte(machine), byte(machine>>8)
	return h
}

// TestBadInput: every bad input is one line on stderr naming what is
// wrong, a non-zero exit (2 for a usage error), nothing on stdout and no
// output file, temporary or final.
func TestBadInput(t *testing.T) {
	type tc struct {
		name  string
		setup func(w *workspace) ([]string, []byte) // args, stdin
		code  int
		want  string // part of the message
	}
	d := func(args ...string) func(*workspace) ([]string, []byte) {
		return func(*workspace) ([]string, []byte) { return args, nil }
	}
	// withFile writes a file into the workspace, then uses args with
	// "FILE" standing for its path.
	withFile := func(name string, data []byte, args ...string) func(*workspace) ([]string, []byte) {
		return func(w *workspace) ([]string, []byte) {
			p := write(t, w.dir, name, data)
			var out []string
			for _, a := range args {
				out = append(out, strings.ReplaceAll(a, "FILE", p))
			}
			return out, nil
		}
	}
	descLines := func(args ...string) func(*workspace) ([]string, []byte) {
		return func(w *workspace) ([]string, []byte) { return args, w.descriptorLines() }
	}
	badDesc := func(edit func(*layer.Descriptor), args ...string) func(*workspace) ([]string, []byte) {
		return func(w *workspace) ([]string, []byte) {
			dd := w.descs[1]
			edit(&dd)
			js, _ := json.Marshal(dd)
			p := write(t, w.dir, "bad.json", js)
			return append(args, "layers/0.json", p), nil
		}
	}
	conf := func(keys map[string]any, args ...string) func(*workspace) ([]string, []byte) {
		return func(w *workspace) ([]string, []byte) {
			p := write(t, w.dir, "bad.conf.json", w.confJSON(keys))
			return append([]string{"--nixpkgs-conf", p}, args...), nil
		}
	}
	cases := []tc{
		// Usage errors.
		{"no tag", d("layers/0.json"), 2, "--tag NAME[:TAG] is required"},
		{"unknown flag", d("--bogus"), 2, "bogus"},
		{"bad compression", d("--tag", "a", "--compress", "xz", "layers/0.json"), 2, `unknown compression "xz"`},
		{"max-layers 0", d("--tag", "a", "--max-layers", "0", "layers/0.json"), 2, "--max-layers must be at least 1"},
		{"bad created", d("--tag", "a", "--created", "yesterday", "layers/0.json"), 2, `--created: "yesterday" is not an RFC 3339 time`},
		{"conf with --tag", d("--nixpkgs-conf", "conf.json", "--tag", "a"), 2, "--tag does not go with --nixpkgs-conf"},
		{"conf with descriptors", d("--nixpkgs-conf", "conf.json", "layers/0.json"), 2, "--nixpkgs-conf takes no layer descriptors"},
		{"repo-tag in native mode", d("--tag", "a", "-t", "b:1", "layers/0.json"), 2, "--repo-tag goes with --nixpkgs-conf"},
		// Names.
		{"uppercase name", d("--tag", "App:1", "layers/0.json"), 1, "must be lowercase"},
		{"bad tag", d("--tag", "app:-x", "layers/0.json"), 1, `invalid tag "-x"`},
		{"digest as name", d("--tag", "app@sha256:00", "layers/0.json"), 1, "a digest cannot name"},
		{"bad repo_tag", conf(map[string]any{"repo_tag": "a b"}), 1, "repo_tag"},
		{"bad -t", d("--nixpkgs-conf", "conf.json", "-t", "UP:1"), 1, "must be lowercase"},
		// conf.json.
		{"unreadable conf", d("--nixpkgs-conf", "missing.json"), 1, "missing.json: no such file"},
		{"malformed conf", withFile("c.json", []byte(`{"store_layers": [`), "--nixpkgs-conf", "FILE"), 1, "c.json"},
		{"conf not an object", withFile("c.json", []byte(`[]`), "--nixpkgs-conf", "FILE"), 1, "not a JSON object"},
		{"conf without a key", conf(map[string]any{"store_dir": nil}), 1, `"store_dir": has the wrong type`},
		{"conf uid not a number", conf(map[string]any{"uid": "root"}), 1, `"uid": "root" is not an integer`},
		{"conf config field of the wrong type", conf(map[string]any{"config": map[string]any{"Cmd": "/bin/prog"}}), 1, "config field Cmd must be an array of strings"},
		{"conf store path outside store_dir", conf(map[string]any{"store_layers": [][]string{{"/etc"}}}), 1, "/etc: not in the store directory"},
		{"conf created not a time", conf(map[string]any{"created": "soon"}), 1, `"created"`},
		{"conf architecture not a string", conf(map[string]any{"architecture": []int{1}}), 1, `"architecture": has the wrong type`},
		{"conf too many layers", conf(nil, "--max-layers", "1"), 1, "2 layers, more than the 1 allowed"},
		{"conf base not an archive", func(w *workspace) ([]string, []byte) {
			p := write(t, w.dir, "notatar", []byte("plain text, long enough to be read as a tar header? no.\n"))
			return conf(map[string]any{"from_image": p})(w)
		}, 1, "not a tar archive"},
		// --config.
		{"unreadable config", d("--tag", "a", "--config", "missing.json", "layers/0.json"), 1, "--config: open missing.json: no such file"},
		{"malformed config", withFile("c.json", []byte(`{"Cmd": [}`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "malformed JSON"},
		{"config not an object", withFile("c.json", []byte(`["x"]`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "must be a JSON object"},
		{"config Env of the wrong type", withFile("c.json", []byte(`{"Env": "A=1"}`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "config field Env must be an array of strings, not a string"},
		{"config User of the wrong type", withFile("c.json", []byte(`{"User": 1000}`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "config field User must be a string, not a number"},
		{"config ExposedPorts of the wrong type", withFile("c.json", []byte(`{"ExposedPorts": ["80/tcp"]}`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "config field ExposedPorts"},
		{"config Labels of the wrong type", withFile("c.json", []byte(`{"Labels": {"a": 1}}`), "--tag", "a", "--config", "FILE", "layers/0.json"), 1, "config field Labels"},
		{"entrypoint for another machine", func(w *workspace) ([]string, []byte) {
			exe := write(t, w.paths[0], "bin/arm64-prog", elf64(183)) // carried by layers/0
			c := write(t, w.dir, "c.json", []byte(`{"Entrypoint": ["`+exe+`"]}`))
			return []string{"--tag", "a", "--arch", "amd64", "--config", c, "layers/0.json"}, nil
		}, 1, "is an ELF executable for arm64, which cannot run in a linux/amd64 image"},
		{"Mach-O entrypoint", func(w *workspace) ([]string, []byte) {
			exe := write(t, w.paths[0], "bin/macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1})
			c := write(t, w.dir, "c.json", []byte(`{"Cmd": ["`+exe+`"]}`))
			return []string{"--tag", "a", "--config", c, "layers/0.json"}, nil
		}, 1, "Mach-O"},
		// Descriptors.
		{"unreadable descriptor", d("--tag", "a", "layers/9.json"), 1, "layers/9.json: no such file"},
		{"malformed descriptor", withFile("d.json", []byte(`{"file": `), "--tag", "a", "FILE"), 1, "d.json: descriptor 1"},
		{"descriptor with an unknown key", withFile("d.json", []byte(`{"file": "layers/0.tar", "digest": "x"}`), "--tag", "a", "FILE"), 1, `unknown field "digest"`},
		{"descriptor without a file", withFile("d.json", []byte(`{"diffID": "sha256:`+strings.Repeat("0", 64)+`", "size": 1}`), "--tag", "a", "FILE"), 1, `no "file"`},
		{"descriptor with a bad diffID", badDesc(func(d *layer.Descriptor) { d.DiffID = "sha256:xyz" }, "--tag", "a"), 1, `diffID "sha256:xyz" is not a sha256 digest`},
		{"no descriptors on stdin", func(*workspace) ([]string, []byte) { return []string{"--tag", "a", "-"}, []byte("\n") }, 1, "stdin: no layer descriptor"},
		{"mixed indexes", badDesc(func(d *layer.Descriptor) { d.Index = nil }, "--tag", "a"), 1, "give all or none"},
		{"layer size differs", badDesc(func(d *layer.Descriptor) { d.Size += 512 }, "--tag", "a"), 1, "layers/1.tar is 10240 bytes, its descriptor says 10752"},
		{"layer digest differs", badDesc(func(d *layer.Descriptor) { d.DiffID = d.DiffID[:10] + "0000" + d.DiffID[14:] }, "--tag", "a"), 1, "layers/1.tar does not match its descriptor"},
		{"layer file missing", badDesc(func(d *layer.Descriptor) { d.File = "layers/gone.tar" }, "--tag", "a"), 1, "layer layers/gone.tar: no such file"},
		{"too many layers", descLines("--tag", "a", "--max-layers", "1"), 1, "the image would have 2 layers, more than the 1 allowed (--max-layers)"},
		// Base images.
		{"base image missing", d("--tag", "a", "--from-image", "none.tar", "layers/0.json"), 1, "none.tar: no such file"},
		{"base image not an archive", withFile("b.tar", bytes.Repeat([]byte("not a tar "), 100), "--tag", "a", "--from-image", "FILE", "layers/0.json"), 1, "not a tar archive"},
		{"base image without manifest", func(w *workspace) ([]string, []byte) {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			tw.WriteHeader(&tar.Header{Name: "x", Mode: 0o644, Typeflag: tar.TypeReg})
			tw.Close()
			p := write(t, w.dir, "b.tar", b.Bytes())
			return []string{"--tag", "a", "--from-image", p, "layers/0.json"}, nil
		}, 1, "no manifest.json"},
		{"base layer not matching its diff_id", func(w *workspace) ([]string, []byte) {
			return []string{"--tag", "a", "--from-image", fakeBase(t, w.dir, true), "layers/0.json"}, nil
		}, 1, "does not match its diff_id"},
		{"base image tag not there", func(w *workspace) ([]string, []byte) {
			return []string{"--tag", "a", "--from-image", fakeBase(t, w.dir, false), "--from-image-tag", "other:1", "layers/0.json"}, nil
		}, 1, `has no image tagged "other:1"`},
		{"base layers count", func(w *workspace) ([]string, []byte) {
			return []string{"--tag", "a", "--from-image", fakeBase(t, w.dir, false), "--max-layers", "2", "layers/0.json", "layers/1.json"}, nil
		}, 1, "3 layers, more than the 2 allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorkspace(t)
			args, stdin := c.setup(w)
			before := w.entries(t)
			for _, quiet := range []bool{true, false} {
				full := append([]string{"-o", "out.tar"}, args...)
				if quiet {
					full = append([]string{"-q"}, full...)
				}
				r := runTool(t, w.dir, stdin, "assemble-image", full...)
				if r.code == 0 || (c.code == 2) != (r.code == 2) {
					t.Fatalf("assemble-image %s: exit %d, want %d\n%s", strings.Join(full, " "), r.code, c.code, r.stderr)
				}
				lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
				last := lines[len(lines)-1]
				if quiet && len(lines) != 1 {
					t.Errorf("stderr has %d lines:\n%s", len(lines), r.stderr)
				}
				if !strings.HasPrefix(last, "assemble-image: ") || !strings.Contains(last, c.want) {
					t.Errorf("message %q, want one saying %q", last, c.want)
				}
				if r.stdout != "" {
					t.Errorf("stdout: %q", r.stdout)
				}
				if after := w.entries(t); !reflect.DeepEqual(after, before) {
					t.Errorf("files left behind: %q, before %q", after, before)
				}
			}
		})
	}
}

// TestOutputs: -o writes the archive and prints one JSON result line;
// without -o the archive goes to stdout; descriptors come as files or as
// JSON lines on stdin, in index order either way.
func TestOutputs(t *testing.T) {
	w := newWorkspace(t)
	r := runTool(t, w.dir, nil, "assemble-image", "-q", "--tag", "app:1", "--config", "config.json", "-o", "out.tar", "layers/1.json", "layers/0.json")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var res assemble.Result
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("stdout %q: %v", r.stdout, err)
	}
	file, err := os.ReadFile(filepath.Join(w.dir, "out.tar"))
	must(t, err)
	if res.Name != "app" || res.Tag != "1" || "sha256:"+sha256Hex(configOf(t, w.dir+"/out.tar")) != res.ImageID.String() {
		t.Errorf("result %+v", res)
	}
	if len(res.DiffIDs) != 2 || res.DiffIDs[0] != w.descs[0].DiffID || res.DiffIDs[1] != w.descs[1].DiffID {
		t.Errorf("diffIDs %v, want the descriptors' in index order", res.DiffIDs)
	}

	r = runTool(t, w.dir, w.descriptorLines(), "assemble-image", "-q", "--tag", "app:1", "--config", "config.json")
	if r.code != 0 || r.stdout != string(file) {
		t.Errorf("stdout mode with descriptors on stdin: exit %d, %d bytes (want the %d of -o)\n%s", r.code, len(r.stdout), len(file), r.stderr)
	}

	// Informational messages go to stderr, the archive alone to stdout.
	r = runTool(t, w.dir, nil, "assemble-image", "--tag", "app:1", "--config", "config.json", "layers/0.json", "layers/1.json")
	if r.code != 0 || r.stdout != string(file) || !strings.Contains(r.stderr, "Adding layer 2 from layers/1.tar") {
		t.Errorf("exit %d, %d bytes on stdout, stderr %q", r.code, len(r.stdout), r.stderr)
	}

	// --created now, a derived tag, and compression.
	r = runTool(t, w.dir, nil, "assemble-image", "-q", "--tag", "localhost:5000/app", "--created", "now", "--compress", "zstd", "-o", "now.tar.zst", "layers/0.json")
	must(t, json.Unmarshal([]byte(r.stdout), &res))
	if r.code != 0 || res.Tag != res.ImageID.Encoded()[:32] {
		t.Errorf("derived tag: exit %d, result %+v\n%s", r.code, res, r.stderr)
	}
	ar, err := dockerarchive.Open(filepath.Join(w.dir, "now.tar.zst"))
	must(t, err)
	defer ar.Close()
	var im struct{ Created string }
	must(t, json.Unmarshal(ar.Images[0].Config, &im))
	if !strings.HasPrefix(im.Created, "20") || !reflect.DeepEqual(ar.Images[0].RepoTags, []string{"localhost:5000/app:" + res.Tag}) {
		t.Errorf("created %q, RepoTags %q", im.Created, ar.Images[0].RepoTags)
	}

	// The drop-in mode, with -t overriding the conf's repo_tag.
	r = runTool(t, w.dir, nil, "assemble-image", "-q", "--nixpkgs-conf", "conf.json", "-t", "other:2", "-o", "conf.tar")
	must(t, json.Unmarshal([]byte(r.stdout), &res))
	if r.code != 0 || res.Name != "other" || res.Tag != "2" {
		t.Errorf("-t: exit %d, result %+v\n%s", r.code, res, r.stderr)
	}
}

func configOf(t *testing.T, archive string) []byte {
	t.Helper()
	ar, err := dockerarchive.Open(archive)
	must(t, err)
	defer ar.Close()
	return ar.Images[0].Config
}

// TestWriteErrorMessage: a failing output is named as such in one line.
func TestWriteErrorMessage(t *testing.T) {
	w := newWorkspace(t)
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		testutil.Missing(t, "/dev/full does not exist")
	}
	defer full.Close()
	for _, args := range [][]string{
		{"--tag", "app:1", "layers/0.json", "layers/1.json"},
		{"--nixpkgs-conf", "conf.json"},
	} {
		cmd := exec.Command(filepath.Join(binDir, "assemble-image"), append([]string{"-q"}, args...)...)
		cmd.Dir = w.dir
		cmd.Stdout = full
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || stderr.String() != "assemble-image: write stdout: no space left on device\n" {
			t.Errorf("%s > /dev/full: %v, stderr %q", strings.Join(args, " "), err, stderr.String())
		}
	}
}
