package pyjson_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/pyjson"
)

// The expectations below are what python3.11 printed for
// json.dumps(json.loads(in), indent=4) and json.dumps(json.loads(in)).
var dumpCases = []struct{ in, indented, compact string }{
	{
		`{"b": 1, "a": [1, 2.5, -0.0, 1e2, 1E-7, 1e400, -1e400, 1e-400, NaN, Infinity, -Infinity], "c": {}, "d": [], "b": {"x": null}}`,
		"{\n    \"b\": {\n        \"x\": null\n    },\n    \"a\": [\n        1,\n        2.5,\n        -0.0,\n        100.0,\n        1e-07,\n        Infinity,\n        -Infinity,\n        0.0,\n        NaN,\n        Infinity,\n        -Infinity\n    ],\n    \"c\": {},\n    \"d\": []\n}",
		`{"b": {"x": null}, "a": [1, 2.5, -0.0, 100.0, 1e-07, Infinity, -Infinity, 0.0, NaN, Infinity, -Infinity], "c": {}, "d": []}`,
	},
	{
		`[true, false, null, -0, 0, 123456789012345678901234567890, 0.1, 1e15, 1e16, 0.0001, 0.00001, 1.7976931348623157e308, 5e-324]`,
		"[\n    true,\n    false,\n    null,\n    0,\n    0,\n    123456789012345678901234567890,\n    0.1,\n    1000000000000000.0,\n    1e+16,\n    0.0001,\n    1e-05,\n    1.7976931348623157e+308,\n    5e-324\n]",
		`[true, false, null, 0, 0, 123456789012345678901234567890, 0.1, 1000000000000000.0, 1e+16, 0.0001, 1e-05, 1.7976931348623157e+308, 5e-324]`,
	},
	{
		`"caf\u00e9 \ud83d\ude00 \ud800 \udc00x \u2028 \u007f \/ \b\f\n\r\t \" \\ ü 😀"`,
		`"caf\u00e9 \ud83d\ude00 \ud800 \udc00x \u2028 \u007f / \b\f\n\r\t \" \\ \u00fc \ud83d\ude00"`,
		`"caf\u00e9 \ud83d\ude00 \ud800 \udc00x \u2028 \u007f / \b\f\n\r\t \" \\ \u00fc \ud83d\ude00"`,
	},
	{
		" \t\n\r{\"Env\": [\"PATH=/bin\", \"LANG=C.UTF-8\"], \"Cmd\": [\"/bin/sh\", \"-c\", \"echo 'hi'\"]}\n",
		"{\n    \"Env\": [\n        \"PATH=/bin\",\n        \"LANG=C.UTF-8\"\n    ],\n    \"Cmd\": [\n        \"/bin/sh\",\n        \"-c\",\n        \"echo 'hi'\"\n    ]\n}",
		`{"Env": ["PATH=/bin", "LANG=C.UTF-8"], "Cmd": ["/bin/sh", "-c", "echo 'hi'"]}`,
	},
	{`{"a": 1, "a": 2, "b": 3, "a": 4}`, "{\n    \"a\": 4,\n    \"b\": 3\n}", `{"a": 4, "b": 3}`},
	{
		`[[[]], {"": {"": []}}]`,
		"[\n    [\n        []\n    ],\n    {\n        \"\": {\n            \"\": []\n        }\n    }\n]",
		`[[[]], {"": {"": []}}]`,
	},
	{`12`, `12`, `12`},
	{`"\uD834\uDD1E"`, `"\ud834\udd1e"`, `"\ud834\udd1e"`},
	{`"\ud834\u0041"`, `"\ud834A"`, `"\ud834A"`},
}

func TestDumps(t *testing.T) {
	for _, c := range dumpCases {
		v, err := pyjson.Parse([]byte(c.in))
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := string(pyjson.Dumps(v, 4)); got != c.indented {
			t.Errorf("Dumps(Parse(%q), 4):\n got %q\nwant %q", c.in, got, c.indented)
		}
		if got := string(pyjson.DumpsCompact(v)); got != c.compact {
			t.Errorf("DumpsCompact(Parse(%q)):\n got %q\nwant %q", c.in, got, c.compact)
		}
	}
}

