package assemble_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// The conformance digests of ../../testdata/conformance/README.md.
const (
	caseA       = "336425739690350f22697dc691c1ae569a499b3af2ec54d2579a256a39e3c342"
	caseB       = "a27b6a30d4c1b0c781c2ad70d911d1e3b2672617c197306e3f41ccb49c7ab8d9"
	caseAConfig = "eed154d28377592d300fb77efc38d97433e8bc73dd9a05ed35dfbf577a42a22a.json"
	caseBConfig = "a265d0c0728a5ccf991d7f22c3bfda116e44b160dabaf534fd0991a53011af22.json"
	customLayer = "3e3d644cb5129a4b0ad6fc11f34394bbd1292557f240ae230bfd119db3faecf4/layer.tar"
)

func nixpkgs(t *testing.T, conf string, opts assemble.NixpkgsOptions) ([]byte, assemble.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := writeNixpkgs(&buf, conf, opts)
	if err != nil {
		t.Fatalf("Nixpkgs %s: %v", conf, err)
	}
	return buf.Bytes(), res
}

// setConf rewrites one key of a conf.json, keeping the others' bytes and
// order (the config's key order is part of the output).
func setConf(t *testing.T, conf, dst, key string, val pyjson.Value) string {
	t.Helper()
	data, err := os.ReadFile(conf)
	must(t, err)
	v, err := pyjson.Parse(data)
	must(t, err)
	v.Set(key, val)
	must(t, os.WriteFile(dst, pyjson.Dumps(v, 1), 0o644))
	return dst
}

// TestConformance: cases a and b of the conformance fixture give the
// archive digests nixpkgs gives, b also over a gzip- and a zstd-compressed
// a, and again after the store's owners, times and link counts change.
func TestConformance(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	out := filepath.Join(fx.Dir, "out")
	check := func(label string) {
		a, resA := nixpkgs(t, filepath.Join(out, "a.conf.json"), assemble.NixpkgsOptions{})
		if got := sha256Hex(a); got != caseA {
			t.Fatalf("%s: case a archive %s, want %s", label, got, caseA)
		}
		must(t, os.WriteFile(filepath.Join(out, "a.tar"), a, 0o644)) // b's from_image
		if resA.ImageID.Encoded()+".json" != caseAConfig || resA.Name != "fixture/app" || resA.Tag != "a" {
			t.Errorf("%s: case a result %+v", label, resA)
		}
		b, resB := nixpkgs(t, filepath.Join(out, "b.conf.json"), assemble.NixpkgsOptions{})
		if got := sha256Hex(b); got != caseB {
			t.Fatalf("%s: case b archive %s, want %s", label, got, caseB)
		}
		if resB.ImageID.Encoded()+".json" != caseBConfig || len(resB.DiffIDs) != 8 {
			t.Errorf("%s: case b result %+v", label, resB)
		}
		for _, kind := range []compress.Kind{compress.Gzip, compress.Zstd} {
			z := filepath.Join(out, "a.tar."+string(kind))
			must(t, os.WriteFile(z, compressed(t, a, kind), 0o644))
			conf := setConf(t, filepath.Join(out, "b.conf.json"), filepath.Join(out, "b-"+string(kind)+".conf.json"), "from_image", pyjson.StringOf(z))
			got, _ := nixpkgs(t, conf, assemble.NixpkgsOptions{})
			if h := sha256Hex(got); h != caseB {
				t.Errorf("%s: case b over a %s-compressed a: %s, want %s", label, kind, h, caseB)
			}
		}
	}
	check("fixture")

	// Names and contents inside the archives.
	a, err := os.ReadFile(filepath.Join(out, "a.tar"))
	must(t, err)
	am := members(t, a)
	memberData(t, am, caseAConfig)
	b, _ := nixpkgs(t, filepath.Join(out, "b.conf.json"), assemble.NixpkgsOptions{})
	bm := members(t, b)
	im := parseImage(t, memberData(t, bm, caseBConfig))
	wantEnv := []any{"PATH=/bin:/usr/bin", "A=2", "LANG=C.UTF-8", "B=3", "NOEQUALS"}
	if !reflect.DeepEqual(im.Config["Env"], wantEnv) {
		t.Errorf("case b Env %v, want %v", im.Config["Env"], wantEnv)
	}
	if len(im.History) != 8 || len(im.RootFS.DiffIDs) != 8 {
		t.Errorf("case b: %d history entries, %d diff_ids, want 8", len(im.History), len(im.RootFS.DiffIDs))
	}
	// The customisation layer is in case b twice: as a base layer and as
	// its own; the script writes both members.
	n := 0
	for _, m := range bm {
		if m.hdr.Name == customLayer {
			n++
		}
	}
	if n != 2 {
		t.Errorf("case b holds %d members %s, want 2", n, customLayer)
	}
	if got := openArchive(t, b).Images[0].RepoTags; !reflect.DeepEqual(got, []string{"registry.example.com:5000/fixture/app:b"}) {
		t.Errorf("case b RepoTags %q", got)
	}

	defer testutil.Reimpurify(t)()
	check("after Reimpurify")
}

