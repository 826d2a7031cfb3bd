package closure

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseShapes(t *testing.T) {
	// The same graph in every shape: a -> b (and itself), b -> c, c.
	want := map[string][]string{
		"/nix/store/aaa-a-1": {"/nix/store/bbb-b-2"},
		"/nix/store/bbb-b-2": {"/nix/store/ccc-c"},
		"/nix/store/ccc-c":   {},
	}
	list := `[
	  {"path": "/nix/store/aaa-a-1", "references": ["/nix/store/aaa-a-1", "/nix/store/bbb-b-2"], "narSize": 10, "narHash": "sha256:x", "closureSize": 3},
	  {"path": "/nix/store/bbb-b-2", "references": ["/nix/store/ccc-c", "/nix/store/ccc-c"], "narSize": 20},
	  {"path": "/nix/store/ccc-c", "references": [], "narSize": 30}
	]`
	keyed := `{
	  "/nix/store/aaa-a-1": {"ca": null, "deriver": "/nix/store/x.drv", "narSize": 10, "references": ["/nix/store/aaa-a-1", "/nix/store/bbb-b-2"], "signatures": []},
	  "/nix/store/bbb-b-2": {"narSize": 20, "references": ["/nix/store/ccc-c"]},
	  "/nix/store/ccc-c": {"narSize": 30, "references": []}
	}`
	tests := []struct {
		name, doc, key string
	}{
		{"exportReferencesGraph list", list, ""},
		{"path-info list", strings.ReplaceAll(list, `"narHash": "sha256:x", `, `"valid": true, `), ""},
		{"path-info object", keyed, ""},
		{"structured attrs", `{"name": "img", "system": "x86_64-linux", "outputs": {"out": "/nix/store/out"}, "args": ["-e", "x"], "closure": ` + list + `, "empty": []}`, ""},
		{"structured attrs, key", `{"closure": ` + list + `, "other": [{"path": "/nix/store/zzz-z", "references": []}]}`, "closure"},
		{"structured attrs, key to object", `{"graph": ` + keyed + `, "x": 1}`, "graph"},
		{"structured attrs, later member wins", `{"closure": [], "closure": ` + list + `}`, ""},
		{"entry keys repeated, last wins", `[{"path": "/nix/store/zzz", "references": ["/nix/store/nope"], "path": "/nix/store/ccc-c", "references": []},
		  {"path": "/nix/store/aaa-a-1", "references": ["/nix/store/bbb-b-2"]},
		  {"references": ["/nix/store/ccc-c"], "path": "/nix/store/bbb-b-2"}]`, ""},
		{"escapes", `[{"path": "/nix/store/\u0061aa-a-1", "references": ["/nix\/store/bbb-b-2"]},
		  {"path": "/nix/store/bbb-b-2", "references": ["/nix/store/ccc-c"]}, {"path": "/nix/store/ccc-c", "references": []}]`, ""},
		{"identical duplicate", `[{"path": "/nix/store/aaa-a-1", "references": ["/nix/store/bbb-b-2"]},
		  {"path": "/nix/store/bbb-b-2", "references": ["/nix/store/ccc-c"]}, {"path": "/nix/store/ccc-c", "references": []},
		  {"path": "/nix/store/aaa-a-1", "references": ["/nix/store/aaa-a-1", "/nix/store/bbb-b-2", "/nix/store/bbb-b-2"]}]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Parse(strings.NewReader(tt.doc), "g.json", tt.key)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for i, p := range g.paths {
				got[p] = []string{}
				for _, r := range g.references(int32(i)) {
					got[p] = append(got[p], g.paths[r])
				}
			}
			if len(got) != len(want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			for p, refs := range want {
				if !slices.Equal(got[p], refs) {
					t.Errorf("%s: references %v, want %v", p, got[p], refs)
				}
			}
			if got := g.Popularity(); !slices.Equal(got, []string{"/nix/store/ccc-c", "/nix/store/bbb-b-2", "/nix/store/aaa-a-1"}) {
				t.Errorf("popularity %v", got)
			}
		})
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{`[]`, ` {} `, `{"closure": []}`, `{"name": "x", "closure": []}`} {
		g, err := Parse(strings.NewReader(doc), "g.json", "")
		if err != nil {
			t.Errorf("%s: %v", doc, err)
			continue
		}
		if g.Len() != 0 {
			t.Errorf("%s: %d paths", doc, g.Len())
		}
	}
}

func TestParseOrderAndSizes(t *testing.T) {
	doc := `{"/s/b": {"references": ["/s/a"], "narSize": 7}, "/s/a": {"references": [], "narSize": 3}}`
	g, err := Parse(strings.NewReader(doc), "g.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Paths(), []string{"/s/b", "/s/a"}) || !slices.Equal(g.narSize, []uint64{7, 3}) {
		t.Errorf("paths %v sizes %v", g.Paths(), g.narSize)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, doc, key, want string
	}{
		{"empty input", ``, "", `g.json: malformed JSON at byte 0: unexpected end of JSON input`},
		{"truncated", `[{"path": "/s/a", "refer`, "", `g.json: malformed JSON at byte 24: unexpected end of JSON input`},
		{"bad character", `[{"path": "/s/a", "references": [] x]`, "", `g.json: malformed JSON at byte 36: invalid character 'x' after object key:value pair`},
		{"trailing garbage", `[] []`, "", `g.json: malformed JSON at byte 4: invalid character '[' after top-level value`},
		{"trailing comma", `[{"path": "/s/a", "references": []},]`, "", `g.json: malformed JSON at byte 37: invalid character ']' looking for beginning of value`},
		{"malformed after a shape error", `[1, {]`, "", `g.json: malformed JSON at byte 6: invalid character ']' looking for beginning of object key string`},
		{"malformed in an unused member", `{"closure": [], "x": [1 2]}`, "", `g.json: malformed JSON at byte 25: invalid character '2' after array element`},
		{"number", `42`, "", `g.json: unknown shape: a number, not a list or an object`},
		{"string", `"x"`, "", `g.json: unknown shape: a string, not a list or an object`},
		{"null", `null`, "", `g.json: unknown shape: null, not a list or an object`},
		{"list of numbers", `[1]`, "", `g.json: entry at byte 1: a number, not an object`},
		{"object of strings", `{"name": "x", "args": ["a"]}`, "", `g.json: unknown shape: an object with no list of store paths (members: "name", "args")`},
		{"several lists", `{"a": [{"path": "/s/a", "references": []}], "b": [{"path": "/s/b", "references": []}]}`, "", `g.json: several lists of store paths ("a", "b"): choose one with a key`},
		{"several empty lists", `{"a": [], "b": [], "c": 1}`, "", `g.json: several lists of store paths ("a", "b"): choose one with a key`},
		{"key not there", `{"a": []}`, "b", `g.json: no member "b" (members: "a")`},
		{"key to a string", `{"a": "x"}`, "a", `g.json: member "a" is a string, not a list of store paths`},
		{"key on a list", `[]`, "a", `g.json: the graph is a list, it has no member "a"`},
		{"no path", `[{"references": []}]`, "", `g.json: entry at byte 1: no path`},
		{"path not a string", `[{"path": 1, "references": []}]`, "", `g.json: entry at byte 1: path is a number, not a string`},
		{"empty path", `[{"path": "", "references": []}]`, "", `g.json: an empty store path`},
		{"path with a space", `[{"path": "/s/a b", "references": []}]`, "", `g.json: "/s/a b" is not a store path (white space or control character)`},
		{"no references", `[{"path": "/s/a"}]`, "", `g.json: /s/a: no references`},
		{"references not a list", `[{"path": "/s/a", "references": "/s/b"}]`, "", `g.json: entry at byte 1: references is a string, not a list`},
		{"reference not a string", `[{"path": "/s/a", "references": [null]}]`, "", `g.json: entry at byte 1: a reference is null, not a string`},
		{"keyed value not an object", `{"/s/a": {"references": []}, "/s/b": null}`, "", `g.json: "/s/b": null, not a valid store path`},
		{"keyed value references", `{"/s/a": {"references": 3}}`, "", `g.json: "/s/a": references is a number, not a list`},
		{"missing reference", `[{"path": "/s/a", "references": ["/s/a", "/s/b"]}]`, "", `g.json: /s/a references /s/b, which is not in the graph`},
		{"missing reference, keyed", `{"/s/a": {"references": ["/s/b"]}}`, "", `g.json: /s/a references /s/b, which is not in the graph`},
		{"missing reference with a newline", `[{"path": "/s/a", "references": ["\n"]}]`, "", `g.json: /s/a references "\n", which is not in the graph`},
		{"missing empty reference", `[{"path": "/s/a", "references": [""]}]`, "", `g.json: /s/a references "", which is not in the graph`},
		{"cycle", `[{"path": "/s/a", "references": ["/s/b"]}, {"path": "/s/b", "references": ["/s/a"]}]`, "", `g.json: cycle between /s/b and /s/a`},
		{"cycle below a root", `[{"path": "/s/r", "references": ["/s/a"]}, {"path": "/s/a", "references": ["/s/b", "/s/c"]}, {"path": "/s/c", "references": []},
			{"path": "/s/b", "references": ["/s/d"]}, {"path": "/s/d", "references": ["/s/a", "/s/e"]}, {"path": "/s/e", "references": []}]`, "", `g.json: cycle between /s/d and /s/a`},
		{"different duplicate", `[{"path": "/s/a", "references": []}, {"path": "/s/b", "references": []}, {"path": "/s/a", "references": ["/s/b"]}]`, "", `g.json: /s/a appears twice with different references`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Parse(strings.NewReader(tt.doc), "g.json", tt.key)
			if err == nil {
				t.Fatalf("no error; %d paths", g.Len())
			}
			if err.Error() != tt.want {
				t.Errorf("got  %s\nwant %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines")
			}
		})
	}
}

func TestParseReadError(t *testing.T) {
	_, err := Parse(iotest.ErrReader(errors.New("boom")), "stdin", "")
	if err == nil || err.Error() != "stdin: boom" {
		t.Errorf("got %v", err)
	}
}

// TestParseStrings: strings decode as encoding/json decodes them, invalid
// UTF-8 and lone surrogates included.
func TestParseStrings(t *testing.T) {
	for _, s := range []string{
		`/s/plain`, `/s/\u00e9t\u00E9`, `/s/\ud83d\ude00`, `/s/\ud83d`, `/s/é`, "/s/\xff\xfe", `/s/a\/b`, `/s/\"q\"`,
	} {
		doc := `[{"path": "` + s + `", "references": []}]`
		var want []struct{ Path string }
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		g, err := Parse(strings.NewReader(doc), "g.json", "")
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if g.paths[0] != want[0].Path {
			t.Errorf("%q: got %q, want %q", s, g.paths[0], want[0].Path)
		}
	}
}

func TestParseLargeFile(t *testing.T) {
	// readAll reads a regular file in one go; a file that grows while read
	// is still read to its end.
	f, err := createTemp(t, `[{"path": "/s/a", "references": []}]`)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Parse(f, "g.json", "")
	if err != nil || g.Len() != 1 {
		t.Fatalf("%v", err)
	}
	var r io.Reader = strings.NewReader(`[]`)
	if _, err := Parse(r, "g.json", ""); err != nil {
		t.Fatal(err)
	}
}
