package pyjson_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/pyjson"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// isoCases are what python3.11 (TZ=UTC) printed for
// datetime.fromisoformat(in): isoformat(), int(timestamp()), or the
// ValueError's message. Strings hold lone surrogates as WTF-8.
var isoCases = []struct {
	in, iso string
	ts      int64
	err     string
}{
	{"1970-01-01T00:00:01+00:00", "1970-01-01T00:00:01+00:00", 1, ""},
	{"1970-01-01T00:00:01Z", "1970-01-01T00:00:01+00:00", 1, ""},
	{"2024-02-29T12:34:56+05:30", "2024-02-29T12:34:56+05:30", 1709190296, ""},
	{"2001-09-09T01:46:40", "2001-09-09T01:46:40", 1000000000, ""},
	{"2001-09-09T01:46:40.5", "2001-09-09T01:46:40.500000", 1000000000, ""},
	{"2020-01-01T12:34:56.123+05:30", "2020-01-01T12:34:56.123000+05:30", 1577862296, ""},
	{"2020-01-01T12:34:56,5", "2020-01-01T12:34:56.500000", 1577882096, ""},
	{"2020-01-01T12:34:56.1234567891", "2020-01-01T12:34:56.123456", 1577882096, ""},
	{"1969-12-31T23:59:59.5+00:00", "1969-12-31T23:59:59.500000+00:00", 0, ""},
	{"1969-12-31T23:59:59.5", "1969-12-31T23:59:59.500000", 0, ""},
	{"20200101T123456", "2020-01-01T12:34:56", 1577882096, ""},
	{"20200101", "2020-01-01T00:00:00", 1577836800, ""},
	{"2020-01-01", "2020-01-01T00:00:00", 1577836800, ""},
	{"2020-01-01 12", "2020-01-01T12:00:00", 1577880000, ""},
	{"2020-01-01\u00e912", "2020-01-01T12:00:00", 1577880000, ""},
	{"2020-01-01\U0001f60012:00", "2020-01-01T12:00:00", 1577880000, ""},
	{"2020-01-01\xed\xa0\x8012", "2020-01-01T12:00:00", 1577880000, ""},
	{"2020-01-01T12:34:56-00:00", "2020-01-01T12:34:56+00:00", 1577882096, ""},
	{"2020-01-01T00:00+00:00:00.5", "2020-01-01T00:00:00+00:00", 1577836800, ""},
	{"2020-01-01T00:00+00:00:01.5", "2020-01-01T00:00:00+00:00:01.500000", 1577836798, ""},
	{"2020-01-01T00:00-05:30:15.25", "2020-01-01T00:00:00-05:30:15.250000", 1577856615, ""},
	{"2020-01-01T00:00+05:99", "2020-01-01T00:00:00+06:39", 1577812860, ""},
	{"2020-01-01T12:34:56+0530", "2020-01-01T12:34:56+05:30", 1577862296, ""},
	{"2020-01-01T12:34:56+05", "2020-01-01T12:34:56+05:00", 1577864096, ""},
	{"2020-01-01T12:34:56+23:59:59.999999", "2020-01-01T12:34:56+23:59:59.999999", 1577795696, ""},
	{"2020-W01-1T10", "2019-12-30T10:00:00", 1577700000, ""},
	{"2020-W01-10", "2019-12-30T10:00:00", 1577700000, ""},
	{"2020W011", "2019-12-30T00:00:00", 1577664000, ""},
	{"2020W01", "2019-12-30T00:00:00", 1577664000, ""},
	{"2020-W53-7", "2021-01-03T00:00:00", 1609632000, ""},
	{"2020-01-01T12:+05", "2020-01-01T12:00:00+05:00", 1577862000, ""},
	{"2020-01-01T12.5", "2020-01-01T12:00:00.500000", 1577880000, ""},
	{"2020-01-01T12:34:56:12", "2020-01-01T12:34:56.120000", 1577882096, ""},
	{"2020-01-01T00:00Z\x00abc", "2020-01-01T00:00:00+00:00", 1577836800, ""},
	{"2020-01-01T12:30\x00+05", "2020-01-01T12:30:00+05:00", 1577863800, ""},
	{"0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+00:00", -62135596800, ""},
	{"9999-12-31T23:59:59.999999+00:00", "9999-12-31T23:59:59.999999+00:00", 253402300800, ""},
	{"9999-12-31T23:59:59.999999-23:59", "9999-12-31T23:59:59.999999-23:59", 253402387140, ""},
	{"2020-01-01T12:34:56.", "", 0, "Invalid isoformat string: '2020-01-01T12:34:56.'"},
	{"2020-001", "", 0, "Invalid isoformat string: '2020-001'"},
	{"2020-01-01T24:00", "", 0, "hour must be in 0..23"},
	{"0000-01-01", "", 0, "year 0 is out of range"},
	{"2020-02-30", "", 0, "day is out of range for month"},
	{"2021-02-29", "", 0, "day is out of range for month"},
	{"2020-13-01", "", 0, "month must be in 1..12"},
	{"2020-01-01T12:60", "", 0, "minute must be in 0..59"},
	{"2020-01-01T12:00:60", "", 0, "second must be in 0..59"},
	{"2020-01-01T12:34:56+24:00", "", 0, "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=1)."},
	{"2020-01-01T12:34:56-24:00", "", 0, "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=-1)."},
	{"2020-01-01T00:00-99:99:99.9", "", 0, "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24), not datetime.timedelta(days=-5, seconds=69560, microseconds=100000)."},
	{"0000-W01-1", "", 0, "month must be in 1..12"},
	{"9999-W52-6", "", 0, "year 10000 is out of range"},
	{"2021-W53", "", 0, "Invalid isoformat string: '2021-W53'"},
	{"2020-W01-8", "", 0, "Invalid isoformat string: '2020-W01-8'"},
	{"2020-W01-", "", 0, "Invalid isoformat string: '2020-W01-'"},
	{"2020-01-01T12:34:56Z ", "", 0, "Invalid isoformat string: '2020-01-01T12:34:56Z '"},
	{"2020-01-01T12:34:56+5", "", 0, "Invalid isoformat string: '2020-01-01T12:34:56+5'"},
	{"2020-01-01T", "", 0, "Invalid isoformat string: '2020-01-01T'"},
	{"2020-01", "", 0, "Invalid isoformat string: '2020-01'"},
	{"now", "", 0, "Invalid isoformat string: 'now'"},
	{"", "", 0, "Invalid isoformat string: ''"},
	{"2020-01-01T12:30+05\x00xx", "", 0, "Invalid isoformat string: '2020-01-01T12:30+05\\x00xx'"},
	{"\uff12\uff10\uff12\uff10-01-01", "", 0, "Invalid isoformat string: '\uff12\uff10\uff12\uff10-01-01'"},
	{"2020-01-01T12:34:56\xed\xa0\x80", "", 0, "Invalid isoformat string: '2020-01-01T12:34:56\\ud800'"},
}

