// Package assemble puts layers and a config together into an image archive
// that docker load accepts, streaming it. It has two front doors over one
// way of writing: Native takes layer descriptors from path-to-layer and an
// image config; Nixpkgs takes the conf.json nixpkgs' streamLayeredImage
// hands to stream_layered_image.py and writes exactly the bytes that script
// writes, building the store layers straight from the store.
package assemble

import (
	"bufio"
	"fmt"
	"io"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/opencontainers/go-digest"
)

// DefaultMaxLayers is Docker's limit on an image's layers.
const DefaultMaxLayers = 125

// Result describes the image written.
type Result struct {
	Name    string          `json:"name"`
	Tag     string          `json:"tag"`
	ImageID digest.Digest   `json:"imageID"`
	DiffIDs []digest.Digest `json:"diffIDs"`
}

// Logger receives informational messages (nil: none).
type Logger func(format string, args ...any)

func (l Logger) printf(format string, args ...any) {
	if l != nil {
		l(format, args...)
	}
}

// WriteError is a failure to write the archive to its destination, as
// opposed to a problem with an input, so a caller can name its output in
// the message.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// destWriter marks the destination's errors as WriteErrors.
type destWriter struct{ w io.Writer }

func (d destWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	if err != nil {
		err = &WriteError{err}
	}
	return n, err
}

// output wraps the destination: optional whole-stream compression, and a
// buffer so small members do not each cost a write.
type output struct {
	io.Writer
	buf *bufio.Writer
	zw  io.WriteCloser
}

func newOutput(w io.Writer, kind compress.Kind) (*output, error) {
	buf := bufio.NewWriterSize(destWriter{w}, 1<<20)
	zw, err := compress.NewWriter(buf, kind)
	if err != nil {
		return nil, err
	}
	return &output{Writer: zw, buf: buf, zw: zw}, nil
}

func (o *output) close() error {
	if err := o.zw.Close(); err != nil {
		return err
	}
	return o.buf.Flush()
}

func checkLayerCount(total, max int) error {
	if max <= 0 {
		max = DefaultMaxLayers
	}
	if total > max {
		return fmt.Errorf("the image would have %d layers, more than the %d allowed (--max-layers)", total, max)
	}
	return nil
}