// pythonOracle runs testdata/oracle.py on a conf; tz sets TZ for naive
// times.
func pythonOracle(t *testing.T, conf, tz string, args ...string) []byte {
	t.Helper()
	py := testutil.Need(t, "python3")[0]
	if out, err := exec.Command(py, "-c", "import sys; print(sys.version_info >= (3, 11))").Output(); err != nil || string(out) != "True\n" {
		testutil.Missing(t, "python3 is older than 3.11, whose datetime.fromisoformat the oracle needs")
	}
	cmd := exec.Command(py, append([]string{"testdata/oracle.py", conf}, args...)...)
	cmd.Env = append(os.Environ(), "TZ="+tz)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle.py %s: %v\n%s", conf, err, stderr.Bytes())
	}
	return out
}

// assembleTZ runs the assemble-image binary on a conf with TZ set (the
// process's time zone decides naive times).
func assembleTZ(t *testing.T, conf, tz string, args ...string) []byte {
	t.Helper()
	bin := assembleBin(t)
	cmd := exec.Command(bin, append([]string{"-q", "--nixpkgs-conf", conf}, args...)...)
	cmd.Env = append(os.Environ(), "TZ="+tz)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("assemble-image --nixpkgs-conf %s: %v\n%s", conf, err, stderr.Bytes())
	}
	return out
}

// sameArchive compares two archives member by member, then byte by byte.
func sameArchive(t *testing.T, label string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	gm, wm := members(t, got), members(t, want)
	for i := 0; i < len(gm) && i < len(wm); i++ {
		g, w := gm[i], wm[i]
		if !reflect.DeepEqual(g.hdr, w.hdr) {
			t.Errorf("%s: member %d header\n got %+v\nwant %+v", label, i, g.hdr, w.hdr)
			return
		}
		if !bytes.Equal(g.data, w.data) {
			t.Errorf("%s: member %d (%s) data differs\n got %.2000q\nwant %.2000q", label, i, g.hdr.Name, g.data, w.data)
			return
		}
	}
	if len(gm) != len(wm) {
		t.Errorf("%s: %d members, want %d: %q vs %q", label, len(gm), len(wm), names(gm), names(wm))
		return
	}
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			t.Errorf("%s: the archives (%d and %d bytes) differ first at byte %d", label, len(got), len(want), i)
			return
		}
	}
	t.Errorf("%s: %d bytes, want %d", label, len(got), len(want))
}

