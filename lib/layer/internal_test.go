package layer

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/pytar"
)

// statAs is the lstat of p with another size, as if p changed between
// the lstat and the read.
func statAs(t *testing.T, p string, size int64) *syscall.Stat_t {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	st.Size = size
	return &st
}

// TestSizeChangesAreErrors: a file that is longer or shorter than its
// announced size, or whose times differ after it was read (it changed
// between lstat and read), fails the layer, read or sent from the kernel.
func TestSizeChangesAreErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, zeroCopyMin+10), 0o644)
	for _, zero := range []bool{false, true} {
		for _, tc := range []struct {
			file      string
			announced int64
			want      string
		}{
			{p, 5, "grew"},
			{p, 9, "grew"},
			{p, 11, "shrank"},
			{p, 1 << 21, "shrank"},
			{big, zeroCopyMin + 5, map[bool]string{false: "grew", true: "changed while it was read"}[zero]},
			{big, zeroCopyMin + 11, "shrank"},
		} {
			o := Defaults()
			o.NoDiffID, o.zeroCopy = true, zero
			lw, _ := newWriter(io.Discard, o)
			lw.readMax = 4 // several reads per file
			if err := lw.header("/f", pytar.TypeReg, 0o644, tc.announced, ""); err != nil {
				t.Fatal(err)
			}
			err := lw.contents(tc.file, statAs(t, tc.file, tc.announced))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("zero-copy %v, announced %d: %v, want %q", zero, tc.announced, err, tc.want)
			}
			lw.stop()
		}
	}
	lw, _ := newWriter(io.Discard, Defaults())
	lw.readMax = 10 // the size is a multiple of the read: one more read finds the end
	lw.header("/f", pytar.TypeReg, 0o644, 10, "")
	if err := lw.contents(p, statAs(t, p, 10)); err != nil {
		t.Errorf("exact size: %v", err)
	}
	// Times that differ after the read: the file changed meanwhile.
	st := statAs(t, p, 10)
	st.Ctim.Nsec ^= 1
	lw2, _ := newWriter(io.Discard, Defaults())
	lw2.header("/f", pytar.TypeReg, 0o644, 10, "")
	if err := lw2.contents(p, st); err == nil || !strings.Contains(err.Error(), "changed while it was read") {
		t.Errorf("other ctime: %v", err)
	}
}

func TestPythonLess(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"b", "b-c"},
		{"b-c", "b.c"},
		{"\xff", "\xee\x80\x80"},         // U+DCFF < U+E000
		{"\xf5", "\xf0\x9d\x84\x9e"},     // U+DCF5 < U+1D11E
		{"\xed\xa0\x80", "\xee\x80\x80"}, // an encoded surrogate is undecodable: U+DCED...
		{"a", "ab"},
		{"Z", "a"},
		{"é", "\xff"}, // U+00E9 < U+DCFF
	} {
		if !PythonLess(tc.a, tc.b) || PythonLess(tc.b, tc.a) {
			t.Errorf("want %q < %q", tc.a, tc.b)
		}
	}
	if PythonLess("x", "x") {
		t.Error("x < x")
	}
}
