package compress

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"runtime"
	"testing"
)

func sample() []byte {
	b := make([]byte, 3<<20+123) // several gzip blocks
	r := rand.New(rand.NewSource(1))
	for i := range b {
		if i%7 == 0 {
			b[i] = byte(r.Intn(256))
		} else {
			b[i] = byte('a' + i%13)
		}
	}
	return b
}

func compressed(t *testing.T, kind Kind, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAndDetection(t *testing.T) {
	data := sample()
	for _, kind := range []Kind{None, Gzip, Zstd} {
		c := compressed(t, kind, data)
		if got := Detect(bufio.NewReader(bytes.NewReader(c))); got != kind {
			t.Errorf("%s output detected as %s", kind, got)
		}
		r, got, err := NewReader(bytes.NewReader(c))
		if err != nil || got != kind {
			t.Fatalf("%s: NewReader: %v, kind %s", kind, err, got)
		}
		back, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("%s: round trip lost data (%v)", kind, err)
		}
		if kind != None && len(c) >= len(data) {
			t.Errorf("%s: %d bytes from %d: not compressed", kind, len(c), len(data))
		}
	}
}

// TestDeterministic: the same bytes in give the same bytes out, whatever
// the number of cores; gzip headers carry no time and no name.
func TestDeterministic(t *testing.T) {
	data := sample()
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, kind := range []Kind{Gzip, Zstd} {
		runtime.GOMAXPROCS(1)
		one := compressed(t, kind, data)
		runtime.GOMAXPROCS(4)
		four := compressed(t, kind, data)
		again := compressed(t, kind, data)
		if !bytes.Equal(one, four) || !bytes.Equal(four, again) {
			t.Errorf("%s output depends on GOMAXPROCS or on the run", kind)
		}
		if kind == Gzip {
			if !bytes.Equal(one[4:8], []byte{0, 0, 0, 0}) {
				t.Errorf("gzip header holds a time: % x", one[4:8])
			}
			if one[3]&0x08 != 0 {
				t.Error("gzip header holds a file name")
			}
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"none": None, "": None, "gzip": Gzip, "zstd": Zstd} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"bzip2", "GZIP", "xz"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
	}
}

func TestCorruptInput(t *testing.T) {
	for _, kind := range []Kind{Gzip, Zstd} {
		c := compressed(t, kind, sample())
		c = c[:len(c)/2]
		r, _, err := NewReader(bytes.NewReader(c))
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil {
			t.Errorf("%s: a truncated stream read without error", kind)
		}
	}
	// Short input is plain, not an error.
	r, kind, err := NewReader(bytes.NewReader([]byte{0x1f}))
	if err != nil || kind != None {
		t.Fatalf("one byte: %v %s", err, kind)
	}
	if b, _ := io.ReadAll(r); !bytes.Equal(b, []byte{0x1f}) {
		t.Errorf("one byte read back as % x", b)
	}
}
