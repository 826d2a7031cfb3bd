package pyjson_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"unicode/utf8"
)

// gen makes random inputs for the differential tests: JSON documents,
// strings, floats and ISO times, mostly valid, some broken on purpose.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))} }

func (g *gen) n(n int) int              { return g.r.IntN(n) }
func (g *gen) chance(p float64) bool    { return g.r.Float64() < p }
func (g *gen) pick(ss ...string) string { return ss[g.n(len(ss))] }

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.n(10))
	}
	return string(b)
}

// ws is JSON whitespace, usually none.
func (g *gen) ws() string {
	if g.chance(0.7) {
		return ""
	}
	var b strings.Builder
	for range 1 + g.n(3) {
		b.WriteByte(" \t\n\r"[g.n(4)])
	}
	return b.String()
}

// doc returns a JSON text; depth bounds the nesting.
func (g *gen) doc(depth int) string {
	kinds := 8
	if depth <= 0 {
		kinds = 6
	}
	switch g.n(kinds) {
	case 0:
		return g.pick("null", "true", "false", "NaN", "Infinity", "-Infinity")
	case 1:
		return g.intText()
	case 2, 3:
		return g.floatText()
	case 4, 5:
		return g.jsonString()
	case 6:
		items := make([]string, g.n(5))
		for i := range items {
			items[i] = g.ws() + g.doc(depth-1) + g.ws()
		}
		return "[" + g.ws() + strings.Join(items, ",") + "]"
	default:
		items := make([]string, g.n(6))
		for i := range items {
			key := g.pick(`"a"`, `"b"`, `"Env"`, `""`, `"\u0061"`) // repeats
			if g.chance(0.5) {
				key = g.jsonString()
			}
			items[i] = g.ws() + key + g.ws() + ":" + g.ws() + g.doc(depth-1) + g.ws()
		}
		return "{" + g.ws() + strings.Join(items, ",") + "}"
	}
}

func (g *gen) intText() string {
	sign := g.pick("", "", "-")
	switch {
	case g.chance(0.2):
		return sign + "0"
	case g.chance(0.01):
		return sign + "1" + g.digits(4295+g.n(10)) // around Python's 4300-digit limit
	}
	return sign + strconv.Itoa(1+g.n(9)) + g.digits(g.n(25))
}

func (g *gen) floatText() string {
	switch g.n(6) {
	case 0: // a random double, written in various ways
		f := math.Float64frombits(g.r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "1e400"
		}
		return strconv.FormatFloat(f, "eEg"[g.n(3)], []int{-1, 17, 20, 25}[g.n(4)], 64)
	case 1: // a random decimal
		s := g.pick("", "-") + strconv.Itoa(g.n(10)) + g.digits(g.n(3))
		if s == "0" || strings.HasPrefix(s, "0") || strings.HasPrefix(s, "-0") {
			s = strings.TrimRight(s, "0123456789") + "0"
		}
		if g.chance(0.7) {
			s += "." + g.digits(1+g.n(40))
		}
		if g.chance(0.7) {
			s += g.pick("e", "E") + g.pick("", "+", "-") + strconv.Itoa(g.n(400))
		}
		return s
	case 2: // halfway between two doubles, exactly or nearly
		f := math.Float64frombits(g.r.Uint64() &^ (1 << 63))
		if math.IsNaN(f) || math.IsInf(f, 0) || f == math.MaxFloat64 {
			f = 1
		}
		if g.chance(0.3) {
			f = math.Float64frombits(uint64(g.n(1 << 20))) // subnormal
		}
		lo := new(big.Float).SetPrec(2200).SetFloat64(f)
		hi := new(big.Float).SetPrec(2200).SetFloat64(math.Nextafter(f, math.Inf(1)))
		mid := new(big.Float).SetPrec(2200).Add(lo, hi)
		mid.Quo(mid, big.NewFloat(2))
		s := mid.Text('e', 1100)
		mant, exp, _ := strings.Cut(s, "e")
		mant = strings.TrimRight(mant, "0")
		switch g.n(3) {
		case 0:
			mant += "1"
		case 1:
			if len(mant) > 20 {
				mant = mant[:len(mant)-1-g.n(5)]
			}
		}
		return strings.TrimSuffix(mant, ".") + "e" + exp
	case 3:
		return g.pick("1e400", "-1e400", "1e-400", "-1e-400", "-0.0", "0.0", "1E2", "1e16", "1e15", "0.0001", "0.00001",
			"2.2250738585072011e-308", "2.2250738585072012e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
			"2.4703282292062328e-324", "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308",
			"9007199254740993", "9007199254740993.0", "1e99999999999999999999", "1e-99999999999999999999", "123456789012345678901234567890e-10")
	default:
		return strconv.FormatFloat(g.r.NormFloat64()*math.Pow(10, float64(g.n(40)-20)), 'g', -1, 64)
	}
}

