package imagefile

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/opencontainers/go-digest"
)

// Summary describes one image of a file: what `merge-images --list`
// prints, and what the scripts need to know of a base image.
type Summary struct {
	File       string          `json:"file"`
	Format     Format          `json:"format"`
	Tags       []string        `json:"tags"`
	ImageID    digest.Digest   `json:"imageID"`
	Layers     int             `json:"layers"`
	DiffIDs    []digest.Digest `json:"diffIDs"`
	StorePaths []string        `json:"storePaths,omitempty"`
}

// Summarize describes an image of the file.
func (f *File) Summarize(im *image.Image) Summary {
	s := Summary{File: f.Name, Format: f.Format, Tags: im.Names, ImageID: im.ID(), Layers: len(im.Layers), DiffIDs: im.DiffIDs()}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	return s
}

// StorePaths lists the store paths (directories, files or symlinks right
// below storeDir) that the image's layers hold, sorted. Each layer is read
// through once, decompressed and checked against its diffID.
func StorePaths(im *image.Image, storeDir string) ([]string, error) {
	prefix := strings.Trim(path.Clean("/"+storeDir), "/") + "/"
	seen := map[string]bool{}
	for i, l := range im.Layers {
		if err := storePaths(l, prefix, seen); err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

func storePaths(l image.Layer, prefix string, seen map[string]bool) error {
	r := l.Open()
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			_, err = io.Copy(io.Discard, r) // the rest, so the whole layer is checked
			return err
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		seen["/"+prefix+first] = true
	}
}