func TestParseISOTime(t *testing.T) {
	for _, c := range isoCases {
		tm, err := pyjson.ParseISOTime(c.in)
		if c.err != "" {
			var ie *pyjson.ISOTimeError
			if !errors.As(err, &ie) || ie.Msg != c.err {
				t.Errorf("ParseISOTime(%q) = %v, %v; want error %q", c.in, tm.ISOFormat(), err, c.err)
			} else if !strings.Contains(err.Error(), pyjson.Repr(c.in)) {
				t.Errorf("ParseISOTime(%q): error %q does not name the string", c.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseISOTime(%q): %v", c.in, err)
			continue
		}
		if got := tm.ISOFormat(); got != c.iso {
			t.Errorf("ParseISOTime(%q).ISOFormat() = %s, want %s", c.in, got, c.iso)
		}
		if got := pyjson.TimestampIn(tm, time.UTC); got != c.ts {
			t.Errorf("ParseISOTime(%q).Timestamp() = %d, want %d", c.in, got, c.ts)
		}
		if want := strings.ContainsAny(c.iso[19:], "+-"); tm.Aware() != want {
			t.Errorf("ParseISOTime(%q).Aware() = %v", c.in, tm.Aware())
		}
	}
}

// Naive times are local times, with Python's answers in a gap and in a
// repeated hour (fold=0: the earlier).
func TestTimestampLocal(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		testutil.Missing(t, "no time zone data (Debian package tzdata): %v", err)
	}
	for _, c := range []struct {
		in string
		ts int64
	}{
		{"2021-07-01T12:00:00", 1625133600},
		{"2021-03-28T02:30:00", 1616895000}, // in the gap: as if 01:30 UTC+1 +1h
		{"2021-10-31T02:30:00", 1635640200}, // repeated: the first, UTC+2
		{"1969-12-31T23:59:59.5", -3600},
	} {
		tm, err := pyjson.ParseISOTime(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := pyjson.TimestampIn(tm, berlin); got != c.ts {
			t.Errorf("%s in Europe/Berlin: %d, want %d", c.in, got, c.ts)
		}
	}
}

func TestNow(t *testing.T) {
	before := time.Now().Unix()
	now := pyjson.Now()
	after := time.Now().Unix()
	if ts := now.Timestamp(); ts < before || ts > after {
		t.Errorf("Now().Timestamp() = %d, not in [%d, %d]", ts, before, after)
	}
	iso := now.ISOFormat()
	back, err := pyjson.ParseISOTime(iso)
	if err != nil || back != now || !strings.HasSuffix(iso, "+00:00") {
		t.Errorf("Now() = %s; read back: %v, %v", iso, back, err)
	}
}
