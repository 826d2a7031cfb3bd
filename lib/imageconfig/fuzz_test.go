package imageconfig

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzParse: any input parses or fails with a one-line error, never
// panics; only a valid JSON object parses; every known field of a parsed
// config has its type (as the decoders of its users read it); the JSON of
// a parsed config parses again to the same JSON, and so do the configs
// Overlay makes of it. Seeds (testdata/fuzz/FuzzParse): the conformance
// configs, what docker inspect shows of a real image, every field type,
// stray closers after the object, nulls, bad UTF-8, duplicate keys.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q is not one line", msg)
			}
			if c != nil {
				t.Fatalf("config %v with error %v", c, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("%q is not valid JSON, but it parsed", data)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("%q is not a JSON object, but it parsed", data)
		}
		checkTypes(t, c)
		js := c.JSON()
		if !json.Valid(js) {
			t.Fatalf("JSON() of a parsed config is %q, not JSON", js)
		}
		again, err := Parse(js)
		if err != nil {
			t.Fatalf("JSON() %s does not parse again: %v", js, err)
		}
		if js2 := again.JSON(); !bytes.Equal(js2, js) {
			// The first round may replace invalid UTF-8 in keys; from
			// then on the JSON is a fixed point.
			if js3 := mustParse(t, js2).JSON(); !bytes.Equal(js3, js2) {
				t.Fatalf("JSON() is not stable: %s, then %s, then %s", js, js2, js3)
			}
		}
		for _, o := range []Config{Overlay(c, c), Overlay(Config{}, c), Overlay(c, Config{"Env": json.RawMessage(`["FUZZ=1"]`)})} {
			if _, err := Parse(o.JSON()); err != nil {
				t.Fatalf("Overlay of %s gives %s, which does not parse: %v", js, o.JSON(), err)
			}
			env := o.Strings("Env")
			seen := map[string]bool{}
			for _, e := range env {
				name, _, _ := strings.Cut(e, "=")
				if seen[name] {
					t.Fatalf("Overlay Env %q holds %s twice", env, name)
				}
				seen[name] = true
			}
		}
	})
}

func mustParse(t *testing.T, data []byte) Config {
	t.Helper()
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	return c
}

// checkTypes decodes every known field of c into the Go type its
// consumers use: a field Parse accepted must decode without error.
func checkTypes(t *testing.T, c Config) {
	t.Helper()
	for name, raw := range c {
		k, known := fields[name]
		if !known || string(raw) == "null" {
			continue
		}
		var v any
		switch k {
		case kString:
			v = new(string)
		case kStrings:
			v = new([]string)
		case kSet:
			v = new(map[string]struct{})
		case kLabels:
			v = new(map[string]string)
		case kBool:
			v = new(bool)
		case kInt:
			v = new(int64)
		case kHealthcheck:
			v = new(struct {
				Test                                                   []string
				Interval, Timeout, StartPeriod, StartInterval, Retries int64
			})
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("field %s = %s parsed, but does not decode: %v", name, raw, err)
		}
		if (k == kStrings || k == kLabels || k == kSet) && bytes.Contains(raw, []byte("null")) {
			// A null element would decode to "" silently.
			var elems []json.RawMessage
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &elems) == nil {
				for _, e := range elems {
					if string(e) == "null" {
						t.Fatalf("field %s = %s holds null but parsed", name, raw)
					}
				}
			} else if json.Unmarshal(raw, &obj) == nil {
				for _, e := range obj {
					if string(e) == "null" {
						t.Fatalf("field %s = %s holds null but parsed", name, raw)
					}
				}
			}
		}
	}
}

// TestParseRejectsStrayClosers: a "}" or "]" after the object is trailing
// data (json.Decoder.More reports no more input before them, so Parse
// used to accept them).
func TestParseRejectsStrayClosers(t *testing.T) {
	for _, s := range []string{`{"Cmd": ["a"]}}`, `{"Cmd": ["a"]}]`, `{} ]`, `{}}}`} {
		if c, err := Parse([]byte(s)); err == nil || !strings.Contains(err.Error(), "trailing data") {
			t.Errorf("%s: config %v, error %v; want trailing data", s, c, err)
		}
	}
	if _, err := Parse([]byte("{}\n\t ")); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}
