package closure

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// reader is a strict, allocation-free JSON reader over an in-memory
// document: the parser walks a closure graph with it instead of decoding it
// into Go values, which would cost most of the run time on large graphs.
//
// It accepts exactly what encoding/json accepts (FuzzReader checks this
// against json.Valid) and decodes strings as encoding/json does (escapes and
// invalid UTF-8 are handed to encoding/json itself). It reports only that the
// document is malformed (errSyntax): the caller then asks encoding/json for
// the message and the byte offset.
type reader struct {
	data  []byte
	pos   int
	depth int
}

// errSyntax is any malformation the reader finds.
var errSyntax = errors.New("malformed JSON")

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

func (r *reader) ws() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, or 0 at the end.
func (r *reader) peek() byte {
	r.ws()
	if r.pos < len(r.data) {
		return r.data[r.pos]
	}
	return 0
}

// expect consumes c after white space.
func (r *reader) expect(c byte) error {
	if r.peek() != c {
		return errSyntax
	}
	r.pos++
	return nil
}

// end checks that only white space is left.
func (r *reader) end() error {
	if r.peek() != 0 || r.pos != len(r.data) {
		return errSyntax
	}
	return nil
}

// jstring is a string value as it appears in the document: its bytes
// between the quotes, and whether they need decoding.
type jstring struct {
	raw     []byte
	escaped bool // holds a backslash escape or bytes that are not valid UTF-8
}

// str reads a string value.
func (r *reader) str() (jstring, error) {
	if r.peek() != '"' {
		return jstring{}, errSyntax
	}
	start := r.pos + 1
	escaped, ascii := false, true
	d := r.data
	for i := start; i < len(d); i++ {
		for i < len(d) && plain[d[i]] {
			i++
		}
		if i >= len(d) {
			break
		}
		c := d[i]
		switch {
		case c == '"':
			r.pos = i + 1
			s := jstring{raw: d[start:i], escaped: escaped}
			if !ascii && !escaped && !utf8.Valid(s.raw) {
				s.escaped = true
			}
			return s, nil
		case c == '\\':
			escaped = true
			i++
			if i >= len(d) {
				return jstring{}, errSyntax
			}
			switch d[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(d) {
					return jstring{}, errSyntax
				}
				for _, h := range d[i+1 : i+5] {
					if !isHex(h) {
						return jstring{}, errSyntax
					}
				}
				i += 4
			default:
				return jstring{}, errSyntax
			}
		case c < 0x20:
			return jstring{}, errSyntax
		default: // c >= 0x80
			ascii = false
		}
	}
	return jstring{}, errSyntax
}

// plain marks the bytes that stand for themselves in a string: printable
// ASCII but the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// String decodes s as encoding/json does.
func (s jstring) String() string {
	if !s.escaped {
		return string(s.raw)
	}
	quoted := make([]byte, 0, len(s.raw)+2)
	quoted = append(append(append(quoted, '"'), s.raw...), '"')
	var out string
	if err := json.Unmarshal(quoted, &out); err != nil {
		panic("closure: string the reader accepted does not decode: " + err.Error())
	}
	return out
}

// is reports whether s decodes to the ASCII text lit.
func (s jstring) is(lit string) bool {
	if !s.escaped {
		return string(s.raw) == lit
	}
	return s.String() == lit
}

// number reads a number and returns its text.
func (r *reader) number() ([]byte, error) {
	r.ws()
	d, i := r.data, r.pos
	digits := func() bool {
		j := i
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		digits()
	default:
		return nil, errSyntax
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			return nil, errSyntax
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			return nil, errSyntax
		}
	}
	start := r.pos
	r.pos = i
	return d[start:i], nil
}

// literal reads true, false or null.
func (r *reader) literal(lit string) error {
	if len(r.data)-r.pos < len(lit) || string(r.data[r.pos:r.pos+len(lit)]) != lit {
		return errSyntax
	}
	r.pos += len(lit)
	return nil
}

// skip reads any value, checking it.
func (r *reader) skip() error {
	switch r.peek() {
	case '{':
		return r.object(func(jstring) error { return r.skip() })
	case '[':
		return r.array(func() error { return r.skip() })
	case '"':
		_, err := r.str()
		return err
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	default:
		_, err := r.number()
		return err
	}
}

// object reads an object, calling member for each key with the reader at
// the member's value, which member must consume.
func (r *reader) object(member func(key jstring) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.depth++; r.depth > maxDepth {
		return errSyntax
	}
	if r.peek() == '}' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		r.ws()
		if err := member(key); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			r.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// array reads an array, calling elem with the reader at each element, which
// elem must consume.
func (r *reader) array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if r.depth++; r.depth > maxDepth {
		return errSyntax
	}
	if r.peek() == ']' {
		r.pos++
		r.depth--
		return nil
	}
	for {
		r.ws()
		if err := elem(); err != nil {
			return err
		}
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			r.depth--
			return nil
		default:
			return errSyntax
		}
	}
}

// kind names the type of the value at the reader, for messages.
func (r *reader) kind() string {
	switch r.peek() {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
