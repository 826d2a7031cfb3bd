// Package compress owns the compressions the toolkit reads and writes:
// plain, gzip and zstd. Input is recognised by its first bytes, never by a
// file name; output is deterministic: the same bytes in give the same bytes
// out on any machine, whatever GOMAXPROCS or concurrency (blocks of a
// fixed size, compressed independently at a fixed level, in parallel,
// written in order; gzip headers carry no name and no time).
package compress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Kind names a compression.
type Kind string

// The compressions known.
const (
	None Kind = "none"
	Gzip Kind = "gzip"
	Zstd Kind = "zstd"
)

// ParseKind accepts "none", "gzip" or "zstd".
func ParseKind(s string) (Kind, error) {
	switch Kind(s) {
	case None, Gzip, Zstd:
		return Kind(s), nil
	case "":
		return None, nil
	}
	return "", fmt.Errorf("unknown compression %q (want none, gzip or zstd)", s)
}

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Detect returns the compression of the stream behind br, looking at its
// first bytes without consuming them.
func Detect(br *bufio.Reader) Kind {
	head, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return None
}

// NewReader returns a reader of r's decompressed bytes, whichever of the
// known compressions r uses, and the compression found. Close releases
// the decoder; it does not close r.
func NewReader(r io.Reader) (io.ReadCloser, Kind, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	kind := Detect(br)
	switch kind {
	case Gzip:
		zr, err := pgzip.NewReader(br)
		if err != nil {
			return nil, kind, fmt.Errorf("gzip: %w", err)
		}
		return zr, kind, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, kind, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), kind, nil
	}
	return io.NopCloser(br), None, nil
}

// NewWriter returns a writer compressing into w, in parallel, with the
// process's shared Pool (as many blocks at once as cores, at most 4).
// Close flushes the compressed stream; it does not close w. The bytes
// written depend only on the bytes in and the kind (see GzipBlockSize and
// ZstdBlockSize for the formats).
func NewWriter(w io.Writer, kind Kind) (io.WriteCloser, error) {
	return defaultPool.NewWriter(w, kind)
}

func errUnknown(kind Kind) error {
	return fmt.Errorf("unknown compression %q", kind)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
