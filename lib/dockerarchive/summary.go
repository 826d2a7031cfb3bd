package dockerarchive

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/opencontainers/go-digest"
)

// Summary describes one image of an archive: what `merge-images --list`
// prints, and what the scripts need to know of a base image.
type Summary struct {
	File       string          `json:"file"`
	Tags       []string        `json:"tags"`
	ImageID    digest.Digest   `json:"imageID"`
	Layers     int             `json:"layers"`
	DiffIDs    []digest.Digest `json:"diffIDs"`
	StorePaths []string        `json:"storePaths,omitempty"`
}

// Summarize describes an image of the archive.
func (a *Archive) Summarize(im *Image) Summary {
	s := Summary{File: a.Name, Tags: im.RepoTags, ImageID: im.ConfigDigest, Layers: len(im.Layers)}
	if s.Tags == nil {
		s.Tags = []string{}
	}
	for _, l := range im.Layers {
		s.DiffIDs = append(s.DiffIDs, l.DiffID)
	}
	return s
}

// StorePaths lists the store paths (directories, files or symlinks right
// below storeDir) that the image's layers hold, sorted. Each layer is read
// through once; compressed layer members are decompressed.
func (im *Image) StorePaths(storeDir string) ([]string, error) {
	prefix := strings.Trim(path.Clean("/"+storeDir), "/") + "/"
	seen := map[string]bool{}
	for _, l := range im.Layers {
		r, _, err := compress.NewReader(l.Open())
		if err != nil {
			return nil, fmt.Errorf("layer %q: %w", l.Name, err)
		}
		tr := tar.NewReader(r)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				r.Close()
				return nil, fmt.Errorf("layer %q: %w", l.Name, err)
			}
			name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			rest, ok := strings.CutPrefix(name, prefix)
			if !ok || rest == "" {
				continue
			}
			first, _, _ := strings.Cut(rest, "/")
			seen["/"+prefix+first] = true
		}
		r.Close()
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}
