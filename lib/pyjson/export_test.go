package pyjson

import "time"

// TimestampIn is Timestamp with loc as the local time zone.
func TimestampIn(t Time, loc *time.Location) int64 { return t.timestampIn(loc) }

// CodePoints returns the characters of s as Python holds them.
func CodePoints(s string) []rune {
	cps := []rune{}
	for i := 0; i < len(s); {
		r, n := decodeRune(s[i:])
		cps = append(cps, r)
		i += n
	}
	return cps
}

// Printable is what Repr deems printable.
var Printable = printable
