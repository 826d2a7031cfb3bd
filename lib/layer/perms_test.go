package layer_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
)

func readPerms(t *testing.T, js string) []layer.Perm {
	t.Helper()
	perms, err := layer.ReadPerms(strings.NewReader(js), "perms.json")
	if err != nil {
		t.Fatal(err)
	}
	return perms
}

// TestPermsMatchOracle: store layers written with permission rules have
// the bytes the Python reference writes applying the rules as documented:
// a rule's path bounds it by components (.../b is not .../b-c), its regex
// is unanchored, later rules win field by field, absent fields keep the
// layer's, and the leading /nix, /nix/store are entries like the others.
func TestPermsMatchOracle(t *testing.T) {
	store, paths := edgeStore(t)
	p1, p3 := paths[0], paths[2]
	rules := []map[string]any{
		{"path": p1, "regex": "/bin/", "mode": "0700", "uid": 1000, "gid": 1000, "uname": "app", "gname": "app"},
		{"path": p1 + "/b", "mode": "4711"},
		{"path": "/", "regex": `\.bin$`, "gid": 5},
		{"path": "/nix", "uname": strings.Repeat("x", 40)},
		{"path": p1 + "/bin/prog", "mode": "500", "uid": 0},
		{"path": p3, "uid": 7, "gname": "grüppe"},
		{"path": p1 + "/share", "regex": "ünï"},
		{"path": p1 + "/sticky/", "mode": "0"},
	}
	js, _ := json.Marshal(rules)
	for _, tc := range []struct {
		name string
		edit func(*layer.Options)
	}{
		{"defaults", func(*layer.Options) {}},
		{"other owner", func(o *layer.Options) { o.Uid, o.Gid, o.Uname, o.Gname = 1000, 100, "user", "users" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := layer.Defaults()
			o.StoreDir = store
			o.Leading = []string{"/nix", "/nix/store"}
			o.TarSum = true
			tc.edit(&o)
			o.Perms = readPerms(t, string(js))
			got, res := goLayer(t, paths, o)
			want := pythonLayer(t, paths, o)
			if !bytes.Equal(got, want) {
				t.Fatalf("layer differs from the Python reference at byte %d (%d vs %d bytes)", firstDiff(got, want), len(got), len(want))
			}
			checkResult(t, got, res)
			o.Perms = nil
			if plain, _ := goLayer(t, paths, o); bytes.Equal(plain, got) {
				t.Fatal("the rules changed nothing")
			}
		})
	}
}

// TestPermsEntries checks a few entries by hand, in a store layer and in
// a root layer (whose paths are the image's: /etc/passwd).
func TestPermsEntries(t *testing.T) {
	store, paths := edgeStore(t)
	p1 := paths[0]
	o := layer.Defaults()
	o.StoreDir = store
	o.Perms = readPerms(t, `[
		{"path": "`+p1+`/b", "mode": "0600", "uid": 1000, "gid": 1001, "uname": "app", "gname": "grp"},
		{"path": "`+p1+`/b/c", "uid": 2000}
	]`)
	data, _ := goLayer(t, paths[:1], o)
	type want struct {
		mode       int64
		uid, gid   int
		uname, grp string
	}
	check := func(data []byte, wants map[string]want) {
		t.Helper()
		seen := 0
		for _, h := range readHeaders(t, data) {
			w, ok := wants[h.Name]
			if !ok {
				continue
			}
			seen++
			if h.Mode != w.mode || h.Uid != w.uid || h.Gid != w.gid || h.Uname != w.uname || h.Gname != w.grp {
				t.Errorf("%s: %o %d:%d %s:%s, want %o %d:%d %s:%s", h.Name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, w.mode, w.uid, w.gid, w.uname, w.grp)
			}
		}
		if seen != len(wants) {
			t.Errorf("%d of the entries %v in the layer", seen, wants)
		}
	}
	check(data, map[string]want{
		p1 + "/b/":   {0o600, 1000, 1001, "app", "grp"},
		p1 + "/b/c":  {0o600, 2000, 1001, "app", "grp"},
		p1 + "/b-c":  {0o444, 0, 0, "root", "root"},
		p1 + "/b.c":  {0o444, 0, 0, "root", "root"},
		p1 + "/bin/": {0o755, 0, 0, "root", "root"},
	})

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("x\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "home", "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "home", "app", ".profile"), []byte("x\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "suid"), []byte("x\n"), 0o755)
	o = layer.Defaults()
	o.Perms = readPerms(t, `[
		{"path": "/home/app", "uid": 1000, "gid": 1000},
		{"path": "/", "regex": "^/home/app$", "mode": "0700"},
		{"path": "/suid", "mode": "4755"},
		{"path": "/etc/passwd", "regex": "^/etc/passwd$", "mode": "0640", "gid": 42}
	]`)
	var buf bytes.Buffer
	res, err := layer.WriteRoot(&buf, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, buf.Bytes(), res)
	check(buf.Bytes(), map[string]want{
		"/etc/":              {0o755, 0, 0, "root", "root"},
		"/etc/passwd":        {0o640, 0, 42, "root", "root"},
		"/home/":             {0o755, 0, 0, "root", "root"},
		"/home/app/":         {0o700, 1000, 1000, "root", "root"},
		"/home/app/.profile": {0o644, 1000, 1000, "root", "root"},
		"/suid":              {0o4755, 0, 0, "root", "root"},
	})
}

// TestReadPermsBadInput: what is not a list of valid rules is one error
// naming the file, the rule and the reason.
func TestReadPermsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, js, want string
	}{
		{"not JSON", `[{"path": "/"`, "perms.json: not a JSON list of permission rules: unexpected EOF"},
		{"an object", `{"path": "/"}`, "perms.json: not a JSON list of permission rules: json: cannot unmarshal object"},
		{"null", `null`, "perms.json: not a JSON list of permission rules: null"},
		{"empty", ``, "perms.json: not a JSON list of permission rules: EOF"},
		{"more after", `[] []`, "perms.json: not a JSON list of permission rules: more after the list"},
		{"unknown field", `[{"path": "/", "orMode": "0200"}]`, `perms.json: not a JSON list of permission rules: json: unknown field "orMode"`},
		{"mode a number", `[{"path": "/", "mode": 493}]`, "perms.json: not a JSON list of permission rules: json: cannot unmarshal number into Go struct field Perm.mode of type string"},
		{"no path", `[{"regex": ".*"}]`, `perms.json: rule 1: path "": not an absolute path`},
		{"relative path", `[{"path": "/"}, {"path": "etc"}]`, `perms.json: rule 2: path "etc": not an absolute path`},
		{"bad regex", `[{"path": "/", "regex": "(a"}]`, "perms.json: rule 1: regex \"(a\": error parsing regexp: missing closing ): `(a`"},
		{"mode not octal", `[{"path": "/", "mode": "0789"}]`, `perms.json: rule 1: mode "0789": not an octal mode from 0 to 7777`},
		{"mode too large", `[{"path": "/", "mode": "17777"}]`, `perms.json: rule 1: mode "17777": not an octal mode from 0 to 7777`},
		{"mode with prefix", `[{"path": "/", "mode": "0o755"}]`, `perms.json: rule 1: mode "0o755": not an octal mode from 0 to 7777`},
		{"mode negative", `[{"path": "/", "mode": "-1"}]`, `perms.json: rule 1: mode "-1": not an octal mode from 0 to 7777`},
		{"negative uid", `[{"path": "/", "uid": -1}]`, "perms.json: rule 1: uid -1: not a user or group number"},
		{"gid too large", `[{"path": "/", "gid": 4294967295}]`, "perms.json: rule 1: gid 4294967295: not a user or group number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := layer.ReadPerms(strings.NewReader(tc.js), "perms.json")
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line starting %q", err, tc.want)
			}
		})
	}
}