// TestNixpkgsOracle compares the drop-in mode with an independent Python
// reading of stream_layered_image.py (testdata/oracle.py) over confs the
// fixture does not cover: config key order, non-ASCII, floats, big
// integers and nested objects; "created"/"mtime" with offsets, fractions,
// naive times in a zone with DST, dates alone; other owners; base images
// of every kind with and without Env on either side; repeated layers; a
// customisation layer owned by a user without a name.
func TestNixpkgsOracle(t *testing.T) {
	store, paths := testStore(t)
	app, lib, link := paths[0], paths[1], paths[2]
	custom := customisationDir(t, rootDir(t))
	nobody := customisationDir(t, rootDir(t))
	must(t, os.Chown(filepath.Join(nobody, "layer.tar"), 4242, 4243))

	config := json.RawMessage(`{"zeta": 1, "Cmd": ["/bin/app", "ünï \ud83d\ude00 \u0001 </x>&"], "alpha": {"z": [1.0, -0.0, 1e100, 3.14159, 1e-7, 123456789012345678901234567890, 5E+3], "a": {"nested": [null, true, false, ""]}},
		"Env": ["B=1", "A=2", "B=3"], "Labels": {"org.example.ünï": "välue", "empty": ""}, "ExposedPorts": {"80/tcp": {}}, "WorkingDir": "/", "Entrypoint": null}`)
	conf := func(keys map[string]any) string {
		k := map[string]any{"store_dir": store, "customisation_layer": custom, "config": config}
		for n, v := range keys {
			k[n] = v
		}
		return writeConf(t, k)
	}
	type tc struct {
		name, conf, tz string
		args           []string
	}
	cases := []tc{
		{name: "store layers", conf: conf(map[string]any{"store_layers": [][]string{{lib}, {app, link}}})},
		{name: "repeated layer", conf: conf(map[string]any{"store_layers": [][]string{{lib}, {app}, {lib}}})},
		{name: "owners and times", conf: conf(map[string]any{
			"store_layers": [][]string{{link, app}}, "uid": 1000, "gid": "100", "uname": "üser", "gname": strings.Repeat("g", 40),
			"created": "2024-02-29T12:34:56.789+05:30", "mtime": "2001-09-09T01:46:40Z"})},
		{name: "naive times in a DST gap", tz: "America/New_York", conf: conf(map[string]any{
			"store_layers": [][]string{{app}}, "created": "2020-06-01T12:00:00", "mtime": "2020-03-08T02:30:00"})},
		{name: "naive times in a repeated hour", tz: "America/New_York", conf: conf(map[string]any{
			"store_layers": [][]string{{app}}, "created": "2020-11-01T01:30:00.5", "mtime": "2020-11-01T01:30:00"})},
		{name: "date only and odd offset", tz: "Asia/Kolkata", conf: conf(map[string]any{
			"store_layers": [][]string{{app}}, "created": "2020-01-01", "mtime": "2020-01-01T00:00:00.999999-00:30:15"})},
		{name: "nameless owner", conf: conf(map[string]any{"store_layers": [][]string{}, "customisation_layer": nobody})},
		{name: "repo tag override", conf: conf(map[string]any{"store_layers": [][]string{{app}}}), args: []string{"-t", "other/name:t"}},
		{name: "architecture", conf: conf(map[string]any{"store_layers": [][]string{{app}}, "architecture": "arm64"})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOracle(t, c.conf, c.tz, c.args...) })
	}

	// Base images: the oracle's own archive (nixpkgs' format) and docker
	// save's two layouts (gzip for one of them), under configs with and
	// without Env; the base's Env is absent in one, and docker save 20.10
	// stores a layer repeated at another depth as a symlink.
	bl := baseLayers(t, 2)
	baseNoEnv := map[string]any{"architecture": "amd64", "os": "linux", "config": map[string]any{"Cmd": []any{"x"}}}
	nix := writeTemp(t, "nix.tar", pythonOracle(t, cases[0].conf, ""))
	d2010 := writeTemp(t, "d20.tar.gz", compressed(t, dockerSave2010(t, fakeImage{tags: []string{"b:1"}, config: baseConfig, layers: bl, history: true}), compress.Gzip))
	d25 := writeTemp(t, "d25.tar", dockerSave25(t, fakeImage{tags: []string{"b:1"}, config: baseConfig, layers: bl}))
	noEnv := writeTemp(t, "noenv.tar", dockerSave25(t, fakeImage{tags: []string{"b:1"}, config: baseNoEnv, layers: bl}))
	repeated := writeTemp(t, "rep.tar", dockerSave2010(t, fakeImage{tags: []string{"b:1"}, config: baseConfig, layers: [][]byte{bl[0], bl[1], bl[0]}}))
	withEnv := config
	configs := map[string]json.RawMessage{
		"no Env":    json.RawMessage(`{"Cmd": ["x"], "zeta": 1}`),
		"empty Env": json.RawMessage(`{"Env": [], "Cmd": ["x"]}`),
		"NOEQUALS":  json.RawMessage(`{"Env": ["NOEQUALS", "LANG=C.UTF-8", "NOEQUALS=now", "PATH=/x"], "User": "1:1"}`),
	}
	for _, b := range []struct {
		name, from string
		config     json.RawMessage
	}{
		{"nixpkgs", nix, withEnv},
		{"nixpkgs", nix, configs["no Env"]},
		{"nixpkgs", nix, configs["empty Env"]},
		{"nixpkgs", nix, configs["NOEQUALS"]},
		{"docker save 20.10 gzip", d2010, withEnv},
		{"docker save 25", d25, configs["NOEQUALS"]},
		{"docker save 20.10 repeated layer", repeated, withEnv},
		{"base without Env", noEnv, withEnv},
		{"base without Env", noEnv, configs["empty Env"]},
		{"base without Env", noEnv, configs["no Env"]},
	} {
		c := conf(map[string]any{"store_layers": [][]string{{app}}, "from_image": b.from, "config": b.config})
		t.Run("base "+b.name, func(t *testing.T) { checkOracle(t, c, "") })
	}
}

