// Package assemble puts layers and a config together into an image of the
// lib/image model, ready for any of imagefile's writers. It has two front
// doors: Native takes layer descriptors from path-to-layer and an image
// config; Nixpkgs takes the conf.json nixpkgs' streamLayeredImage hands to
// stream_layered_image.py and gives the image whose docker-archive is
// exactly the bytes that script writes, its store layers built straight
// from the store.
package assemble

import (
	"fmt"
	"io"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imagefile"
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

// Built is an image ready to be written, with what its docker-archive
// looks like (nixpkgs' bytes, or docker save's) and what to report.
type Built struct {
	Image *image.Image
	// Result is complete once the image is written (the drop-in's image
	// ID and diffIDs are known only when its layers are measured).
	Result Result
	Style  dockerarchive.Style
	Mtime  int64 // of a docker-archive's members
	base   *imagefile.File
	halt   chan struct{}
}

// stop is closed by Close: background work on the image ends.
func (b *Built) stop() <-chan struct{} {
	if b.halt == nil {
		b.halt = make(chan struct{})
	}
	return b.halt
}

// Close releases the base image the layers may be read from, and stops
// measuring layers not yet measured.
func (b *Built) Close() error {
	if b.halt != nil {
		close(b.halt)
		b.halt = nil
	}
	if b.base == nil {
		return nil
	}
	return b.base.Close()
}

// Options are the writer options that make the image's archive look as
// the build wants it, in the given format.
func (b *Built) Options(format imagefile.Format) imagefile.Options {
	return imagefile.Options{Format: format, Style: b.Style, Mtime: b.Mtime}
}

// WriteArchive writes the image as a docker-archive to w, compressed
// whole as kind says.
func (b *Built) WriteArchive(w io.Writer, kind compress.Kind) error {
	o := b.Options(imagefile.DockerArchive)
	o.Compress = kind
	aw, err := imagefile.NewWriter(w, o)
	if err != nil {
		return err
	}
	if err := aw.Add(b.Image); err != nil {
		return err
	}
	return aw.Close()
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
