package pyjson

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

// MaxDepth is how deeply lists and dicts may nest. Python has no such
// limit of its own: its recursion limit (1000 frames) stops json.loads
// a few levels short of 1000, depending on the caller's stack.
const MaxDepth = 1000

// maxIntDigits is Python's sys.get_int_max_str_digits() default: int()
// of a longer decimal string raises ValueError.
const maxIntDigits = 4300

// SyntaxError is a document json.loads rejects: Python's
// json.JSONDecodeError (or, for an int of more than 4300 digits or
// nesting beyond MaxDepth, the ValueError or RecursionError it raises).
type SyntaxError struct {
	Msg    string // Python's message, e.g. "Expecting value"
	Offset int    // byte offset into the input
	Char   int    // Python's pos: the offset in characters
	Line   int    // 1-based, as Python's lineno
	Column int    // 1-based, in characters, as Python's colno
}

// Error reads as Python's message does, with the byte offset added when
// it differs from the character offset.
func (e *SyntaxError) Error() string {
	if e.Offset != e.Char {
		return fmt.Sprintf("%s: line %d column %d (char %d, byte %d)", e.Msg, e.Line, e.Column, e.Char, e.Offset)
	}
	return fmt.Sprintf("%s: line %d column %d (char %d)", e.Msg, e.Line, e.Column, e.Char)
}

// DecodeError is input that is not UTF-8: the UnicodeDecodeError Python
// raises when it reads the file in text mode.
type DecodeError struct {
	Start, End int    // the offending bytes, as Python's start and end
	Byte       byte   // the byte at Start
	Reason     string // "invalid start byte", "invalid continuation byte" or "unexpected end of data"
}

func (e *DecodeError) Error() string {
	if e.End-e.Start == 1 {
		return fmt.Sprintf("'utf-8' codec can't decode byte 0x%02x in position %d: %s", e.Byte, e.Start, e.Reason)
	}
	return fmt.Sprintf("'utf-8' codec can't decode bytes in position %d-%d: %s", e.Start, e.End-1, e.Reason)
}

// Parse reads a JSON document as Python's json.load reads a file opened
// in text mode: the bytes must be UTF-8 (no BOM), then json.loads applies.
// Whitespace is ' ', '\t', '\n' and '\r'; a number without fraction or
// exponent is an int of any size (up to 4300 digits), any other a float
// (1e400 is inf); NaN, Infinity and -Infinity are accepted; strings may
// not hold raw control characters, and a \u escape of a lone surrogate is
// kept (as WTF-8); in an object a repeated key keeps its first position
// and takes its last value. Nothing but whitespace may follow the value.
//
// The error is a *DecodeError or a *SyntaxError, with Python's message
// and position for the text as given. (Python's text mode turns "\r\n"
// and "\r" into "\n" before json.loads sees them, which moves the line,
// column and char of a later error, nothing else.)
func Parse(data []byte) (Value, error) {
	if err := checkUTF8(data); err != nil {
		return Value{}, err
	}
	p := parser{data: data}
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		return Value{}, p.errorAt("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0)
	}
	v, end, err := p.value(p.skipSpace(0), 0)
	if err != nil {
		return Value{}, err
	}
	if end = p.skipSpace(end); end != len(data) {
		return Value{}, p.errorAt("Extra data", end)
	}
	return v, nil
}

// checkUTF8 finds the first error as Python's strict UTF-8 decoder
// reports it.
func checkUTF8(data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			i++
			continue
		}
		if r, n := utf8.DecodeRune(data[i:]); r != utf8.RuneError || n > 1 {
			i += n
			continue
		}
		var need int
		lo, hi := byte(0x80), byte(0xBF) // the range of the second byte
		switch {
		case 0xC2 <= c && c <= 0xDF:
			need = 1
		case 0xE0 <= c && c <= 0xEF:
			need = 2
			if c == 0xE0 {
				lo = 0xA0
			} else if c == 0xED {
				hi = 0x9F
			}
		case 0xF0 <= c && c <= 0xF4:
			need = 3
			if c == 0xF0 {
				lo = 0x90
			} else if c == 0xF4 {
				hi = 0x8F
			}
		default:
			return &DecodeError{Start: i, End: i + 1, Byte: c, Reason: "invalid start byte"}
		}
		j := i + 1 // the valid prefix ends before j
		for k := 0; k < need; k++ {
			if j == len(data) {
				return &DecodeError{Start: i, End: j, Byte: c, Reason: "unexpected end of data"}
			}
			b := data[j]
			if k == 0 && (b < lo || b > hi) || k > 0 && b&0xC0 != 0x80 {
				break
			}
			j++
		}
		return &DecodeError{Start: i, End: j, Byte: c, Reason: "invalid continuation byte"}
	}
	return nil
}

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

