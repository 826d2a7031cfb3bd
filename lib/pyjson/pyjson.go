// Package pyjson reproduces what Python's json module (3.11) does with a
// JSON document, byte for byte: json.loads (Parse), json.dumps with and
// without indent (Dumps, DumpsCompact), repr() of a str and of a list of str
// (Repr, ReprList), and what datetime.fromisoformat, isoformat and
// timestamp do with a time (ParseISOTime, Time).
//
// nixpkgs' stream_layered_image.py reads conf.json with json.load, keeps
// the image config as Python holds it and writes it back with
// json.dumps(indent=4); assemble-image must write the same bytes, so the
// quirks are the point: a duplicate key keeps its first position and its
// last value, "1e2" is the float 100.0, every non-ASCII character is
// written as \uXXXX, floats are written as Python's repr writes them.
//
// Strings are held as Python holds them. A Go string here is UTF-8, except
// that a lone surrogate (from a "\ud800" escape, which Python keeps) is
// held as its 3-byte WTF-8 form, and a byte that is neither UTF-8 nor WTF-8
// stands for its surrogateescape code point U+DC80..U+DCFF, as
// os.fsdecode would have made it.
package pyjson

//go:generate sh -c "python3 gen_printable.py > printable_table.go && gofmt -w printable_table.go"

import (
	"math"
	"math/big"
)

// Kind is the Python type a JSON value becomes.
type Kind int

// The kinds, named after JSON; Python holds them as None, bool, int,
// float, str, list and dict.
const (
	Null Kind = iota
	Bool
	Int
	Float
	String
	Array
	Object
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "array", "object"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Value is a JSON value as Python holds it after json.loads. The zero
// Value is null.
type Value struct {
	Kind  Kind
	Bool  bool
	Int   *big.Int // Kind Int: arbitrary precision, as Python's int
	Float float64  // Kind Float, NaN and ±Inf included
	Str   string   // Kind String; see the package comment for lone surrogates
	Arr   []Value  // Kind Array
	Obj   []Member // Kind Object, in Python's dict order, keys unique
}

// Member is one key and value of an object.
type Member struct {
	Key   string
	Value Value
}

// StringOf returns the str s. (The name String is the Kind.)
func StringOf(s string) Value { return Value{Kind: String, Str: s} }

// Strings returns the list of str ss.
func Strings(ss []string) Value {
	arr := make([]Value, len(ss))
	for i, s := range ss {
		arr[i] = StringOf(s)
	}
	return Value{Kind: Array, Arr: arr}
}

// IntOf returns the int n.
func IntOf(n int64) Value { return Value{Kind: Int, Int: big.NewInt(n)} }

// FloatOf returns the float f.
func FloatOf(f float64) Value { return Value{Kind: Float, Float: f} }

// BoolOf returns True or False.
func BoolOf(b bool) Value { return Value{Kind: Bool, Bool: b} }

// ArrayOf returns the list of vs.
func ArrayOf(vs ...Value) Value { return Value{Kind: Array, Arr: vs} }

// ObjectOf returns the dict built by assigning each member in turn, so a
// repeated key keeps its first position and its last value.
func ObjectOf(members ...Member) Value {
	v := Value{Kind: Object, Obj: make([]Member, 0, len(members))}
	for _, m := range members {
		v.Set(m.Key, m.Value)
	}
	return v
}

// Get returns the value of key in an object; ok is false when v is not an
// object or has no such key.
func (v Value) Get(key string) (val Value, ok bool) {
	if v.Kind != Object {
		return Value{}, false
	}
	for _, m := range v.Obj {
		if m.Key == key {
			return m.Value, true
		}
	}
	return Value{}, false
}

// Set does what Python's v[key] = val does to a dict: it replaces the
// value in place when key is there and appends key otherwise. It panics
// when v is not an object.
func (v *Value) Set(key string, val Value) {
	if v.Kind != Object {
		panic("pyjson: Set on a " + v.Kind.String())
	}
	for i := range v.Obj {
		if v.Obj[i].Key == key {
			v.Obj[i].Value = val
			return
		}
	}
	v.Obj = append(v.Obj, Member{Key: key, Value: val})
}

var zero = new(big.Int)

// bigInt reads a nil *big.Int as 0.
func bigInt(n *big.Int) *big.Int {
	if n == nil {
		return zero
	}
	return n
}

// Equal reports whether v and w are the same value: same kinds, same
// members in the same order, floats with the same bits (so NaN equals
// itself and -0.0 differs from 0.0). Unlike Python's ==, 1 and 1.0 differ
// and dict order matters: Equal holds exactly when the dumps are equal.
func (v Value) Equal(w Value) bool {
	if v.Kind != w.Kind {
		return false
	}
	switch v.Kind {
	case Null:
		return true
	case Bool:
		return v.Bool == w.Bool
	case Int:
		return bigInt(v.Int).Cmp(bigInt(w.Int)) == 0
	case Float:
		return math.Float64bits(v.Float) == math.Float64bits(w.Float) ||
			math.IsNaN(v.Float) && math.IsNaN(w.Float)
	case String:
		return v.Str == w.Str
	case Array:
		if len(v.Arr) != len(w.Arr) {
			return false
		}
		for i := range v.Arr {
			if !v.Arr[i].Equal(w.Arr[i]) {
				return false
			}
		}
		return true
	case Object:
		if len(v.Obj) != len(w.Obj) {
			return false
		}
		for i := range v.Obj {
			if v.Obj[i].Key != w.Obj[i].Key || !v.Obj[i].Value.Equal(w.Obj[i].Value) {
				return false
			}
		}
		return true
	}
	return false
}
