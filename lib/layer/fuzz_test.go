package layer_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/go-dockertools/dockertools/lib/layer"
)

// FuzzReadPathList: any input reads or fails with a one-line error naming
// the input, never panics; a JSON array reads as encoding/json reads it
// and anything else as white-space separated fields; the paths read back
// the same written as a JSON array and, when they hold no white space, as
// lines. Every path CheckStorePath accepts is absolute, clean, without
// "..", and directly inside the store directory. Seeds
// (testdata/fuzz/FuzzReadPathList): plan lines of closure-popularity, its
// --json output, path lists with CRLF, tabs and blank lines, and broken
// JSON.
func FuzzReadPathList(f *testing.F) {
	const store = "/nix/store"
	f.Fuzz(func(t *testing.T, data []byte) {
		paths, err := layer.ReadPathList(bytes.NewReader(data), "fuzz.txt")
		trimmed := bytes.TrimSpace(data)
		isJSON := len(trimmed) > 0 && trimmed[0] == '['
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.txt: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q does not name the input on one line", msg)
			}
			if !isJSON {
				t.Fatalf("text input failed: %v", err)
			}
			// Only a null element may fail an array encoding/json reads.
			var want []*string
			if json.Unmarshal(trimmed, &want) == nil && !slices.Contains(want, nil) {
				t.Fatalf("encoding/json reads %d strings, ReadPathList fails: %v", len(want), err)
			}
			return
		}
		if isJSON {
			var want []string
			if err := json.Unmarshal(trimmed, &want); err != nil || !slices.Equal(paths, want) {
				t.Fatalf("read %q; encoding/json reads %q (%v)", paths, want, err)
			}
		} else if want := strings.Fields(string(data)); !slices.Equal(paths, want) {
			t.Fatalf("read %q, want the fields %q", paths, want)
		}

		js, err := json.Marshal(append([]string{}, paths...))
		if err != nil {
			t.Fatal(err)
		}
		again, err := layer.ReadPathList(bytes.NewReader(js), "again.json")
		if err != nil || !sameStrings(again, paths) {
			// encoding/json writes invalid UTF-8 as U+FFFD: compare
			// after that replacement.
			if err != nil || !sameStrings(again, validUTF8(paths)) {
				t.Fatalf("JSON array %s read back as %q (%v), want %q", js, again, err, paths)
			}
		}
		// Lines cannot carry an empty path (a JSON "" or null) or one with
		// white space.
		if !slices.ContainsFunc(paths, func(p string) bool { return p == "" || strings.ContainsFunc(p, isSpace) }) {
			text := strings.Join(paths, "\n")
			if !strings.HasPrefix(strings.TrimLeftFunc(text, isSpace), "[") {
				again, err := layer.ReadPathList(strings.NewReader(text), "again.txt")
				if err != nil || !sameStrings(again, paths) {
					t.Fatalf("lines %q read back as %q (%v)", text, again, err)
				}
			}
		}

		for _, p := range paths {
			clean, err := layer.CheckStorePath(p, store)
			if err != nil {
				if msg := err.Error(); strings.ContainsAny(msg, "\r\n") && !strings.ContainsAny(p, "\r\n") {
					t.Fatalf("CheckStorePath(%q): error %q is not one line", p, msg)
				}
				continue
			}
			if !filepath.IsAbs(clean) || filepath.Clean(clean) != clean || filepath.Dir(clean) != store ||
				slices.Contains(strings.Split(p, "/"), "..") {
				t.Fatalf("CheckStorePath(%q) accepted it as %q", p, clean)
			}
		}
	})
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// sameStrings compares, taking nil and empty as equal.
func sameStrings(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }

// validUTF8 replaces each byte that is not part of valid UTF-8 with
// U+FFFD, as encoding/json does.
func validUTF8(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		var b strings.Builder
		for len(s) > 0 {
			r, n := utf8.DecodeRuneInString(s)
			if r == utf8.RuneError && n == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.WriteString(s[:n])
			}
			s = s[n:]
		}
		out[i] = b.String()
	}
	return out
}
