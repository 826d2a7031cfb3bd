package cmdrun

import "strings"

// Flag is what FlagsFirst needs to know of a command's flag: its names
// (long name and aliases, without dashes) and, through an optional
// TakesValue method, whether it takes a value. urfave/cli's flags have
// both; a flag without TakesValue is taken for a boolean one.
type Flag interface {
	Names() []string
}

// FlagsFirst returns the command line args (args[0] is the program) with
// every flag, and the value of each flag that takes one, moved before the
// operands, in their order, and the operands after a "--": a parser that
// stops at the first operand (Go's flag package, and so urfave/cli/v2)
// then sees flags anywhere on the line.
//
// A flag is "-name" or "--name", "-name=value" or "--name=value"; a flag
// of flags that takes a value takes the next argument as its value,
// whatever it looks like ("-o -", "--tag --x"). "-" alone is an operand
// (stdin), and "--" ends the flags: everything after it is an operand,
// "-x" too. An unknown flag stays a flag, so the parser reports it
// wherever it was; it takes no value. A flag that takes a value but ends
// the line is left last, with the operands dropped, so the parser reports
// the missing value. So are the operands when a flag asks for help (-h or
// --help: every command's), which is all the command then does; the CLI
// library would take the first for a help topic.
func FlagsFirst[F Flag](args []string, flags []F) []string {
	if len(args) == 0 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range flags {
		if v, ok := any(f).(interface{ TakesValue() bool }); ok && v.TakesValue() {
			for _, n := range f.Names() {
				takesValue[n] = true
			}
		}
	}
	out := append(make([]string, 0, len(args)+1), args[0])
	var operands []string
	help := false
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		out = append(out, a)
		name := strings.TrimPrefix(a[1:], "-")
		if (name == "h" || name == "help") && !takesValue[name] {
			help = true
		}
		if strings.Contains(name, "=") || !takesValue[name] {
			continue
		}
		if i+1 == len(args) {
			return out
		}
		i++
		out = append(out, args[i])
	}
	if len(operands) > 0 && !help {
		out = append(append(out, "--"), operands...)
	}
	return out
}
