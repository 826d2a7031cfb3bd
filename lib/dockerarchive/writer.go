package dockerarchive

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/go-dockertools/dockertools/lib/zerocopy"
	"github.com/opencontainers/go-digest"
)

// Style is how a Writer lays an archive out.
type Style int

const (
	// Native is what docker save writes: each layer and config once,
	// however many images hold it, named by its digest; a compact
	// manifest.json and a repositories file.
	Native Style = iota
	// Nixpkgs is the bytes nixpkgs' stream_layered_image.py writes:
	// every layer in order, a repeated one again; a base image's layers
	// under their own member headers (a link to a member written before
	// stays a link); manifest.json as Python's json.dumps(indent=4); no
	// repositories file.
	Nixpkgs
)

// Writer streams a docker-archive: each image's layers and config as
// Add is called, manifest.json (and repositories) on Close. Its members
// have fixed owners, modes and the given mtime.
type Writer struct {
	tw       *pytar.Writer
	style    Style
	mtime    int64
	seen     map[string]bool // member names written, cleaned
	manifest []manifestEntry
	repos    map[string]map[string]string
}

// NewWriter returns a Writer of the given style writing to w; its members
// get the given mtime.
func NewWriter(w io.Writer, style Style, mtime int64) *Writer {
	return &Writer{tw: pytar.NewWriter(outErrors{w}), style: style, mtime: mtime, seen: map[string]bool{}, repos: map[string]map[string]string{}}
}

// outErrors marks the destination's errors as the output's.
type outErrors struct{ w io.Writer }

func (o outErrors) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		if _, ok := err.(*image.WriteError); !ok {
			err = &image.WriteError{Err: err}
		}
	}
	return n, err
}

// SendFile passes a file's bytes on to a destination that takes them
// from the kernel (zerocopy.Sender), marking its errors as the output's.
func (o outErrors) SendFile(f *os.File, n int64) (int64, error) {
	switch o.w.(type) {
	case zerocopy.Sender, *os.File:
	default:
		return 0, zerocopy.ErrUnsupported
	}
	m, err := zerocopy.Send(o.w, f, n)
	if err != nil && err != io.ErrUnexpectedEOF { // that one is the file's
		if _, marked := err.(*image.WriteError); !marked {
			err = &image.WriteError{Err: err}
		}
	}
	return m, err
}

// LayerName is the member name of the layer with the given diffID.
func LayerName(diffID digest.Digest) string { return diffID.Encoded() + "/layer.tar" }

// ConfigName is the member name of a config with the given digest.
func ConfigName(d digest.Digest) string { return d.Encoded() + ".json" }

// Add writes an image's layers and config, and records its manifest
// entry: its names as its RepoTags, as they are spelt. A pending image
// is written as its layers are measured.
func (w *Writer) Add(im *image.Image) error {
	var names []string
	for i := range im.Layers {
		// A pending image's next layers are measured while this one
		// is written.
		l, err := im.Layer(i)
		if err != nil {
			return err
		}
		name, err := w.layer(l)
		if err != nil {
			return err
		}
		names = append(names, name)
	}
	if err := im.Resolve(); err != nil {
		return err
	}
	config := ConfigName(im.ID())
	if w.style == Nixpkgs || !w.seen[config] {
		if err := w.file(config, im.Config); err != nil {
			return err
		}
	}
	tags := im.Names
	w.manifest = append(w.manifest, manifestEntry{Config: config, RepoTags: tags, Layers: names})
	if len(names) > 0 {
		top := strings.TrimSuffix(names[len(names)-1], "/layer.tar")
		for _, rt := range tags {
			repo, tag := reference.SplitRepoTag(rt)
			if w.repos[repo] == nil {
				w.repos[repo] = map[string]string{}
			}
			w.repos[repo][tag] = top
		}
	}
	return nil
}

