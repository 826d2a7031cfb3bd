package layer

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/pytar"
)

// TestSizeChangesAreErrors: a file that is longer or shorter than its
// announced size (it changed between lstat and read) fails the layer.
func TestSizeChangesAreErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	for _, tc := range []struct {
		announced int64
		want      string
	}{
		{5, "grew"},
		{9, "grew"},
		{11, "shrank"},
		{1 << 21, "shrank"},
	} {
		lw, _ := newWriter(io.Discard, Defaults())
		lw.readMax = 4 // several reads per file
		if err := lw.header("/f", pytar.TypeReg, 0o644, tc.announced, ""); err != nil {
			t.Fatal(err)
		}
		err := lw.contents(p, tc.announced)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("announced %d of 10 bytes: %v, want %q", tc.announced, err, tc.want)
		}
	}
	lw, _ := newWriter(io.Discard, Defaults())
	lw.readMax = 10 // the size is a multiple of the read: one more read finds the end
	lw.header("/f", pytar.TypeReg, 0o644, 10, "")
	if err := lw.contents(p, 10); err != nil {
		t.Errorf("exact size: %v", err)
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