// TestPermsNotCompiled: rules that did not go through CompilePerms are an
// error, not rules silently ignored.
func TestPermsNotCompiled(t *testing.T) {
	_, paths := edgeStore(t)
	o := layer.Defaults()
	o.StoreDir = filepath.Dir(paths[0])
	o.Perms = []layer.Perm{{Path: "/", Mode: "0700"}}
	if _, err := layer.WriteStorePaths(io.Discard, paths[:1], o); err == nil {
		t.Fatal("rules not compiled: no error")
	}
	if err := layer.CompilePerms(o.Perms); err != nil {
		t.Fatal(err)
	}
	if _, err := layer.WriteStorePaths(io.Discard, paths[:1], o); err != nil {
		t.Fatal(err)
	}
}

// TestDescriptorKeepsPerms: a --digest-only descriptor records the rules,
// and the layer it writes again from the store has them, byte for byte;
// a descriptor with a bad rule is refused when read.
func TestDescriptorKeepsPerms(t *testing.T) {
	store, paths := modelStore(t)
	o := layer.Defaults()
	o.StoreDir = store
	o.Perms = readPerms(t, `[{"path": "`+paths[0]+`/bin", "mode": "4750", "uid": 1000, "uname": "app"}]`)
	var want bytes.Buffer
	res, err := layer.WriteStorePaths(&want, paths, o)
	if err != nil {
		t.Fatal(err)
	}
	d := layer.Descriptor{DiffID: res.DiffID, Size: res.Size, Paths: paths}
	d.SetOptions(o)
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(js, []byte(`"perms":[{"path":"`+paths[0]+`/bin","mode":"4750","uid":1000,"uname":"app"}]`)) {
		t.Errorf("descriptor %s does not record the rule as given", js)
	}
	ds, err := layer.ReadDescriptors(bytes.NewReader(js), "layer.json")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ds[0].Layer()
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := l.Stream(&got); err != nil || !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("written again from the descriptor: %v (%d bytes, want %d)", err, got.Len(), want.Len())
	}

	bad := bytes.Replace(js, []byte(`"4750"`), []byte(`"8"`), 1)
	if _, err := layer.ReadDescriptors(bytes.NewReader(bad), "layer.json"); err == nil || !strings.Contains(err.Error(), `perms: rule 1: mode "8"`) {
		t.Errorf("descriptor with a bad mode: %v", err)
	}
	unknown := bytes.Replace(js, []byte(`"uname":"app"`), []byte(`"user":"app"`), 1)
	if _, err := layer.ReadDescriptors(bytes.NewReader(unknown), "layer.json"); err == nil || !strings.Contains(err.Error(), `unknown field "user"`) {
		t.Errorf("descriptor with an unknown rule field: %v", err)
	}
}
