package pyjson

import (
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// Time is a Python datetime as stream_layered_image.py handles "created"
// and "mtime": naive or aware with a fixed UTC offset, which may have
// seconds and microseconds; microsecond precision; years 1 to 9999.
type Time struct {
	year, month, day             int
	hour, minute, second, micros int
	aware                        bool
	offset                       int64 // UTC offset in microseconds, when aware
}

// ISOTimeError is a string datetime.fromisoformat rejects.
type ISOTimeError struct {
	Input string
	Msg   string // Python's ValueError message
}

func (e *ISOTimeError) Error() string {
	if strings.HasPrefix(e.Msg, "Invalid isoformat string") {
		return e.Msg
	}
	return fmt.Sprintf("datetime.fromisoformat(%s): %s", Repr(e.Input), e.Msg)
}

// Now returns datetime.now(tz=timezone.utc): the current time in UTC,
// rounded down to the microsecond.
func Now() Time {
	return fromUnixMicro(time.Now().UnixMicro())
}

func fromUnixMicro(us int64) Time {
	t := time.UnixMicro(us).UTC()
	return Time{
		year: t.Year(), month: int(t.Month()), day: t.Day(),
		hour: t.Hour(), minute: t.Minute(), second: t.Second(),
		micros: t.Nanosecond() / 1000,
		aware:  true,
	}
}

// Aware reports whether t has a UTC offset.
func (t Time) Aware() bool { return t.aware }

// ISOFormat returns datetime.isoformat():
// YYYY-MM-DDTHH:MM:SS, then .ffffff unless the microseconds are 0, then
// for an aware time the offset as +HH:MM, with :SS and .ffffff added
// when they are not 0.
func (t Time) ISOFormat() string {
	s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day, t.hour, t.minute, t.second)
	if t.micros != 0 {
		s += fmt.Sprintf(".%06d", t.micros)
	}
	if !t.aware {
		return s
	}
	off, sign := t.offset, '+'
	if off < 0 {
		off, sign = -off, '-'
	}
	us := off % 1e6
	secs := off / 1e6
	s += fmt.Sprintf("%c%02d:%02d", sign, secs/3600, secs/60%60)
	if secs%60 != 0 || us != 0 {
		s += fmt.Sprintf(":%02d", secs%60)
	}
	if us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// Timestamp returns int(t.timestamp()): seconds since the epoch, truncated
// toward zero. A naive time is local time (time.Local, as Python's
// localtime follows TZ), with Python's choice in a gap or a repeated hour
// (fold=0). Python raises ValueError for a naive time whose local
// conversion leaves years 1..9999; Timestamp computes on.
func (t Time) Timestamp() int64 { return t.timestampIn(time.Local) }

// Python's seconds since 0001-01-01T00:00 of the Unix epoch.
const epochSeconds = 719163 * 24 * 60 * 60

func (t Time) timestampIn(loc *time.Location) int64 {
	secs := utcToSeconds(t.year, t.month, t.day, t.hour, t.minute, t.second)
	if t.aware {
		// (t - epoch).total_seconds(): microseconds / 10**6, rounded
		// once, as Python divides ints.
		us := (secs-epochSeconds)*1e6 + int64(t.micros) - t.offset
		f, _ := new(big.Rat).SetFrac(big.NewInt(us), big.NewInt(1e6)).Float64()
		return int64(f)
	}
	// C: (double)(seconds - EPOCH) + microsecond / 1e6, two roundings.
	f := float64(localToSeconds(secs, loc)-epochSeconds) + float64(t.micros)/1e6
	return int64(f)
}

func utcToSeconds(year, month, day, hour, minute, second int) int64 {
	ord := int64(ymdToOrd(year, month, day))
	return ((ord*24+int64(hour))*60+int64(minute))*60 + int64(second)
}

// localToSeconds is local_to_seconds of _datetimemodule.c with fold=0:
// it solves t = local(u) for u, taking the earlier u when t is repeated
// and the later candidate when t falls in a gap.
func localToSeconds(t int64, loc *time.Location) int64 {
	const maxFoldSeconds = 24 * 3600
	local := func(u int64) int64 {
		_, off := time.Unix(u-epochSeconds, 0).In(loc).Zone()
		return u + int64(off)
	}
	a := local(t) - t
	u1 := t - a
	t1 := local(u1)
	var b int64
	if t1 == t {
		// One solution; an earlier one may exist.
		u2 := u1 - maxFoldSeconds
		b = local(u2) - u2
		if a == b {
			return u1
		}
	} else {
		b = t1 - u1
	}
	u2 := t - b
	if local(u2) == t {
		return u2
	}
	if t1 == t {
		return u1
	}
	return max(u1, u2) // in the gap
}

// ParseISOTime parses s as datetime.fromisoformat does in Python 3.11,
// quirks included: a date YYYY-MM-DD, YYYYMMDD, YYYY-Www[-D] or
// YYYYWww[D]; then, after any one character, a time HH[[:]MM[[:]SS]]
// with an optional fraction (. or ,) of any number of digits (beyond six
// truncated); then an offset Z, ±HH[[:]MM[[:]SS[.ffffff]]]. Python's
// datetime.fromisoformat reads the string as C does, NUL-terminated: an
// embedded NUL ends some parts early ("...Z\x00junk" is accepted).
//
// The error is an *ISOTimeError carrying Python's message.
func ParseISOTime(s string) (Time, error) {
	invalid := &ISOTimeError{Input: s, Msg: "Invalid isoformat string: " + Repr(s)}

	// _sanitize_isoformat_str: a surrogate separator becomes 'T'; any
	// other surrogate makes the string invalid (it is not UTF-8).
	var cps []rune
	for i := 0; i < len(s); {
		r, n := decodeRune(s[i:])
		cps = append(cps, r)
		i += n
	}
	if len(cps) < 7 {
		return Time{}, invalid
	}
	for _, pos := range []int{7, 8, 10} {
		if pos >= len(cps) {
			break
		}
		if isSurrogate(cps[pos]) {
			cps[pos] = 'T'
			break
		}
	}
	var b cstr
	for _, r := range cps {
		if isSurrogate(r) {
			return Time{}, invalid
		}
		b = utf8.AppendRune(b, r)
	}

	var t Time
	sep := findSeparator(b)
	rv := parseDate(b, sep, &t)
	if rv == 0 && sep >= 0 && len(b) > sep {
		p := sep + 1
		switch lead := b[sep]; {
		case lead&0x80 == 0:
		case lead&0xF0 == 0xE0:
			p = sep + 3
		case lead&0xF0 == 0xF0:
			p = sep + 4
		default:
			p = sep + 2
		}
		rv = parseTime(b, p, len(b), &t)
	}
	if rv < 0 {
		return Time{}, invalid
	}
	if rv == 1 {
		// tzinfo_from_isoformat_results: timezone.utc when the seconds
		// are 0, whatever the microseconds.
		t.aware = true
		if t.offset/1e6 == 0 {
			t.offset = 0
		}
		if t.offset <= -86400e6 || t.offset >= 86400e6 {
			return Time{}, &ISOTimeError{Input: s, Msg: "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not " + timedeltaRepr(t.offset) + "."}
		}
	}
	if msg := t.check(); msg != "" {
		return Time{}, &ISOTimeError{Input: s, Msg: msg}
	}
	return t, nil
}

// check is the datetime constructor's range checks, in its order.
func (t Time) check() string {
	switch {
	case t.year < 1 || t.year > 9999:
		return fmt.Sprintf("year %d is out of range", t.year)
	case t.month < 1 || t.month > 12:
		return "month must be in 1..12"
	case t.day < 1 || t.day > daysInMonth(t.year, t.month):
		return "day is out of range for month"
	case t.hour > 23:
		return "hour must be in 0..23"
	case t.minute > 59:
		return "minute must be in 0..59"
	case t.second > 59:
		return "second must be in 0..59"
	}
	return ""
}

// timedeltaRepr is repr() of a timedelta of us microseconds.
func timedeltaRepr(us int64) string {
	days := us / 86400e6
	if us%86400e6 < 0 {
		days--
	}
	rest := us - days*86400e6
	var parts []string
	if days != 0 {
		parts = append(parts, fmt.Sprintf("days=%d", days))
	}
	if rest/1e6 != 0 {
		parts = append(parts, fmt.Sprintf("seconds=%d", rest/1e6))
	}
	if rest%1e6 != 0 {
		parts = append(parts, fmt.Sprintf("microseconds=%d", rest%1e6))
	}
	if parts == nil {
		parts = []string{"0"}
	}
	return "datetime.timedelta(" + strings.Join(parts, ", ") + ")"
}

// cstr is the UTF-8 bytes of the string as C sees them: reading past the
// end gives the NUL terminator.
type cstr []byte

func (c cstr) at(i int) byte {
	if i < len(c) {
		return c[i]
	}
	return 0
}

// digits parses n ASCII digits at p (parse_digits).
func (c cstr) digits(p, n int) (val, next int, ok bool) {
	for i := 0; i < n; i++ {
		d := c.at(p + i)
		if !isDigit(d) {
			return 0, 0, false
		}
		val = val*10 + int(d-'0')
	}
	return val, p + n, true
}

// findSeparator is _find_isoformat_datetime_separator: where the date
// ends, judged by the shape of the date; -1 when it cannot be.
func findSeparator(b cstr) int {
	n := len(b)
	if n == 7 {
		return 7
	}
	if b.at(4) == '-' {
		if b.at(5) != 'W' {
			return 10 // YYYY-MM-DD
		}
		if n < 8 {
			return -1
		}
		if n > 8 && b.at(8) == '-' {
			// YYYY-Www-D (10) or YYYY-Www-HH (8)
			if n == 9 {
				return -1
			}
			if n > 10 && isDigit(b.at(10)) {
				return 8
			}
			return 10
		}
		return 8 // YYYY-Www
	}
	if b.at(4) == 'W' {
		// YYYYWww (7) or YYYYWwwd (8): time digits come in pairs.
		idx := 7
		for idx < n && isDigit(b.at(idx)) {
			idx++
		}
		if idx < 9 {
			return idx
		}
		if idx%2 == 0 {
			return 7
		}
		return 8
	}
	return 8 // YYYYMMDD
}

// parseDate is parse_isoformat_date over the first sep bytes (sep is a
// size_t there: -1 is huge). It returns 0 or a negative code.
func parseDate(b cstr, sep int, t *Time) int {
	limit := uint(sep)
	year, p, ok := b.digits(0, 4)
	if !ok {
		return -1
	}
	usesSep := b.at(p) == '-'
	if usesSep {
		p++
	}
	if b.at(p) == 'W' {
		week, p, ok := b.digits(p+1, 2)
		if !ok {
			return -3
		}
		day := 1
		if uint(p) < limit {
			if usesSep {
				if b.at(p) != '-' {
					return -2
				}
				p++
			}
			if day, _, ok = b.digits(p, 1); !ok {
				return -4
			}
		}
		if rv := isoToYMD(year, week, day, t); rv != 0 {
			return -3 + rv
		}
		return 0
	}
	t.year = year
	if t.month, p, ok = b.digits(p, 2); !ok {
		return -1
	}
	if usesSep {
		if b.at(p) != '-' {
			return -2
		}
		p++
	}
	if t.day, _, ok = b.digits(p, 2); !ok {
		return -1
	}
	return 0
}

// parseTime is parse_isoformat_time over b[p:end]: 0 without an offset,
// 1 with one (in t.offset), or a negative code.
func parseTime(b cstr, p, end int, t *Time) int {
	tz := p
	for {
		if c := b.at(tz); c == 'Z' || c == '+' || c == '-' {
			break
		}
		if tz++; tz >= end {
			break
		}
	}
	rv := parseHHMMSSFF(b, p, tz, &t.hour, &t.minute, &t.second, &t.micros)
	if rv < 0 {
		return rv
	}
	if tz == end {
		if rv == 1 {
			return -5 // something after the time
		}
		return 0
	}
	if b.at(tz) == 'Z' {
		if b.at(tz+1) != 0 {
			return -5
		}
		return 1
	}
	sign := int64(1)
	if b.at(tz) == '-' {
		sign = -1
	}
	var h, m, s, us int
	rv = parseHHMMSSFF(b, tz+1, end, &h, &m, &s, &us)
	t.offset = sign * (int64(h*3600+m*60+s)*1e6 + int64(us))
	if rv != 0 {
		return -5
	}
	return 1
}

// parseHHMMSSFF is parse_hh_mm_ss_ff over b[p:end]: 0 when the string
// ends there, 1 when something follows, or a negative code.
func parseHHMMSSFF(b cstr, p, end int, hour, minute, second, micros *int) int {
	*hour, *minute, *second, *micros = 0, 0, 0, 0
	vals := [3]*int{hour, minute, second}
	hasSep := true
	for i := range vals {
		v, next, ok := b.digits(p, 2)
		if !ok {
			return -3
		}
		*vals[i] = v
		c := b.at(next)
		p = next + 1
		if i == 0 {
			hasSep = c == ':'
		}
		if p >= end {
			if c != 0 {
				return 1
			}
			return 0
		}
		if hasSep && c == ':' {
			continue
		}
		if c == '.' || c == ',' {
			break
		}
		if hasSep {
			return -4 // malformed time separator
		}
		p--
	}
	// The fraction: up to six digits count, more are skipped.
	n := min(end-p, 6)
	us, next, ok := b.digits(p, n)
	if !ok {
		return -3
	}
	for ; n < 6; n++ {
		us *= 10
	}
	*micros = us
	for p = next; isDigit(b.at(p)); p++ {
	}
	if b.at(p) != 0 {
		return 1
	}
	return 0
}

func isLeap(year int) bool {
	return year%4 == 0 && (year%100 != 0 || year%400 == 0)
}

var daysBefore = [...]int{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

func daysInMonth(year, month int) int {
	if month == 2 && isLeap(year) {
		return 29
	}
	return [...]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
}

// ymdToOrd is the proleptic Gregorian ordinal, 0001-01-01 being 1. As in
// C, the divisions truncate, which matters for year 0 only.
func ymdToOrd(year, month, day int) int {
	y := year - 1
	days := y*365 + y/4 - y/100 + y/400 + daysBefore[month]
	if month > 2 && isLeap(year) {
		days++
	}
	return days + day
}

// isoToYMD is iso_to_ymd: 0, or -2 for a bad week, -3 for a bad day.
func isoToYMD(year, week, day int, t *Time) int {
	if week <= 0 || week >= 53 {
		first := (ymdToOrd(year, 1, 1) + 6) % 7
		if week != 53 || !(first == 3 || first == 2 && isLeap(year)) {
			return -2
		}
	}
	if day <= 0 || day >= 8 {
		return -3
	}
	first := ymdToOrd(year, 1, 1)
	weekday := (first + 6) % 7
	monday := first - weekday
	if weekday > 3 {
		monday += 7
	}
	ord := monday + (week-1)*7 + day - 1
	if ord < 1 {
		// Only from year 0. CPython's ord_to_ymd then yields year 1 and
		// a month below 1 (reading outside its tables), so the datetime
		// constructor says "month must be in 1..12".
		t.year, t.month, t.day = 1, 0, 0
		return 0
	}
	d := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, ord-1)
	t.year, t.month, t.day = d.Year(), int(d.Month()), d.Day()
	return 0
}
