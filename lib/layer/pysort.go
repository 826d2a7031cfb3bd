package layer

import "unicode/utf8"

// PythonLess orders two file names the way Python orders the strings
// os.fsdecode gives for them: by code point, where each byte that is not
// part of valid UTF-8 counts as the surrogate U+DC80..U+DCFF. For valid
// UTF-8 this is plain byte order; it differs only where undecodable bytes
// meet characters from U+E000 up.
func PythonLess(a, b string) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < utf8.RuneSelf && b[j] < utf8.RuneSelf {
			if a[i] != b[j] {
				return a[i] < b[j]
			}
			i++
			j++
			continue
		}
		ra, na := pyRune(a, i)
		rb, nb := pyRune(b, j)
		if ra != rb {
			return ra < rb
		}
		i += na
		j += nb
	}
	return len(a)-i < len(b)-j
}

// pyRune decodes the character at s[i] as Python's surrogateescape does.
func pyRune(s string, i int) (rune, int) {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n == 1 {
		return 0xDC00 + rune(s[i]), 1
	}
	return r, n
}
