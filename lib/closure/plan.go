package closure

// AppendText appends a plan in its text form: one line per layer, bottom
// layer first, the layer's paths separated by single spaces (one
// `xargs -L1` invocation per layer). An empty plan is empty.
func AppendText(dst []byte, layers [][]string) []byte {
	for _, l := range layers {
		for i, p := range l {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = append(dst, p...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// AppendJSON appends a plan as a JSON array of arrays of paths, on one
// line, written as Python's json.dumps writes it (", " between elements,
// non-ASCII characters escaped), so that an auto layering has the bytes
// auto-layer.py prints.
func AppendJSON(dst []byte, layers [][]string) []byte {
	dst = append(dst, '[')
	for i, l := range layers {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendJSONList(dst, l)
	}
	return append(dst, "]\n"...)
}

// AppendJSONList appends a list of paths as a JSON array on one line, as
// AppendJSON writes each layer.
func AppendJSONList(dst []byte, paths []string) []byte {
	return append(appendJSONList(dst, paths), '\n')
}

func appendJSONList(dst []byte, paths []string) []byte {
	dst = append(dst, '[')
	for i, p := range paths {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendPyString(dst, p)
	}
	return append(dst, ']')
}

// appendPyString writes s as json.dumps does with ensure_ascii: printable
// ASCII as is, the rest escaped, characters beyond the BMP as surrogate
// pairs.
func appendPyString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(dst []byte, r rune) []byte {
		return append(dst, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
	}
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			dst = append(dst, byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r > 0xffff:
			r -= 0x10000
			dst = u4(u4(dst, 0xd800+(r>>10)), 0xdc00+(r&0x3ff))
		default:
			dst = u4(dst, r)
		}
	}
	return append(dst, '"')
}