func TestDumpsIndent(t *testing.T) {
	v, err := pyjson.Parse([]byte(`{"a":[1,{}],"b":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	for indent, want := range map[int]string{
		0:  "{\n\"a\": [\n1,\n{}\n],\n\"b\": []\n}",
		-2: "{\n\"a\": [\n1,\n{}\n],\n\"b\": []\n}",
		1:  "{\n \"a\": [\n  1,\n  {}\n ],\n \"b\": []\n}",
	} {
		if got := string(pyjson.Dumps(v, indent)); got != want {
			t.Errorf("indent %d: got %q, want %q", indent, got, want)
		}
	}
}

// Python's messages for json.loads(in), and for bytes that are not UTF-8
// those of bytes.decode("utf-8").
var parseErrors = []struct{ in, msg string }{
	{``, "Expecting value: line 1 column 1 (char 0)"},
	{` `, "Expecting value: line 1 column 2 (char 1)"},
	{"\n\n  x", "Expecting value: line 3 column 3 (char 4)"},
	{`[1,]`, "Expecting value: line 1 column 4 (char 3)"},
	{`{"a":1,}`, "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"},
	{`{"a" 1}`, "Expecting ':' delimiter: line 1 column 6 (char 5)"},
	{`[1 2]`, "Expecting ',' delimiter: line 1 column 4 (char 3)"},
	{`{`, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"},
	{`{"a":`, "Expecting value: line 1 column 6 (char 5)"},
	{"\uFEFF1", "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)"},
	{`"\ud800\u12"`, `Invalid \uXXXX escape: line 1 column 9 (char 8)`},
	{`"\ud800\uzzzz"`, `Invalid \uXXXX escape: line 1 column 9 (char 8)`},
	{`"\ud800\udc00`, `Invalid \uXXXX escape: line 1 column 9 (char 8)`},
	{`"\u1234`, `Invalid \uXXXX escape: line 1 column 3 (char 2)`},
	{`"\x"`, `Invalid \escape: line 1 column 2 (char 1)`},
	{`"abc`, "Unterminated string starting at: line 1 column 1 (char 0)"},
	{`"\`, "Unterminated string starting at: line 1 column 1 (char 0)"},
	{"\"a\x01\"", "Invalid control character at: line 1 column 3 (char 2)"},
	{`nul`, "Expecting value: line 1 column 1 (char 0)"},
	{`-NaN`, "Expecting value: line 1 column 1 (char 0)"},
	{`Infinityx`, "Extra data: line 1 column 9 (char 8)"},
	{`01`, "Extra data: line 1 column 2 (char 1)"},
	{`1.e5`, "Extra data: line 1 column 2 (char 1)"},
	{`1e+`, "Extra data: line 1 column 2 (char 1)"},
	{`1 2`, "Extra data: line 1 column 3 (char 2)"},
	{`["é", x]`, "Expecting value: line 1 column 7 (char 6, byte 7)"},
	{strings.Repeat("1", 4301), "Exceeds the limit (4300 digits) for integer string conversion: value has 4301 digits; use sys.set_int_max_str_digits() to increase the limit: line 1 column 1 (char 0)"},
	{"a\xe2\x28\xa1", "'utf-8' codec can't decode byte 0xe2 in position 1: invalid continuation byte"},
	{"\xe2\x82\x28", "'utf-8' codec can't decode bytes in position 0-1: invalid continuation byte"},
	{"\xf0\x9f\x98", "'utf-8' codec can't decode bytes in position 0-2: unexpected end of data"},
	{"\xed\xa0\x80", "'utf-8' codec can't decode byte 0xed in position 0: invalid continuation byte"},
	{"\xc0\x80", "'utf-8' codec can't decode byte 0xc0 in position 0: invalid start byte"},
}

func TestParseErrors(t *testing.T) {
	for _, c := range parseErrors {
		v, err := pyjson.Parse([]byte(c.in))
		if err == nil {
			t.Errorf("Parse(%q) = %s, want error %q", c.in, pyjson.DumpsCompact(v), c.msg)
		} else if err.Error() != c.msg {
			t.Errorf("Parse(%q):\n got error %q\nwant error %q", c.in, err, c.msg)
		}
	}
}

func TestParseDepth(t *testing.T) {
	ok := strings.Repeat("[", pyjson.MaxDepth) + strings.Repeat("]", pyjson.MaxDepth)
	if _, err := pyjson.Parse([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", pyjson.MaxDepth, err)
	}
	deep := strings.Repeat(`{"a":[`, 100000)
	_, err := pyjson.Parse([]byte(deep))
	var se *pyjson.SyntaxError
	if !errors.As(err, &se) || !strings.HasPrefix(se.Msg, "maximum nesting depth exceeded") || se.Offset != 6*500 {
		t.Errorf("deep nesting: %v", err)
	}
}

func TestParseValues(t *testing.T) {
	v, err := pyjson.Parse([]byte(`{"i": -0, "big": -123456789012345678901234567890, "f": 1e2, "s": "\ud800x", "n": -1e-400}`))
	if err != nil {
		t.Fatal(err)
	}
	check := func(key string, kind pyjson.Kind, test func(pyjson.Value) bool) {
		t.Helper()
		got, ok := v.Get(key)
		if !ok || got.Kind != kind || !test(got) {
			t.Errorf("%s: got %+v", key, got)
		}
	}
	check("i", pyjson.Int, func(v pyjson.Value) bool { return v.Int.Sign() == 0 })
	check("big", pyjson.Int, func(v pyjson.Value) bool { return v.Int.String() == "-123456789012345678901234567890" })
	check("f", pyjson.Float, func(v pyjson.Value) bool { return v.Float == 100 })
	check("s", pyjson.String, func(v pyjson.Value) bool { return v.Str == "\xed\xa0\x80x" })
	check("n", pyjson.Float, func(v pyjson.Value) bool { return v.Float == 0 && math.Signbit(v.Float) })
	if _, ok := v.Get("missing"); ok {
		t.Error("Get of a missing key succeeded")
	}
	if _, ok := pyjson.StringOf("x").Get("x"); ok {
		t.Error("Get on a string succeeded")
	}
}

func TestSet(t *testing.T) {
	v := pyjson.ObjectOf(
		pyjson.Member{Key: "Env", Value: pyjson.Strings([]string{"A=1"})},
		pyjson.Member{Key: "Cmd", Value: pyjson.Value{}},
		pyjson.Member{Key: "Env", Value: pyjson.IntOf(2)},
	)
	v.Set("Cmd", pyjson.ArrayOf(pyjson.StringOf("sh"), pyjson.BoolOf(true), pyjson.FloatOf(0.5)))
	v.Set("Labels", pyjson.ObjectOf())
	want := `{"Env": 2, "Cmd": ["sh", true, 0.5], "Labels": {}}`
	if got := string(pyjson.DumpsCompact(v)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	w, err := pyjson.Parse([]byte(want))
	if err != nil || !w.Equal(v) {
		t.Errorf("Parse(DumpsCompact(v)) = %v, %v; not Equal to v", w, err)
	}
	if w.Equal(pyjson.ObjectOf()) || pyjson.IntOf(1).Equal(pyjson.FloatOf(1)) ||
		pyjson.FloatOf(0).Equal(pyjson.FloatOf(math.Copysign(0, -1))) || !pyjson.FloatOf(math.NaN()).Equal(pyjson.FloatOf(math.NaN())) {
		t.Error("Equal is wrong")
	}
}

// Python's repr() of floats.
var floatReprs = []struct {
	f    float64
	repr string
}{
	{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1.5, "1.5"}, {-2, "-2.0"},
	{1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {123456789012345678, "1.2345678901234568e+17"},
	{9999999999999998, "9999999999999998.0"}, {0.0001, "0.0001"}, {0.00012345, "0.00012345"},
	{1e-05, "1e-05"}, {1.5e-7, "1.5e-07"}, {0.30000000000000004, "0.30000000000000004"},
	{math.MaxFloat64, "1.7976931348623157e+308"}, {5e-324, "5e-324"}, {2.2250738585072014e-308, "2.2250738585072014e-308"},
	{1e100, "1e+100"}, {math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
}

func TestFloatRepr(t *testing.T) {
	for _, c := range floatReprs {
		if got := pyjson.FloatRepr(c.f); got != c.repr {
			t.Errorf("FloatRepr(%v) = %s, want %s", c.f, got, c.repr)
		}
	}
}

// Python's repr() of strings; a Go string holds a lone surrogate as WTF-8
// and a stray byte stands for its surrogateescape character.
var reprs = []struct{ s, repr string }{
	{"", "''"},
	{"abc", "'abc'"},
	{"it's", `"it's"`},
	{`say "hi"`, `'say "hi"'`},
	{`it's "x"`, `'it\'s "x"'`},
	{"a\\b", `'a\\b'`},
	{"\t\n\r\x00\x1f\x7f", `'\t\n\r\x00\x1f\x7f'`},
	{"\u00a0\u00ad\u00e9", `'\xa0\xadé'`},
	{"\u2028\u200b\ufeff\uffff", `'\u2028\u200b\ufeff\uffff'`},
	{"日本 😀 \U000e0001", `'日本 😀 \U000e0001'`},
	{"\U00011F00\U0001E030", `'\U00011f00\U0001e030'`}, // Unicode 15.0, not 14.0
	{"\xed\xa0\x80\xed\xbf\xbf", `'\ud800\udfff'`},
	{"/nix/\xff", `'/nix/\udcff'`},
}

func TestRepr(t *testing.T) {
	for _, c := range reprs {
		if got := pyjson.Repr(c.s); got != c.repr {
			t.Errorf("Repr(%q) = %s, want %s", c.s, got, c.repr)
		}
	}
	paths := []string{"/nix/store/abc-hello", "/nix/store/it's"}
	if got, want := pyjson.ReprList(paths), `['/nix/store/abc-hello', "/nix/store/it's"]`; got != want {
		t.Errorf("ReprList = %s, want %s", got, want)
	}
	if got := pyjson.ReprList(nil); got != "[]" {
		t.Errorf("ReprList(nil) = %s", got)
	}
}
