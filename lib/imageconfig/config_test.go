package imageconfig

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseTypes(t *testing.T) {
	for _, tc := range []struct {
		in    string
		field string // "" when valid
	}{
		{`{}`, ""},
		{`{"Cmd": ["a", "b"], "Entrypoint": null, "Env": [], "User": "1:2", "WorkingDir": "/"}`, ""},
		{`{"ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}, "Labels": {"a": "b"}}`, ""},
		{`{"Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 3}, "StopSignal": "SIGTERM"}`, ""},
		{`{"Unknown": [1, {"x": 2}], "ArgsEscaped": true, "StopTimeout": 10}`, ""},
		{`{"Cmd": "echo hi"}`, "Cmd"},
		{`{"Cmd": ["a", 1]}`, "Cmd"},
		{`{"Cmd": ["a", null]}`, "Cmd"},
		{`{"Env": {"A": "1"}}`, "Env"},
		{`{"User": 1000}`, "User"},
		{`{"WorkingDir": ["/"]}`, "WorkingDir"},
		{`{"ExposedPorts": ["80/tcp"]}`, "ExposedPorts"},
		{`{"ExposedPorts": {"80/tcp": null}}`, "ExposedPorts"},
		{`{"Labels": {"a": 1}}`, "Labels"},
		{`{"ArgsEscaped": "yes"}`, "ArgsEscaped"},
		{`{"StopTimeout": 1.5}`, "StopTimeout"},
		{`{"Healthcheck": {"Test": "true"}}`, "Healthcheck"},
	} {
		_, err := Parse([]byte(tc.in))
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case tc.field != "" && (err == nil || !strings.Contains(err.Error(), "config field "+tc.field+" ")):
			t.Errorf("%s: error %v, want one naming %s", tc.in, err, tc.field)
		}
	}
	for _, bad := range []string{``, `[]`, `null`, `{"a":1} {}`, `{"a":`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestMergeEnv(t *testing.T) {
	for _, tc := range []struct{ base, over, want []string }{
		{nil, nil, nil},
		{[]string{"A=1"}, nil, []string{"A=1"}},
		{[]string{"PATH=/bin", "A=1", "LANG=C.UTF-8"}, []string{"A=2", "B=3", "PATH=/bin:/usr/bin", "NOEQUALS"},
			[]string{"PATH=/bin:/usr/bin", "A=2", "LANG=C.UTF-8", "B=3", "NOEQUALS"}}, // conformance case b
		{[]string{"A=1", "A=2"}, []string{"A=3"}, []string{"A=3"}},
		{[]string{"X"}, []string{"X=1"}, []string{"X=1"}},
		{nil, []string{"A=1=2", "A==", "B="}, []string{"A==", "B="}},
	} {
		if got := MergeEnv(tc.base, tc.over); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("MergeEnv(%q, %q) = %q, want %q", tc.base, tc.over, got, tc.want)
		}
	}
}

func TestOverlay(t *testing.T) {
	parse := func(s string) Config {
		c, err := Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse(`{"Cmd": ["serve"], "Entrypoint": ["/bin/app"], "User": "1", "Env": ["A=1", "B=1"], "Labels": {"x": "y"}}`)
	for _, tc := range []struct{ over, want string }{
		{`{}`, `{"Cmd":["serve"],"Entrypoint":["/bin/app"],"Env":["A=1","B=1"],"Labels":{"x":"y"},"User":"1"}`},
		{`{"User": "2", "Env": ["B=2", "C=3"]}`, `{"Cmd":["serve"],"Entrypoint":["/bin/app"],"Env":["A=1","B=2","C=3"],"Labels":{"x":"y"},"User":"2"}`},
		{`{"Cmd": ["other"]}`, `{"Cmd":["other"],"Entrypoint":["/bin/app"],"Env":["A=1","B=1"],"Labels":{"x":"y"},"User":"1"}`},
		{`{"Entrypoint": ["/bin/other"]}`, `{"Entrypoint":["/bin/other"],"Env":["A=1","B=1"],"Labels":{"x":"y"},"User":"1"}`},
		{`{"Entrypoint": ["/bin/other"], "Cmd": ["x"]}`, `{"Cmd":["x"],"Entrypoint":["/bin/other"],"Env":["A=1","B=1"],"Labels":{"x":"y"},"User":"1"}`},
		{`{"User": null}`, `{"Cmd":["serve"],"Entrypoint":["/bin/app"],"Env":["A=1","B=1"],"Labels":{"x":"y"},"User":"1"}`},
	} {
		got := string(Overlay(base, parse(tc.over)).JSON())
		if got != tc.want {
			t.Errorf("Overlay(base, %s) =\n %s\nwant\n %s", tc.over, got, tc.want)
		}
	}
	if got := string(Overlay(nil, parse(`{"Env": ["A=1"]}`)).JSON()); got != `{"Env":["A=1"]}` {
		t.Errorf("Overlay on no base: %s", got)
	}
}

func TestParseBaseHistory(t *testing.T) {
	blob := `{"architecture":"arm64","os":"linux","config":{"Env":["A=1"]},
	  "rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("a", 64) + `","sha256:` + strings.Repeat("b", 64) + `"]},
	  "history":[{"created_by":"x"},{"empty_layer":true},{"created_by":"y"}]}`
	b, err := ParseBase([]byte(blob))
	if err != nil {
		t.Fatal(err)
	}
	if b.Arch != "arm64" || len(b.DiffIDs) != 2 || len(b.LayerHistory("t")) != 3 {
		t.Errorf("base %+v", b)
	}
	// A history that does not match the layers is replaced, one per layer.
	var raw map[string]any
	json.Unmarshal([]byte(blob), &raw)
	raw["history"] = []any{}
	blob2, _ := json.Marshal(raw)
	b2, _ := ParseBase(blob2)
	if h := b2.LayerHistory("t"); len(h) != 2 || h[0].Created != "t" {
		t.Errorf("made-up history %+v", h)
	}
}
