package dockerarchive

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

// Writer streams a docker-archive: layers and configs as they come, each
// stored once however many images use it, then manifest.json and
// repositories on Close.
type Writer struct {
	tw       *pytar.Writer
	mtime    int64
	seen     map[string]bool
	manifest []manifestEntry
	repos    map[string]map[string]string
}

// NewWriter returns a Writer whose members get the given mtime.
func NewWriter(w io.Writer, mtime int64) *Writer {
	return &Writer{tw: pytar.NewWriter(w), mtime: mtime, seen: map[string]bool{}, repos: map[string]map[string]string{}}
}

// LayerName is the member name of the layer with the given diffID.
func LayerName(diffID digest.Digest) string { return diffID.Encoded() + "/layer.tar" }

// ConfigName is the member name of a config with the given digest.
func ConfigName(d digest.Digest) string { return d.Encoded() + ".json" }

func (w *Writer) header(name string, size int64) error {
	return w.tw.WriteHeader(&pytar.Header{Name: name, Mode: 0o644, Size: size, Mtime: w.mtime, Typeflag: pytar.TypeReg})
}

// WriteLayer stores a layer of size bytes that copy writes, unless a layer
// with this diffID is stored already. It returns the member name.
func (w *Writer) WriteLayer(diffID digest.Digest, size int64, copy func(io.Writer) error) (string, error) {
	name := LayerName(diffID)
	if w.seen[name] {
		return name, nil
	}
	if err := w.header(name, size); err != nil {
		return "", err
	}
	if err := copy(w.tw); err != nil {
		return "", err
	}
	w.seen[name] = true
	return name, nil
}

// WriteConfig stores an image config (once) and returns its member name.
func (w *Writer) WriteConfig(config []byte) (string, error) {
	name := ConfigName(digest.FromBytes(config))
	if w.seen[name] {
		return name, nil
	}
	if err := w.writeFile(name, config); err != nil {
		return "", err
	}
	w.seen[name] = true
	return name, nil
}

func (w *Writer) writeFile(name string, data []byte) error {
	if err := w.header(name, int64(len(data))); err != nil {
		return err
	}
	_, err := w.tw.Write(data)
	return err
}

// AddImage records an image for manifest.json: its config member, tags and
// layer members, bottom first.
func (w *Writer) AddImage(config string, repoTags []string, layers []string) {
	w.manifest = append(w.manifest, manifestEntry{Config: config, RepoTags: repoTags, Layers: layers})
	top := ""
	if len(layers) > 0 {
		top = strings.TrimSuffix(layers[len(layers)-1], "/layer.tar")
	}
	for _, rt := range repoTags {
		repo, tag := reference.SplitRepoTag(rt)
		if w.repos[repo] == nil {
			w.repos[repo] = map[string]string{}
		}
		w.repos[repo][tag] = top
	}
}

// Close writes manifest.json and repositories and ends the archive. It
// does not close the underlying writer.
func (w *Writer) Close() error {
	if len(w.manifest) == 0 {
		return fmt.Errorf("no image to write")
	}
	m, err := json.Marshal(w.manifest)
	if err != nil {
		return err
	}
	if err := w.writeFile("manifest.json", m); err != nil {
		return err
	}
	r, err := json.Marshal(w.repos)
	if err != nil {
		return err
	}
	if err := w.writeFile("repositories", r); err != nil {
		return err
	}
	return w.tw.Close()
}
