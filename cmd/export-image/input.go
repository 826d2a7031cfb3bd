package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
)

// source is the image to export.
type source struct {
	name   string // in messages
	layers []image.Layer
	close  func() error
}

func (s *source) Close() error { return s.close() }

// openImage opens the image of a docker-archive.
//
// TEMPORARY ADAPTER. TODO(lead): replace openImage and archiveLayer with
// the shared opener, which also reads OCI layouts and oci-archives:
//
//	f, err := imagefile.Open(name)
//	im, err := f.Find(tag)
//	rootfs.Export(out, im.Layers, opts) // defer f.Close()
//
// and say "an OCI layout directory or an oci-archive" in --help.
func openImage(name, tag string) (*source, error) {
	ar, err := dockerarchive.Open(name)
	if err != nil {
		return nil, err
	}
	im, err := ar.FindImage(tag)
	if err != nil {
		ar.Close()
		return nil, err
	}
	s := &source{name: ar.Name, close: ar.Close}
	if len(im.RepoTags) > 0 {
		s.name = fmt.Sprintf("%s (%s)", ar.Name, strings.Join(im.RepoTags, ", "))
	}
	for _, l := range im.Layers {
		what := fmt.Sprintf("%s: layer %s", ar.Name, l.Name)
		s.layers = append(s.layers, image.Layer{DiffID: l.DiffID, Size: -1, Source: archiveLayer{l, what}})
	}
	return s, nil
}

// archiveLayer is a layer member of a docker-archive as an image.Source:
// the uncompressed tar, checked against the diff_id.
type archiveLayer struct {
	l    dockerarchive.Layer
	name string
}

func (a archiveLayer) String() string { return a.name }

func (a archiveLayer) Stream(w io.Writer) error {
	zr, _, err := compress.NewReader(a.l.Open())
	if err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	defer zr.Close()
	v := image.NewVerifier(w)
	if _, err := io.Copy(v, zr); err != nil {
		var we *image.WriteError
		if errors.As(err, &we) {
			return err
		}
		return fmt.Errorf("%s: %w", a.name, err)
	}
	return v.Check(a.name, a.l.DiffID, -1)
}