func checkOracle(t *testing.T, conf, tz string, args ...string) {
	t.Helper()
	var repoTag []string
	if len(args) == 2 && args[0] == "-t" {
		repoTag = args[1:]
	}
	want := pythonOracle(t, conf, tz, repoTag...)
	var got []byte
	if tz == "" && len(args) == 0 {
		got, _ = nixpkgs(t, conf, assemble.NixpkgsOptions{})
	} else {
		got = assembleTZ(t, conf, tz, args...)
	}
	sameArchive(t, conf, got, want)
}

// TestNixpkgsNow: "now" for created and mtime is one instant: the
// config's created and every member's mtime agree.
func TestNixpkgsNow(t *testing.T) {
	custom := customisationDir(t, rootDir(t))
	conf := writeConf(t, map[string]any{"customisation_layer": custom, "created": "now", "mtime": "now"})
	before := time.Now().Unix()
	b, _ := nixpkgs(t, conf, assemble.NixpkgsOptions{})
	after := time.Now().Unix()
	ms := members(t, b)
	im := parseImage(t, ms[1].data)
	created, err := time.Parse("2006-01-02T15:04:05.999999-07:00", im.Created)
	if err != nil || !strings.HasSuffix(im.Created, "+00:00") {
		t.Fatalf("created %q: %v", im.Created, err)
	}
	if created.Unix() < before || created.Unix() > after {
		t.Errorf("created %s is not between %d and %d", im.Created, before, after)
	}
	for _, m := range ms {
		if m.hdr.ModTime.Unix() != created.Unix() {
			t.Errorf("member %s mtime %d, created %d", m.hdr.Name, m.hdr.ModTime.Unix(), created.Unix())
		}
	}
	if im.History[0].Created != im.Created {
		t.Errorf("history created %q, image created %q", im.History[0].Created, im.Created)
	}
}

// TestNixpkgsRepoTag: the -t override replaces the conf's repo_tag, and
// is checked as docker load checks names.
func TestNixpkgsRepoTag(t *testing.T) {
	custom := customisationDir(t, rootDir(t))
	conf := writeConf(t, map[string]any{"customisation_layer": custom})
	b, res := nixpkgs(t, conf, assemble.NixpkgsOptions{RepoTag: "localhost:5000/other:2"})
	if got := openArchive(t, b).Images[0].RepoTags; !reflect.DeepEqual(got, []string{"localhost:5000/other:2"}) || res.Name != "localhost:5000/other" || res.Tag != "2" {
		t.Errorf("RepoTags %q, result %+v", got, res)
	}
	for _, bad := range []string{"Other:2", "other"} {
		var buf bytes.Buffer
		if _, err := writeNixpkgs(&buf, conf, assemble.NixpkgsOptions{RepoTag: bad}); err == nil || buf.Len() != 0 {
			t.Errorf("bad -t %s accepted (%d bytes written): %v", bad, buf.Len(), err)
		}
	}
}

