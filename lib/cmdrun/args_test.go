package cmdrun

import (
	"reflect"
	"strings"
	"testing"
)

// testFlag stands for a CLI library's flag.
type testFlag struct {
	names []string
	value bool
}

func (f testFlag) Names() []string  { return f.names }
func (f testFlag) TakesValue() bool { return f.value }

// namesOnly is a flag type without TakesValue: a boolean flag.
type namesOnly []string

func (n namesOnly) Names() []string { return n }

func TestFlagsFirst(t *testing.T) {
	flags := []Flag{
		testFlag{[]string{"output", "o"}, true},
		testFlag{[]string{"tag", "t"}, true},
		testFlag{[]string{"quiet", "q"}, false},
		namesOnly{"json"},
	}
	for _, tc := range []struct{ in, want string }{
		// Flags before the operands: only a "--" is added.
		{"cmd --tag x -o out.tar a b", "cmd --tag x -o out.tar -- a b"},
		{"cmd -q", "cmd -q"},
		{"cmd", "cmd"},
		{"cmd a", "cmd -- a"},
		// Flags after and among the operands, in their order.
		{"cmd a b -o out.tar", "cmd -o out.tar -- a b"},
		{"cmd --tag x a -o out.tar b", "cmd --tag x -o out.tar -- a b"},
		{"cmd a --output=out.tar b --tag=x", "cmd --output=out.tar --tag=x -- a b"},
		{"cmd a -output out.tar", "cmd -output out.tar -- a"},
		// A value is never an operand or a flag, whatever it looks like.
		{"cmd a -o -", "cmd -o - -- a"},
		{"cmd a -o -q b", "cmd -o -q -- a b"},
		{"cmd a -t -- b", "cmd -t -- -- a b"},
		{"cmd a --tag=-q b", "cmd --tag=-q -- a b"},
		// Boolean flags take no value: the next argument is an operand.
		{"cmd -q a", "cmd -q -- a"},
		{"cmd --quiet a --json b", "cmd --quiet --json -- a b"},
		{"cmd a --quiet=false b", "cmd --quiet=false -- a b"},
		// "-" is an operand (stdin).
		{"cmd - -o out", "cmd -o out -- -"},
		{"cmd -q -", "cmd -q -- -"},
		// "--" ends the flags; it is dropped when no operand follows.
		{"cmd a -- -q -o b", "cmd -- a -q -o b"},
		{"cmd -q -- -", "cmd -q -- -"},
		{"cmd -o out --", "cmd -o out"},
		{"cmd -- --", "cmd -- --"},
		// Unknown flags stay flags, taking no value, for the parser to
		// report; so do flags of a shape the parser refuses.
		{"cmd a --bogus b", "cmd --bogus -- a b"},
		{"cmd a ---o b", "cmd ---o -- a b"},
		{"cmd a -qo b", "cmd -qo -- a b"},
		// Help ignores the operands, which would be taken for topics.
		{"cmd a -o x --help b", "cmd -o x --help"},
		{"cmd a -h", "cmd -h"},
		{"cmd -o -h a", "cmd -o -h -- a"},
		{"cmd a -- -h", "cmd -- a -h"},
		{"cmd a --help=false", "cmd --help=false -- a"},
		// A missing value is left for the parser to report.
		{"cmd a -o", "cmd -o"},
		{"cmd -q a b --tag", "cmd -q --tag"},
	} {
		got := FlagsFirst(strings.Fields(tc.in), flags)
		if want := strings.Fields(tc.want); !reflect.DeepEqual(got, want) {
			t.Errorf("FlagsFirst(%q) = %q, want %q", tc.in, got, want)
		}
	}
}

func TestFlagsFirstEdges(t *testing.T) {
	if got := FlagsFirst(nil, []Flag(nil)); len(got) != 0 {
		t.Errorf("FlagsFirst(nil) = %q", got)
	}
	// An empty argument is an operand, as the flag package takes it.
	in := []string{"cmd", "", "-o", "x"}
	want := []string{"cmd", "-o", "x", "--", ""}
	if got := FlagsFirst(in, []testFlag{{[]string{"o"}, true}}); !reflect.DeepEqual(got, want) {
		t.Errorf("FlagsFirst(%q) = %q, want %q", in, got, want)
	}
	// The caller's slice is left as it was.
	in = []string{"cmd", "a", "-o", "x"}
	FlagsFirst(in, []testFlag{{[]string{"o"}, true}})
	if !reflect.DeepEqual(in, []string{"cmd", "a", "-o", "x"}) {
		t.Errorf("FlagsFirst changed its input: %q", in)
	}
}