// codePoint returns a random character, weighted toward the interesting.
func (g *gen) codePoint() rune {
	switch g.n(12) {
	case 0, 1, 2:
		return rune(0x20 + g.n(0x5f))
	case 3:
		return []rune{'"', '\'', '\\', '/', '\n', '\r', '\t', '\b', '\f', 0, 0x1f, 0x7f, ' '}[g.n(13)]
	case 4:
		return rune(g.n(0x80))
	case 5:
		return rune(0x80 + g.n(0x80))
	case 6:
		return rune(0x100 + g.n(0xFF00))
	case 7:
		return rune(0xD800 + g.n(0x800))
	case 8:
		return rune(0x10000 + g.n(0x100000))
	case 9: // assigned in Unicode 15.0, not 14.0
		return []rune{0x11F00, 0x11F59, 0x1E030, 0x31350, 0x323AF, 0x1F6DC, 0x0CF3, 0x11B00}[g.n(8)]
	case 10:
		return []rune{0x2028, 0x2029, 0xFEFF, 0x200B, 0xAD, 0xA0, 0x3000, 0xFFFD, 0xFFFF, 0x10FFFF, 0xE000, 0xF0000, 0x1F600, 0x85}[g.n(14)]
	default:
		return rune(0x300 + g.n(0x2000))
	}
}

// pyString returns a Go string as Python holds strings: UTF-8, lone
// surrogates as WTF-8, and now and then a stray byte (surrogateescape).
func (g *gen) pyString() string {
	var b []byte
	for range g.n(12) {
		if g.chance(0.03) {
			b = append(b, byte(0x80+g.n(0x80)))
			continue
		}
		r := g.codePoint()
		if 0xD800 <= r && r <= 0xDFFF {
			b = append(b, 0xED, 0xA0|byte(r>>6)&0x1F, 0x80|byte(r)&0x3F)
		} else {
			b = utf8.AppendRune(b, r)
		}
	}
	return string(b)
}

