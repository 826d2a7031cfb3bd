package pyjson

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// decodeRune returns the first code point of s as Python holds it, and its
// length in bytes: a UTF-8 sequence, a WTF-8 surrogate (ED A0..BF 80..BF),
// or else one byte b >= 0x80 standing for U+DC00+b (surrogateescape). It
// returns (0, 0) for an empty s.
func decodeRune(s string) (rune, int) {
	r, n := utf8.DecodeRuneInString(s)
	if r != utf8.RuneError || n != 1 {
		return r, n
	}
	if len(s) >= 3 && s[0] == 0xED && s[1]&0xE0 == 0xA0 && s[2]&0xC0 == 0x80 {
		return 0xD000 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F), 3
	}
	return 0xDC00 | rune(s[0]), 1
}

// appendRune appends r in UTF-8, a surrogate in its WTF-8 form.
func appendRune(b []byte, r rune) []byte {
	if isSurrogate(r) {
		return append(b, 0xED, 0xA0|byte(r>>6)&0x1F, 0x80|byte(r)&0x3F)
	}
	return utf8.AppendRune(b, r)
}

func isSurrogate(r rune) bool { return 0xD800 <= r && r <= 0xDFFF }

const hexDigits = "0123456789abcdef"

// Repr returns Python's repr() of the str s: in single quotes unless s
// holds a single quote and no double quote; backslash, the quote, \t, \n
// and \r escaped; other characters that Python 3.11 (Unicode 14.0) does
// not deem printable as \xhh, \uhhhh or \Uhhhhhhhh; the rest as they are.
func Repr(s string) string {
	var b strings.Builder
	appendRepr(&b, s)
	return b.String()
}

// ReprList returns Python's repr() of a list of str: "['a', 'b']".
func ReprList(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteString(", ")
		}
		appendRepr(&b, s)
	}
	b.WriteByte(']')
	return b.String()
}

func appendRepr(b *strings.Builder, s string) {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, n := decodeRune(s[i:])
		switch {
		case r == rune(quote) || r == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < ' ' || r == 0x7F:
			b.WriteString(`\x`)
			writeHex(b, r, 2)
		case r < 0x7F:
			b.WriteByte(byte(r))
		case printable(r):
			b.WriteString(s[i : i+n])
		case r <= 0xFF:
			b.WriteString(`\x`)
			writeHex(b, r, 2)
		case r <= 0xFFFF:
			b.WriteString(`\u`)
			writeHex(b, r, 4)
		default:
			b.WriteString(`\U`)
			writeHex(b, r, 8)
		}
		i += n
	}
	b.WriteByte(quote)
}

func writeHex(b *strings.Builder, r rune, digits int) {
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hexDigits[(r>>shift)&0xF])
	}
}

// printable reports what Python 3.11's str.isprintable says of the single
// character r: not in categories Cc, Cf, Cs, Co, Cn, Zl, Zp, Zs, except
// for the space. The table is Unicode 14.0's, Python 3.11's; Go's unicode
// package follows a later version, which knows characters Python does not.
func printable(r rune) bool {
	i := sort.Search(len(printableRanges), func(i int) bool { return printableRanges[i][1] >= r })
	return i < len(printableRanges) && printableRanges[i][0] <= r
}
