package pyjson_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// The differential tests send generated inputs to python3.11, one JSON
// line each, and compare its answers, one JSON line each, with ours.
// Strings travel as lists of code points one way and as base64 of
// UTF-8 with surrogatepass (WTF-8, our form) the other.

const seed = 20240229

// count is how many inputs each differential test makes.
func count(n int) int {
	if testing.Short() {
		return n / 10
	}
	return n
}

// python runs script over the input lines and returns its output lines.
func python(t *testing.T, env []string, script string, lines [][]byte) [][]byte {
	t.Helper()
	py := testutil.Need(t, "python3")[0]
	if out, err := exec.Command(py, "-c", "import sys; print(sys.version_info[:2] == (3, 11))").Output(); err != nil || string(out) != "True\n" {
		testutil.Missing(t, "python3 is not Python 3.11, whose behaviour pyjson reproduces")
	}
	prelude := "import base64, json, sys\nenc = lambda s: base64.b64encode(s.encode('utf-8', 'surrogatepass')).decode()\n"
	cmd := exec.Command(py, "-c", prelude+script)
	cmd.Env = append(append(os.Environ(), "PYTHONIOENCODING=utf-8"), env...)
	cmd.Stdin = bytes.NewReader(append(bytes.Join(lines, []byte("\n")), '\n'))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.Bytes())
	}
	var res [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		res = append(res, bytes.Clone(sc.Bytes()))
	}
	if len(res) != len(lines) {
		t.Fatalf("python3 answered %d lines for %d", len(res), len(lines))
	}
	return res
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unb64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPythonDocuments(t *testing.T) {
	g := newGen(seed)
	var docs []string
	for range count(30000) {
		docs = append(docs, g.document())
	}
	for _, c := range dumpCases {
		docs = append(docs, c.in)
	}
	for _, c := range parseErrors {
		docs = append(docs, c.in)
	}
	lines := make([][]byte, len(docs))
	for i, d := range docs {
		lines[i] = []byte(base64.StdEncoding.EncodeToString([]byte(d)))
	}
	out := python(t, nil, `
for line in sys.stdin:
    b = base64.b64decode(line)
    try:
        s = b.decode("utf-8")
    except UnicodeDecodeError as e:
        print(json.dumps(["decode", e.start, e.end, e.reason]))
        continue
    try:
        v = json.loads(s)
    except json.JSONDecodeError as e:
        r = ["syntax", e.msg, e.pos, e.lineno, e.colno]
    except RecursionError as e:
        r = ["recursion"]
    except ValueError as e:
        r = ["value", str(e)]
    else:
        r = ["ok", json.dumps(v, indent=4), json.dumps(v)]
    print(json.dumps(r))
`, lines)

	var ok, failed int
	for i, doc := range docs {
		var want []any
		if err := json.Unmarshal(out[i], &want); err != nil {
			t.Fatal(err)
		}
		v, err := pyjson.Parse([]byte(doc))
		var got []any
		var se *pyjson.SyntaxError
		var de *pyjson.DecodeError
		switch {
		case err == nil:
			ok++
			got = []any{"ok", string(pyjson.Dumps(v, 4)), string(pyjson.DumpsCompact(v))}
		case errors.As(err, &de):
			got = []any{"decode", float64(de.Start), float64(de.End), de.Reason}
		case errors.As(err, &se) && strings.HasPrefix(se.Msg, "Exceeds the limit"):
			got = []any{"value", se.Msg}
		case errors.As(err, &se):
			got = []any{"syntax", se.Msg, float64(se.Char), float64(se.Line), float64(se.Column)}
		default:
			got = []any{"other", err.Error()}
		}
		if !equalJSON(got, want) {
			failed++
			t.Errorf("document %q:\n  go: %q\n  py: %q", doc, got, want)
			if failed > 20 {
				t.FailNow()
			}
		}
	}
	t.Logf("%d documents, %d valid", len(docs), ok)
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestPythonStrings(t *testing.T) {
	g := newGen(seed + 1)
	var strs []string
	for range count(20000) {
		strs = append(strs, g.pyString())
	}
	for _, c := range reprs {
		strs = append(strs, c.s)
	}
	lines := make([][]byte, 0, len(strs))
	for i := range strs {
		// Each line: this string, then it and the next two as a list.
		var cps [][]rune
		for j := i; j < min(i+3, len(strs)); j++ {
			cps = append(cps, pyjson.CodePoints(strs[j]))
		}
		lines = append(lines, mustJSON(t, cps))
	}
	out := python(t, nil, `
for line in sys.stdin:
    ss = ["".join(map(chr, cps)) for cps in json.loads(line)]
    print(json.dumps([enc(repr(ss[0])), enc(repr(ss)), json.dumps(ss[0]), json.dumps(ss, indent=4)]))
`, lines)
	for i, s := range strs {
		var want []string
		if err := json.Unmarshal(out[i], &want); err != nil {
			t.Fatal(err)
		}
		list := strs[i:min(i+3, len(strs))]
		got := []string{
			pyjson.Repr(s),
			pyjson.ReprList(list),
			string(pyjson.Dumps(pyjson.StringOf(s), 4)),
			string(pyjson.Dumps(pyjson.Strings(list), 4)),
		}
		want[0], want[1] = unb64(t, want[0]), unb64(t, want[1])
		for k := range got {
			if got[k] != want[k] {
				t.Errorf("string %q (%U), output %d:\n  go: %q\n  py: %q", s, pyjson.CodePoints(s), k, got[k], want[k])
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestPythonFloats(t *testing.T) {
	g := newGen(seed + 2)
	var bits []uint64
	for _, f := range floatReprs {
		bits = append(bits, math.Float64bits(f.f))
	}
	for e := -30; e <= 30; e++ {
		bits = append(bits, math.Float64bits(math.Pow(10, float64(e))), math.Float64bits(math.Ldexp(1, e*35)))
	}
	for range count(50000) {
		bits = append(bits, g.r.Uint64())
	}
	var texts []string
	for range count(20000) {
		texts = append(texts, g.floatText())
	}

	lines := make([][]byte, 0, len(bits)+len(texts))
	for _, b := range bits {
		lines = append(lines, []byte("b"+strconv.FormatUint(b, 10)))
	}
	for _, s := range texts {
		lines = append(lines, []byte("t"+s))
	}
	out := python(t, nil, `
import struct
for line in sys.stdin:
    line = line.strip()
    if line[0] == "b":
        f = struct.unpack("<d", struct.pack("<Q", int(line[1:])))[0]
        print(json.dumps([repr(f), json.dumps(f)]))
    else:
        v = json.loads(line[1:])
        print(json.dumps([type(v).__name__, json.dumps(v)]))
`, lines)
	for i, b := range bits {
		f := math.Float64frombits(b)
		var want []string
		if err := json.Unmarshal(out[i], &want); err != nil {
			t.Fatal(err)
		}
		if got := pyjson.FloatRepr(f); got != want[0] {
			t.Errorf("FloatRepr(%#016x) = %s, python says %s", b, got, want[0])
		}
		if got := string(pyjson.Dumps(pyjson.FloatOf(f), 4)); got != want[1] {
			t.Errorf("Dumps(%#016x) = %s, python says %s", b, got, want[1])
		}
	}
	// Floats read back: repr tells every double apart, -0.0 included.
	for i, s := range texts {
		var want []string
		if err := json.Unmarshal(out[len(bits)+i], &want); err != nil {
			t.Fatal(err)
		}
		v, err := pyjson.Parse([]byte(s))
		if err != nil {
			t.Errorf("Parse(%s): %v", s, err)
			continue
		}
		got := []string{map[pyjson.Kind]string{pyjson.Int: "int", pyjson.Float: "float"}[v.Kind], string(pyjson.Dumps(v, 4))}
		if got[0] != want[0] || got[1] != want[1] {
			t.Errorf("Parse(%s) = %q, python says %q", s, got, want)
		}
	}
}

func TestPrintableTable(t *testing.T) {
	out := python(t, nil, `
sys.stdin.read()
r = []
for cp in range(0x110000):
    if chr(cp).isprintable():
        if r and r[-1][1] == cp - 1:
            r[-1][1] = cp
        else:
            r.append([cp, cp])
print(json.dumps(r))
`, [][]byte{nil})
	var want [][2]rune
	if err := json.Unmarshal(out[0], &want); err != nil {
		t.Fatal(err)
	}
	var got [][2]rune
	for cp := rune(0); cp < 0x110000; cp++ {
		if pyjson.Printable(cp) {
			if n := len(got); n > 0 && got[n-1][1] == cp-1 {
				got[n-1][1] = cp
			} else {
				got = append(got, [2]rune{cp, cp})
			}
		}
	}
	if !equalJSON(got, want) {
		t.Errorf("the printable table differs from python3's str.isprintable: %d ranges here, %d there; run go generate", len(got), len(want))
	}
}

// isoScript answers for each string: its isoformat and int(timestamp())
// (null when Python raises), or the ValueError's message.
const isoScript = `
from datetime import datetime
for line in sys.stdin:
    s = "".join(map(chr, json.loads(line)))
    try:
        d = datetime.fromisoformat(s)
    except ValueError as e:
        print(json.dumps(["err", enc(str(e))]))
        continue
    try:
        ts = int(d.timestamp())
    except (ValueError, OverflowError, OSError):
        ts = None
    print(json.dumps(["ok", d.isoformat(), ts]))
`

type isoAnswer struct {
	ok  bool
	iso string
	ts  *int64
	err string
}

func askISO(t *testing.T, tz string, strs []string) []isoAnswer {
	t.Helper()
	lines := make([][]byte, len(strs))
	for i, s := range strs {
		lines[i] = mustJSON(t, pyjson.CodePoints(s))
	}
	out := python(t, []string{"TZ=" + tz}, isoScript, lines)
	answers := make([]isoAnswer, len(strs))
	for i := range out {
		var raw []json.RawMessage
		if err := json.Unmarshal(out[i], &raw); err != nil {
			t.Fatal(err)
		}
		var kind string
		json.Unmarshal(raw[0], &kind)
		a := &answers[i]
		if a.ok = kind == "ok"; a.ok {
			json.Unmarshal(raw[1], &a.iso)
			json.Unmarshal(raw[2], &a.ts)
		} else {
			var e string
			json.Unmarshal(raw[1], &e)
			a.err = unb64(t, e)
		}
	}
	return answers
}

func TestPythonISOTime(t *testing.T) {
	g := newGen(seed + 3)
	var strs []string
	for _, c := range isoCases {
		strs = append(strs, c.in)
	}
	for range count(40000) {
		strs = append(strs, g.isoTime())
	}
	answers := askISO(t, "UTC", strs)
	var ok int
	for i, s := range strs {
		checkISO(t, s, answers[i], time.UTC)
		if answers[i].ok {
			ok++
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	t.Logf("%d strings, %d valid", len(strs), ok)
}

// Naive times are local: compare timestamps in zones with DST, odd
// offsets and history.
func TestPythonLocalTimestamp(t *testing.T) {
	g := newGen(seed + 4)
	var strs []string
	for range count(4000) {
		year := 1900 + g.n(250)
		if g.chance(0.1) {
			year = 1 + g.n(9999)
		}
		// DST changes happen in March, April, October, November, at night.
		month := g.pickInt(3, 4, 10, 11, 1+g.n(12))
		strs = append(strs, time.Date(year, time.Month(month), 1+g.n(31), g.n(5), g.n(60), g.n(60), 0, time.UTC).Format("2006-01-02T15:04:05")+
			g.pick("", ".5", ".999999", ".000001"))
	}
	for _, tz := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata", "Pacific/Apia", "Europe/Dublin"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			testutil.Missing(t, "time zone %s: %v", tz, err)
		}
		answers := askISO(t, tz, strs)
		for i, s := range strs {
			checkISO(t, s, answers[i], loc)
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func checkISO(t *testing.T, s string, want isoAnswer, loc *time.Location) {
	t.Helper()
	tm, err := pyjson.ParseISOTime(s)
	if !want.ok {
		var ie *pyjson.ISOTimeError
		if !errors.As(err, &ie) || ie.Msg != want.err {
			t.Errorf("ParseISOTime(%q) = %s, %v; python: %s", s, tm.ISOFormat(), err, want.err)
		}
		return
	}
	if err != nil {
		t.Errorf("ParseISOTime(%q): %v; python: %s", s, err, want.iso)
		return
	}
	if got := tm.ISOFormat(); got != want.iso {
		t.Errorf("ParseISOTime(%q).ISOFormat() = %s; python: %s", s, got, want.iso)
	}
	if want.ts != nil {
		if got := pyjson.TimestampIn(tm, loc); got != *want.ts {
			t.Errorf("ParseISOTime(%q).Timestamp() in %s = %d; python: %d", s, loc, got, *want.ts)
		}
	}
}