// jsonString returns a JSON string literal with escapes of every kind.
func (g *gen) jsonString() string {
	var b strings.Builder
	b.WriteByte('"')
	for range g.n(10) {
		switch g.n(6) {
		case 0:
			b.WriteString(g.pick(`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`))
		case 1: // \u escapes, surrogates and pairs included
			r := g.codePoint()
			if r > 0xFFFF {
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04X`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			} else {
				fmt.Fprintf(&b, g.pick(`\u%04x`, `\u%04X`), r)
			}
		case 2:
			fmt.Fprintf(&b, `\u%04x`, 0xD800+g.n(0x800))
		default:
			r := g.codePoint()
			switch {
			case r == '"' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			case r < 0x20 || 0xD800 <= r && r <= 0xDFFF:
				b.WriteByte('x')
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// mutate breaks s a little: bytes inserted, deleted, replaced, or the
// tail cut off.
func (g *gen) mutate(s string, alphabet []string) string {
	for range 1 + g.n(3) {
		i := 0
		if len(s) > 0 {
			i = g.n(len(s) + 1)
		}
		switch g.n(4) {
		case 0:
			s = s[:i] + alphabet[g.n(len(alphabet))] + s[i:]
		case 1:
			if i < len(s) {
				s = s[:i] + s[i+1:]
			}
		case 2:
			if i < len(s) {
				s = s[:i] + alphabet[g.n(len(alphabet))] + s[i+1:]
			}
		default:
			s = s[:i]
		}
	}
	return s
}

var jsonAlphabet = strings.Split(`{ } [ ] , : " \ / 0 1 9 . e E + - n t f N I u x`, " ")

func init() {
	jsonAlphabet = append(jsonAlphabet, " ", "\t", "\n", "\r", "\x00", "\x01", "\x1f", "\x7f", "é", "\xc3", "\xa9",
		"\xff", "\xed\xa0\x80", "\xe2\x82", "\xf0\x9f", "\uFEFF", `\u`, `\ud800`, `\udc00`, "null", "true", "[1]", `{"a":1}`)
}

// document returns a document for the differential test.
func (g *gen) document() string {
	switch {
	case g.chance(0.02):
		b := make([]byte, g.n(8))
		for i := range b {
			b[i] = byte(g.r.Uint32())
		}
		return string(b)
	case g.chance(0.3):
		return g.mutate(g.ws()+g.doc(4)+g.ws(), jsonAlphabet)
	}
	return g.ws() + g.doc(5) + g.ws()
}

var isoAlphabet = []string{"0", "1", "2", "5", "9", "-", ":", "+", ".", ",", "T", "Z", "W", " ", "\x00", "é", "\xed\xa0\x80", "😀", "12", "-W"}

// isoTime returns a string for datetime.fromisoformat: the forms it
// knows, values in and out of range, separators of every width, and
// broken variants.
func (g *gen) isoTime() string {
	year := fmt.Sprintf("%04d", 1900+g.n(200))
	if g.chance(0.2) {
		year = g.pick("0000", "0001", "9999", fmt.Sprintf("%04d", g.n(10000)))
	}
	month := fmt.Sprintf("%02d", 1+g.n(12))
	day := fmt.Sprintf("%02d", 1+g.n(28))
	if g.chance(0.1) {
		month, day = fmt.Sprintf("%02d", g.n(14)), fmt.Sprintf("%02d", g.n(33))
	}
	week, wday := fmt.Sprintf("%02d", g.n(55)), strconv.Itoa(g.n(9))
	var s string
	switch g.n(8) {
	case 0:
		s = year + month + day
	case 1:
		s = year + "-W" + week
	case 2:
		s = year + "-W" + week + "-" + wday
	case 3:
		s = year + "W" + week + g.pick("", wday)
	default:
		s = year + "-" + month + "-" + day
	}
	if g.chance(0.1) {
		return s
	}
	s += g.pick("T", "T", "T", " ", "x", "é", "\xed\xa0\x80", "-", "0", "😀", "\x00", "W", ":", "+")

	two := func(n int) string { return fmt.Sprintf("%02d", g.n(n)) }
	colon := g.pick(":", "")
	s += two(25)
	if g.chance(0.8) {
		s += colon + two(61)
		if g.chance(0.7) {
			s += g.pick(colon, colon, colon, ":", "") + two(61)
			if g.chance(0.4) {
				s += g.pick(".", ".", ",") + g.digits(g.n(11))
			}
		}
	}
	switch g.n(8) {
	case 0, 1:
	case 2:
		s += "Z"
	default:
		s += g.pick("+", "-") + two(g.pickInt(24, 25, 100))
		if g.chance(0.7) {
			c := g.pick(":", ":", "")
			s += c + two(g.pickInt(60, 60, 100))
			if g.chance(0.3) {
				s += c + two(60)
				if g.chance(0.5) {
					s += "." + g.digits(g.n(8))
				}
			}
		}
	}
	if g.chance(0.25) {
		s = g.mutate(s, isoAlphabet)
	}
	return s
}

// pick for ints.
func (g *gen) pickInt(ns ...int) int { return ns[g.n(len(ns))] }