type parser struct {
	data []byte
}

// errorAt returns Python's JSONDecodeError for the byte offset off.
func (p *parser) errorAt(msg string, off int) *SyntaxError {
	before := p.data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	char := utf8.RuneCount(before)
	return &SyntaxError{
		Msg:    msg,
		Offset: off,
		Char:   char,
		Line:   line,
		Column: char - utf8.RuneCount(before[:lineStart]) + 1,
	}
}

func (p *parser) skipSpace(i int) int {
	for i < len(p.data) {
		switch p.data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (p *parser) hasPrefix(i int, lit string) bool {
	return bytes.HasPrefix(p.data[i:], []byte(lit))
}

// value scans the value at i (scan_once in Python's _json.c) and returns
// it with the offset just past it.
func (p *parser) value(i, depth int) (Value, int, error) {
	if i >= len(p.data) {
		return Value{}, 0, p.errorAt("Expecting value", i)
	}
	switch c := p.data[i]; c {
	case '"':
		s, end, err := p.str(i + 1)
		return Value{Kind: String, Str: s}, end, err
	case '{', '[':
		if depth >= MaxDepth {
			what := map[byte]string{'{': "object", '[': "array"}[c]
			return Value{}, 0, p.errorAt("maximum nesting depth exceeded while decoding a JSON "+what, i)
		}
		if c == '{' {
			return p.object(i+1, depth+1)
		}
		return p.array(i+1, depth+1)
	case 'n':
		if p.hasPrefix(i, "null") {
			return Value{}, i + 4, nil
		}
	case 't':
		if p.hasPrefix(i, "true") {
			return BoolOf(true), i + 4, nil
		}
	case 'f':
		if p.hasPrefix(i, "false") {
			return BoolOf(false), i + 5, nil
		}
	case 'N':
		if p.hasPrefix(i, "NaN") {
			return FloatOf(nan), i + 3, nil
		}
	case 'I':
		if p.hasPrefix(i, "Infinity") {
			return FloatOf(posInf), i + 8, nil
		}
	case '-':
		if p.hasPrefix(i, "-Infinity") {
			return FloatOf(negInf), i + 9, nil
		}
	}
	return p.number(i)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number matches -?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)? at i.
func (p *parser) number(start int) (Value, int, error) {
	d := p.data
	at := func(i int) byte {
		if i < len(d) {
			return d[i]
		}
		return 0
	}
	i := start
	if at(i) == '-' {
		i++
	}
	switch {
	case at(i) == '0':
		i++
	case isDigit(at(i)):
		for i++; isDigit(at(i)); i++ {
		}
	default:
		return Value{}, 0, p.errorAt("Expecting value", start)
	}
	isFloat := false
	if at(i) == '.' && isDigit(at(i+1)) {
		isFloat = true
		for i += 2; isDigit(at(i)); i++ {
		}
	}
	if c := at(i); c == 'e' || c == 'E' {
		j := i + 1
		if c := at(j); c == '-' || c == '+' {
			j++
		}
		if isDigit(at(j)) {
			isFloat = true
			for i = j + 1; isDigit(at(i)); i++ {
			}
		}
	}
	text := string(d[start:i])
	if isFloat {
		// The text is valid Go syntax too. ParseFloat rounds correctly, as
		// Python's float() does; out of range it returns ±Inf or ±0 (and
		// ErrRange), which are Python's values as well.
		f, _ := strconv.ParseFloat(text, 64)
		return FloatOf(f), i, nil
	}
	digits := len(text)
	if text[0] == '-' {
		digits--
	}
	if digits > maxIntDigits {
		return Value{}, 0, p.errorAt(fmt.Sprintf("Exceeds the limit (%d digits) for integer string conversion: value has %d digits; use sys.set_int_max_str_digits() to increase the limit", maxIntDigits, digits), start)
	}
	n, _ := new(big.Int).SetString(text, 10)
	return Value{Kind: Int, Int: n}, i, nil
}

// str scans the rest of a string whose opening quote is just before i
// (scanstring_unicode in _json.c, strict).
func (p *parser) str(i int) (string, int, error) {
	d := p.data
	begin := i - 1
	var buf []byte
	for {
		// Find the end of the string or the next escape.
		next := i
		for ; next < len(d); next++ {
			c := d[next]
			if c == '"' || c == '\\' {
				break
			}
			if c < 0x20 {
				return "", 0, p.errorAt("Invalid control character at", next)
			}
		}
		if next == len(d) {
			return "", 0, p.errorAt("Unterminated string starting at", begin)
		}
		if buf == nil && d[next] == '"' {
			return string(d[i:next]), next + 1, nil
		}
		buf = append(buf, d[i:next]...)
		if d[next] == '"' {
			return string(buf), next + 1, nil
		}
		// A backslash at next.
		next++
		if next == len(d) {
			return "", 0, p.errorAt("Unterminated string starting at", begin)
		}
		if c := d[next]; c != 'u' {
			switch c {
			case '"', '\\', '/':
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default:
				return "", 0, p.errorAt(`Invalid \escape`, next-1)
			}
			buf = append(buf, c)
			i = next + 1
			continue
		}
		// \uXXXX: Python wants a character after the four digits.
		next++
		end := next + 4
		if end >= len(d) {
			return "", 0, p.errorAt(`Invalid \uXXXX escape`, next-1)
		}
		r, ok := hex4(d[next:end])
		if !ok {
			return "", 0, p.errorAt(`Invalid \uXXXX escape`, end-5)
		}
		if 0xD800 <= r && r <= 0xDBFF && end+6 < len(d) && d[end] == '\\' && d[end+1] == 'u' {
			r2, ok := hex4(d[end+2 : end+6])
			if !ok {
				return "", 0, p.errorAt(`Invalid \uXXXX escape`, end+1)
			}
			if 0xDC00 <= r2 && r2 <= 0xDFFF {
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
				end += 6
			}
		}
		buf = appendRune(buf, r)
		i = end
	}
}

func hex4(b []byte) (rune, bool) {
	var r rune
	for _, c := range b {
		var v byte
		switch {
		case '0' <= c && c <= '9':
			v = c - '0'
		case 'a' <= c && c <= 'f':
			v = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

func (p *parser) array(i, depth int) (Value, int, error) {
	v := Value{Kind: Array, Arr: []Value{}}
	i = p.skipSpace(i)
	if i < len(p.data) && p.data[i] == ']' {
		return v, i + 1, nil
	}
	for {
		item, next, err := p.value(i, depth)
		if err != nil {
			return Value{}, 0, err
		}
		v.Arr = append(v.Arr, item)
		i = p.skipSpace(next)
		if i < len(p.data) && p.data[i] == ']' {
			return v, i + 1, nil
		}
		if i >= len(p.data) || p.data[i] != ',' {
			return Value{}, 0, p.errorAt("Expecting ',' delimiter", i)
		}
		i = p.skipSpace(i + 1)
	}
}

func (p *parser) object(i, depth int) (Value, int, error) {
	v := Value{Kind: Object, Obj: []Member{}}
	var index map[string]int // key -> position, once there are many
	i = p.skipSpace(i)
	if i < len(p.data) && p.data[i] == '}' {
		return v, i + 1, nil
	}
	for {
		if i >= len(p.data) || p.data[i] != '"' {
			return Value{}, 0, p.errorAt("Expecting property name enclosed in double quotes", i)
		}
		key, next, err := p.str(i + 1)
		if err != nil {
			return Value{}, 0, err
		}
		i = p.skipSpace(next)
		if i >= len(p.data) || p.data[i] != ':' {
			return Value{}, 0, p.errorAt("Expecting ':' delimiter", i)
		}
		i = p.skipSpace(i + 1)
		val, next, err := p.value(i, depth)
		if err != nil {
			return Value{}, 0, err
		}

		// Python's dict: a repeated key keeps its place, takes the value.
		if index == nil && len(v.Obj) >= 16 {
			index = make(map[string]int, 2*len(v.Obj))
			for k, m := range v.Obj {
				index[m.Key] = k
			}
		}
		if k, ok := lookup(v.Obj, index, key); ok {
			v.Obj[k].Value = val
		} else {
			if index != nil {
				index[key] = len(v.Obj)
			}
			v.Obj = append(v.Obj, Member{Key: key, Value: val})
		}

		i = p.skipSpace(next)
		if i < len(p.data) && p.data[i] == '}' {
			return v, i + 1, nil
		}
		if i >= len(p.data) || p.data[i] != ',' {
			return Value{}, 0, p.errorAt("Expecting ',' delimiter", i)
		}
		i = p.skipSpace(i + 1)
	}
}

func lookup(obj []Member, index map[string]int, key string) (int, bool) {
	if index != nil {
		k, ok := index[key]
		return k, ok
	}
	for k, m := range obj {
		if m.Key == key {
			return k, true
		}
	}
	return 0, false
}