// TestNixpkgsBadConf: each bad conf is one error naming the conf and the
// key at fault, before anything is written.
func TestNixpkgsBadConf(t *testing.T) {
	store, paths := testStore(t)
	custom := customisationDir(t, rootDir(t))
	other := t.TempDir()
	good := map[string]any{"store_dir": store, "store_layers": [][]string{paths[:1]}, "customisation_layer": custom}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name string
		keys map[string]any
		want string
	}{
		{"path outside store_dir", with("store_layers", [][]string{{other}}), "not in the store directory"},
		{"path not absolute", with("store_layers", [][]string{{"relative"}}), "not an absolute path"},
		{"store_layers not a list of lists", with("store_layers", []any{"x"}), `"store_layers": layer 1 is not a list of paths`},
		{"missing key", with("customisation_layer", nil), `no "customisation_layer"`},
		{"uid not an integer", with("uid", "x1"), `"uid": "x1" is not an integer`},
		{"created not a time", with("created", "yesterday"), `"created"`},
		{"config of the wrong type", with("config", []any{}), `"config": has the wrong type`},
		{"config field of the wrong type", with("config", map[string]any{"Env": "A=1"}), "config field Env must be an array of strings"},
		{"architecture not a string", with("architecture", 64), `"architecture": has the wrong type`},
		{"config number out of range", with("config", json.RawMessage(`{"Labels": {}, "X": {"y": [1, 1e400]}}`)), "config.X.y[1] is NaN or infinite"},
		{"bad repo_tag", with("repo_tag", "UPPER:1"), "repo_tag"},
		{"repo_tag without a tag", with("repo_tag", "app"), `repo_tag: image name "app": no tag`},
		{"base image missing", with("from_image", filepath.Join(other, "none.tar")), "no such file"},
		{"customisation layer missing", with("customisation_layer", other), "customisation_layer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := writeConf(t, c.keys)
			var buf bytes.Buffer
			_, err := writeNixpkgs(&buf, conf, assemble.NixpkgsOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if !strings.Contains(err.Error(), conf) && !strings.Contains(err.Error(), "no such file") {
				t.Errorf("error %q does not name the conf", err)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written", buf.Len())
			}
		})
	}
	if _, err := writeNixpkgs(&bytes.Buffer{}, filepath.Join(other, "none.json"), assemble.NixpkgsOptions{}); err == nil {
		t.Error("a missing conf accepted")
	}
	bad := writeTemp(t, "bad.json", []byte(`{"store_layers": [`))
	if _, err := writeNixpkgs(&bytes.Buffer{}, bad, assemble.NixpkgsOptions{}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("malformed conf: %v", err)
	}
}

// TestNixpkgsBaseLinkNotCopied: a base layer that is a link to a member
// the output does not hold (it belongs to another image of the base
// archive) is written with the data it leads to, under its own name, so
// the archive loads; the script would write a link that dangles.
func TestNixpkgsBaseLinkNotCopied(t *testing.T) {
	l := baseLayers(t, 1)[0]
	cfg := fakeImage{config: baseConfig, layers: [][]byte{l}}.blob(t)
	link := tarHeader("linked/layer.tar", '2')
	link.Linkname = "../first/layer.tar"
	manifest, _ := json.Marshal([]map[string]any{{"Config": "c.json", "RepoTags": []string{"b:1"}, "Layers": []string{"linked/layer.tar"}}})
	from := writeTemp(t, "base.tar", tarOf(t, file("first/layer.tar", l), tarFile{hdr: link}, file("c.json", cfg), file("manifest.json", manifest)))
	custom := customisationDir(t, rootDir(t))
	b, _ := nixpkgs(t, writeConf(t, map[string]any{"from_image": from, "customisation_layer": custom}), assemble.NixpkgsOptions{})
	ms := members(t, b)
	if ms[0].hdr.Name != "linked/layer.tar" || ms[0].hdr.Typeflag != '0' || !bytes.Equal(ms[0].data, l) {
		t.Errorf("first member %+v, want linked/layer.tar holding the layer", ms[0].hdr)
	}
	img := openArchive(t, b).Images[0]
	if err := img.Layers[0].Verify(); err != nil {
		t.Error(err)
	}
}
