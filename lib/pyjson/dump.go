package pyjson

import (
	"math"
	"strconv"
	"strings"
)

// Dumps returns json.dumps(v, indent=indent) with the other arguments at
// their defaults: ensure_ascii, allow_nan, separators (",", ": "). An
// empty list or dict is written "[]" or "{}"; otherwise each item goes on
// its own line, indented by indent spaces a level (none when indent <= 0,
// as Python's " " * indent).
func Dumps(v Value, indent int) []byte {
	e := encoder{indent: max(indent, 0), itemSep: ","}
	e.value(v, 0)
	return e.buf
}

// DumpsCompact returns json.dumps(v): everything on one line, separators
// (", ", ": ").
func DumpsCompact(v Value) []byte {
	e := encoder{indent: -1, itemSep: ", "}
	e.value(v, 0)
	return e.buf
}

type encoder struct {
	buf     []byte
	indent  int // spaces per level; -1: no newlines at all
	itemSep string
}

// newline starts a line at the given nesting level, in indented mode.
func (e *encoder) newline(level int) {
	if e.indent < 0 {
		return
	}
	e.buf = append(e.buf, '\n')
	for n := level * e.indent; n > 0; n -= len(spaces) {
		e.buf = append(e.buf, spaces[:min(n, len(spaces))]...)
	}
}

const spaces = "                                                                "

func (e *encoder) value(v Value, level int) {
	switch v.Kind {
	case Null:
		e.buf = append(e.buf, "null"...)
	case Bool:
		if v.Bool {
			e.buf = append(e.buf, "true"...)
		} else {
			e.buf = append(e.buf, "false"...)
		}
	case Int:
		e.buf = bigInt(v.Int).Append(e.buf, 10)
	case Float:
		e.buf = appendJSONFloat(e.buf, v.Float)
	case String:
		e.buf = appendJSONString(e.buf, v.Str)
	case Array:
		if len(v.Arr) == 0 {
			e.buf = append(e.buf, "[]"...)
			return
		}
		e.buf = append(e.buf, '[')
		for i, item := range v.Arr {
			if i > 0 {
				e.buf = append(e.buf, e.itemSep...)
			}
			e.newline(level + 1)
			e.value(item, level+1)
		}
		e.newline(level)
		e.buf = append(e.buf, ']')
	case Object:
		if len(v.Obj) == 0 {
			e.buf = append(e.buf, "{}"...)
			return
		}
		e.buf = append(e.buf, '{')
		for i, m := range v.Obj {
			if i > 0 {
				e.buf = append(e.buf, e.itemSep...)
			}
			e.newline(level + 1)
			e.buf = appendJSONString(e.buf, m.Key)
			e.buf = append(e.buf, ": "...)
			e.value(m.Value, level+1)
		}
		e.newline(level)
		e.buf = append(e.buf, '}')
	default:
		panic("pyjson: Dumps of a value of " + v.Kind.String())
	}
}

// appendJSONFloat writes f as json.dumps does: NaN, Infinity, -Infinity,
// or Python's repr.
func appendJSONFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	return appendFloatRepr(b, f)
}

// FloatRepr returns Python's repr() of the float f: the shortest digits
// that read back as f, in fixed notation when the decimal exponent is in
// [-4, 16) (ending in ".0" when integral), otherwise as d.ddde±XX; nan,
// inf, -inf.
func FloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return string(appendFloatRepr(nil, f))
}

func appendFloatRepr(b []byte, f float64) []byte {
	// Shortest round-trip digits, as "-d.ddde±XX".
	s := strconv.FormatFloat(f, 'e', -1, 64)
	if s[0] == '-' {
		b = append(b, '-')
		s = s[1:]
	}
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)

	if exp < -4 || exp >= 16 {
		b = append(b, digits[0])
		if len(digits) > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if exp < 0 {
			b = append(b, '-')
			exp = -exp
		} else {
			b = append(b, '+')
		}
		if exp < 10 {
			b = append(b, '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	}
	point := exp + 1 // digits before the decimal point
	switch {
	case point <= 0:
		b = append(b, "0."...)
		b = append(b, strings.Repeat("0", -point)...)
		b = append(b, digits...)
	case point >= len(digits):
		b = append(b, digits...)
		b = append(b, strings.Repeat("0", point-len(digits))...)
		b = append(b, ".0"...)
	default:
		b = append(b, digits[:point]...)
		b = append(b, '.')
		b = append(b, digits[point:]...)
	}
	return b
}

// appendJSONString writes s quoted with ensure_ascii: printable ASCII as
// is, \" \\ \n \r \t \b \f in short form, everything else as \uxxxx (a
// pair of them above U+FFFF).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= ' ' && c <= '~' && c != '"' && c != '\\' {
			b = append(b, c)
			i++
			continue
		}
		r, n := decodeRune(s[i:])
		i += n
		switch r {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if r >= 0x10000 {
				r -= 0x10000
				b = appendU(b, 0xD800|(r>>10)&0x3FF)
				r = 0xDC00 | r&0x3FF
			}
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}
