package mergetest

import (
	"bytes"
	"fmt"
	"testing"
)

// WithMemberSize returns a copy of the tar data in which member name's
// header claims size bytes (base-256, as for a size beyond the octal
// field), its checksum fixed so that a reader gets as far as the size.
func WithMemberSize(t testing.TB, data []byte, name string, size int64) []byte {
	t.Helper()
	data = bytes.Clone(data)
	for off := 0; off+512 <= len(data); off += 512 {
		if string(bytes.TrimRight(data[off:off+100], "\x00")) != name {
			continue
		}
		blk := data[off : off+512]
		clear(blk[124:136])
		blk[124] = 0x80
		for i, v := 135, size; v > 0; i, v = i-1, v>>8 {
			blk[i] = byte(v)
		}
		var sum int64
		for i, b := range blk {
			if i >= 148 && i < 156 {
				b = ' '
			}
			sum += int64(b)
		}
		copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
		return data
	}
	t.Fatalf("no member %s", name)
	return nil
}
