package pyjson_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/pyjson"
)

// FuzzParse: Parse never panics, its errors point into the input, and
// what it accepts Dumps writes in a form Parse reads back to the same
// value and the same bytes. Seeds: testdata/fuzz/FuzzParse and the tables.
func FuzzParse(f *testing.F) {
	for _, c := range dumpCases {
		f.Add([]byte(c.in))
	}
	for _, c := range parseErrors {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := pyjson.Parse(data)
		if err != nil {
			var se *pyjson.SyntaxError
			var de *pyjson.DecodeError
			switch {
			case errors.As(err, &se):
				if se.Offset < 0 || se.Offset > len(data) || se.Char > se.Offset || se.Line < 1 || se.Column < 1 {
					t.Fatalf("error %v out of the input (%d bytes)", se, len(data))
				}
			case errors.As(err, &de):
				if de.Start < 0 || de.End <= de.Start || de.End > len(data) || data[de.Start] != de.Byte {
					t.Fatalf("error %v out of the input (%d bytes)", de, len(data))
				}
			default:
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, out := range [][]byte{pyjson.Dumps(v, 4), pyjson.DumpsCompact(v)} {
			w, err := pyjson.Parse(out)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, reading back %q", data, err, out)
			}
			if !w.Equal(v) {
				t.Fatalf("Parse(%q) reads back different from %q", data, out)
			}
			if again := pyjson.Dumps(w, 4); !bytes.Equal(again, pyjson.Dumps(v, 4)) {
				t.Fatalf("Parse(%q): dumps %q, then %q", data, pyjson.Dumps(v, 4), again)
			}
		}
		walkStrings(v, func(s string) { pyjson.Repr(s) })
	})
}

func walkStrings(v pyjson.Value, fn func(string)) {
	switch v.Kind {
	case pyjson.String:
		fn(v.Str)
	case pyjson.Array:
		for _, item := range v.Arr {
			walkStrings(item, fn)
		}
	case pyjson.Object:
		for _, m := range v.Obj {
			fn(m.Key)
			walkStrings(m.Value, fn)
		}
	}
}

// FuzzParseISOTime: ParseISOTime never panics, names the string when it
// fails, and reads its own ISOFormat back to the same time.
func FuzzParseISOTime(f *testing.F) {
	for _, c := range isoCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := pyjson.ParseISOTime(s)
		if err != nil {
			var ie *pyjson.ISOTimeError
			if !errors.As(err, &ie) || ie.Input != s {
				t.Fatalf("ParseISOTime(%q): error %v", s, err)
			}
			return
		}
		iso := tm.ISOFormat()
		back, err := pyjson.ParseISOTime(iso)
		if err != nil || back != tm {
			t.Fatalf("ParseISOTime(%q) = %s, which reads back as %v, %v", s, iso, back.ISOFormat(), err)
		}
		if ts, bts := pyjson.TimestampIn(tm, time.UTC), pyjson.TimestampIn(back, time.UTC); ts != bts {
			t.Fatalf("timestamps differ: %d, %d", ts, bts)
		}
		tm.Timestamp()
	})
}