// layer writes a layer's member (unless Native has written it) and
// returns its name. The layer goes in the form its source stores it: a
// compressed base layer stays compressed, as docker load takes it.
func (w *Writer) layer(l image.Layer) (string, error) {
	size, src := l.Size, l.Source
	if l.Stored != nil {
		size, src = l.Stored.Size, l.Stored.Source
	}
	if size < 0 {
		return "", fmt.Errorf("%s: size unknown", src)
	}
	h := pytar.Header{Name: LayerName(l.DiffID), Mode: 0o644, Size: size, Mtime: w.mtime, Typeflag: pytar.TypeReg}
	link := false
	if w.style == Nixpkgs && l.Member != nil {
		h = memberHeader(l.Member)
		// docker save before version 25 stores a layer repeated at
		// another depth once and links to it. The script copies the
		// link member; it resolves when its target was copied before.
		// Otherwise it would dangle where docker load cannot follow it,
		// so the data goes in its place.
		link = isLink(l.Member) && w.seen[linkTarget(l.Member)]
		if isLink(l.Member) && !link {
			h.Typeflag, h.Linkname, h.Size = pytar.TypeReg, "", size
		}
	}
	name := path.Clean(h.Name)
	if w.style == Native && w.seen[name] {
		return h.Name, nil
	}
	if err := w.tw.WriteHeader(&h); err != nil {
		return "", err
	}
	if !link { // a link's data was checked where it was copied
		if err := src.Stream(w.tw); err != nil {
			return "", err
		}
	}
	w.seen[name] = true
	return h.Name, nil
}

func (w *Writer) file(name string, data []byte) error {
	if err := w.tw.WriteHeader(&pytar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Mtime: w.mtime, Typeflag: pytar.TypeReg}); err != nil {
		return err
	}
	if _, err := w.tw.Write(data); err != nil {
		return err
	}
	w.seen[path.Clean(name)] = true
	return nil
}

// Close writes manifest.json (and, Native, repositories) and ends the
// archive. It does not close the underlying writer.
func (w *Writer) Close() error {
	if len(w.manifest) == 0 {
		return fmt.Errorf("no image to write")
	}
	var m []byte
	if w.style == Nixpkgs {
		var entries []pyjson.Value
		for _, e := range w.manifest {
			entries = append(entries, pyjson.ObjectOf(
				pyjson.Member{Key: "Config", Value: pyjson.StringOf(e.Config)},
				pyjson.Member{Key: "RepoTags", Value: pyjson.Strings(e.RepoTags)},
				pyjson.Member{Key: "Layers", Value: pyjson.Strings(e.Layers)},
			))
		}
		m = pyjson.Dumps(pyjson.Value{Kind: pyjson.Array, Arr: entries}, 4)
	} else {
		var err error
		if m, err = json.Marshal(w.manifest); err != nil {
			return err
		}
	}
	if err := w.file("manifest.json", m); err != nil {
		return err
	}
	if w.style == Native {
		r, err := json.Marshal(w.repos)
		if err != nil {
			return err
		}
		if err := w.file("repositories", r); err != nil {
			return err
		}
	}
	return w.tw.Close()
}

func isLink(h *tar.Header) bool {
	return h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink
}

// linkTarget is the member a link member leads to: a symlink's target is
// relative to its directory, a hard link's to the archive's root.
func linkTarget(h *tar.Header) string {
	if h.Typeflag == tar.TypeSymlink && !strings.HasPrefix(h.Linkname, "/") {
		return path.Join(path.Dir(path.Clean(h.Name)), h.Linkname)
	}
	return path.Clean(h.Linkname)
}

// memberHeader is the header Python's tarfile writes for a member it
// read: the fields as read, its extended records written back.
func memberHeader(h *tar.Header) pytar.Header {
	out := pytar.Header{
		Name: h.Name, Mode: h.Mode, Uid: int64(h.Uid), Gid: int64(h.Gid), Size: h.Size,
		Mtime: h.ModTime.Unix(), Typeflag: h.Typeflag, Linkname: h.Linkname,
		Uname: h.Uname, Gname: h.Gname, Devmajor: h.Devmajor, Devminor: h.Devminor,
	}
	// tarfile keeps the extended records it read and writes them back;
	// archive/tar does not keep their order, so known keys come in the
	// order tarfile writes them, then the rest sorted.
	order := []string{"path", "linkpath", "uname", "gname", "uid", "gid", "size", "mtime"}
	seen := map[string]bool{}
	for _, k := range order {
		if v, ok := h.PAXRecords[k]; ok {
			out.PAX = append(out.PAX, pytar.Record{Key: k, Value: v})
			seen[k] = true
		}
	}
	var rest []string
	for k := range h.PAXRecords {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out.PAX = append(out.PAX, pytar.Record{Key: k, Value: h.PAXRecords[k]})
	}
	if v, ok := h.PAXRecords["mtime"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out.Mtime = int64(math.RoundToEven(f)) // Python's round()
		}
	}
	return out
}
