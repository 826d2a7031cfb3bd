package dockerarchive

import (
	"bytes"
	"fmt"
	"io"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
)

// Model returns an image of the archive in the lib/image model: its
// config, names, and layers whose sources read the archive's members,
// checked against their diff_ids as they are read. A compressed layer
// member is also offered as the stored blob it is.
func (a *Archive) Model(im *Image) *image.Image {
	out := &image.Image{Config: im.Config, Names: im.RepoTags, Source: a.Name}
	for _, l := range im.Layers {
		out.Layers = append(out.Layers, a.modelLayer(l))
	}
	return out
}

func (a *Archive) modelLayer(l Layer) image.Layer {
	what := fmt.Sprintf("%s: layer %s", a.Name, l.Name)
	head := make([]byte, 4)
	n, _ := a.f.ReadAt(head, l.offset)
	kind := compress.None
	switch {
	case l.size >= 2 && bytes.HasPrefix(head[:n], []byte{0x1f, 0x8b}):
		kind = compress.Gzip
	case l.size >= 4 && bytes.HasPrefix(head[:n], []byte{0x28, 0xb5, 0x2f, 0xfd}):
		kind = compress.Zstd
	}
	raw := func(w io.Writer) error {
		_, err := image.Copy(w, l.Open(), what)
		return err
	}
	if kind == compress.None {
		return image.Layer{DiffID: l.DiffID, Size: l.size, Source: image.Generated(what, raw, image.Want{Digest: l.DiffID, Size: l.size, By: "its diff_id"}), Member: l.Header}
	}
	decompressed := func(w io.Writer) error {
		zr, _, err := compress.NewReader(l.Open())
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		defer zr.Close()
		_, err = image.Copy(w, zr, what+": decompressing")
		return err
	}
	return image.Layer{
		DiffID: l.DiffID, Size: -1,
		Source: image.Generated(what+" (decompressed)", decompressed, image.Want{Digest: l.DiffID, Size: -1, By: "its diff_id"}),
		Stored: &image.Blob{Compression: kind, Size: l.size, Source: storedMember{l, what}},
		Member: l.Header,
	}
}

// storedMember writes a compressed layer member as stored, checked
// against the diff_id once decompressed.
type storedMember struct {
	l    Layer
	what string
}

func (s storedMember) String() string           { return s.what }
func (s storedMember) Stream(w io.Writer) error { return s.l.CopyTo(w) }
