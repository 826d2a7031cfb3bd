// Package compress owns the compressions the toolkit reads and writes:
// plain, gzip and zstd. Input is recognised by its first bytes, never by a
// file name; output is deterministic: the same bytes in give the same bytes
// out on any machine, whatever GOMAXPROCS (gzip headers carry no name and
// no time; parallel gzip uses a fixed block size; zstd a fixed level and
// no multithreaded framing differences).
package compress

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"time"

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

// GzipBlockSize is the block size of parallel gzip output. It is fixed so
// the output does not depend on the machine.
const GzipBlockSize = 1 << 20

// NewWriter returns a writer compressing into w. Close flushes the
// compressed stream; it does not close w.
func NewWriter(w io.Writer, kind Kind) (io.WriteCloser, error) {
	switch kind {
	case None, "":
		return nopWriteCloser{w}, nil
	case Gzip:
		zw, err := pgzip.NewWriterLevel(w, 6)
		if err != nil {
			return nil, err
		}
		// Fixed blocks, so the compressed bytes are the same whatever
		// the number of cores; the header holds no name and no time
		// (pgzip writes the zero time.Time as a nonsense stamp: set 0).
		// How many blocks are in flight changes only speed and memory
		// (each holds its input, output and a compressor, ~3 MiB): one
		// per core and one being filled, at most 4.
		if err := zw.SetConcurrency(GzipBlockSize, gzipBlocks()); err != nil {
			return nil, err
		}
		zw.Header.ModTime = time.Unix(0, 0)
		return zw, nil
	case Zstd:
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(2),
			zstd.WithZeroFrames(true))
	}
	return nil, fmt.Errorf("unknown compression %q", kind)
}

func gzipBlocks() int {
	return min(runtime.GOMAXPROCS(0)+1, 4)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
