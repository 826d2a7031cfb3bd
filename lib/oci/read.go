package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on untrusted layouts, as the docker-archive reader has them.
const (
	// MaxJSONSize bounds index.json, manifests, nested indexes and
	// configs: they are held in memory.
	MaxJSONSize = 16 << 20
	// MaxImages bounds the manifests a layout leads to.
	MaxImages = 10000
	// MaxLayers bounds one image's layers.
	MaxLayers = 1000
	// MaxDepth bounds how deep indexes nest.
	MaxDepth = 4
	// MaxExpansion bounds how many times its size a compressed layer
	// blob may grow when decompressed (beyond its first 64 MiB): gzip
	// cannot exceed 1032, so only a crafted blob (a zstd bomb) does.
	MaxExpansion = 2048
)

// Files reads the files of a layout: a directory's, or the members of a
// tar archive of one.
type Files interface {
	// Open returns the named file ("index.json", "blobs/sha256/<hex>")
	// and its size; an error that satisfies errors.Is(err,
	// fs.ErrNotExist) when there is none.
	Open(name string) (io.ReadCloser, int64, error)
}

// Layout is an OCI layout opened for reading.
type Layout struct {
	Name  string // as named in messages
	files Files
	index v1.Index
}

// OpenLayout opens the layout directory dir.
func OpenLayout(dir string) (*Layout, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return Read(dir, rootFiles{root: root, name: dir})
}

// Read opens the layout whose files files gives; name is used in
// messages.
func Read(name string, files Files) (*Layout, error) {
	l := &Layout{Name: name, files: files}
	lay, err := l.readJSON(v1.ImageLayoutFile, -1)
	if err != nil {
		return nil, err
	}
	var version v1.ImageLayout
	if err := json.Unmarshal(lay, &version); err != nil || version.Version == "" {
		return nil, fmt.Errorf("%s: %s is not an OCI layout version", name, v1.ImageLayoutFile)
	}
	b, err := l.readJSON(v1.ImageIndexFile, -1)
	if err != nil {
		return nil, err
	}
	if l.index, err = parseIndex(b, name+": "+v1.ImageIndexFile); err != nil {
		return nil, err
	}
	return l, nil
}

// rootFiles are the files of a layout directory, read through os.Root so
// that no symlink leads outside it.
type rootFiles struct {
	root *os.Root
	name string
}

func (r rootFiles) Open(name string) (io.ReadCloser, int64, error) {
	f, err := r.root.Open(name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && !errors.Is(err, fs.ErrNotExist) && strings.Contains(pe.Err.Error(), "escapes") {
			return nil, 0, fmt.Errorf("%s: %s leads outside the layout (a symlink?)", r.name, name)
		}
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %s is not a regular file", r.name, name)
	}
	return f, fi.Size(), nil
}

// readJSON reads a small file of the layout; size, when not -1, is what
// a descriptor says it has.
func (l *Layout) readJSON(name string, size int64) ([]byte, error) {
	f, n, err := l.files.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no %s", l.Name, name)
		}
		return nil, fmt.Errorf("%s: %s: %w", l.Name, name, unwrapPath(err))
	}
	defer f.Close()
	if n > MaxJSONSize {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d a JSON document may have here", l.Name, name, n, MaxJSONSize)
	}
	if size >= 0 && n != size {
		return nil, fmt.Errorf("%s: %s is %d bytes, its descriptor says %d", l.Name, name, n, size)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxJSONSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", l.Name, name, err)
	}
	return b, nil
}

// blobName is where a blob lives; its digest is checked first, so that
// it cannot name another path.
func blobName(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("digest %q: %w", d, err)
	}
	return path.Join(v1.ImageBlobsDir, string(d.Algorithm()), d.Encoded()), nil
}

// readBlob reads a small blob whole and checks it against desc.
func (l *Layout) readBlob(desc v1.Descriptor, what string) ([]byte, error) {
	name, err := blobName(desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", l.Name, what, err)
	}
	b, err := l.readJSON(name, desc.Size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if got := desc.Digest.Algorithm().FromBytes(b); got != desc.Digest {
		return nil, fmt.Errorf("%s: %s %s does not match its digest (its bytes hash to %s)", l.Name, what, desc.Digest, got)
	}
	return b, nil
}

// Images lists the images the index leads to, in its order: each
// manifest once, with the names of every entry that leads to it (an
// image of a nested index, a multi-platform one, takes that index's
// names).
func (l *Layout) Images() ([]*image.Image, error) {
	var out []*image.Image
	byDigest := map[digest.Digest]*image.Image{}
	var walk func(descs []v1.Descriptor, names, refs []string, depth int, where string) error
	walk = func(descs []v1.Descriptor, names, refs []string, depth int, where string) error {
		for _, d := range descs {
			n, r := names, refs
			if depth == 0 {
				n, r = entryNames(d.Annotations)
			}
			switch {
			case isManifest(d.MediaType):
				if im, ok := byDigest[d.Digest]; ok {
					im.Names = appendNew(im.Names, n...)
					im.RefNames = appendNew(im.RefNames, r...)
					continue
				}
				if len(out) == MaxImages {
					return fmt.Errorf("%s: leads to more than %d images", l.Name, MaxImages)
				}
				im, err := l.readImage(d)
				if err != nil {
					return err
				}
				im.Names, im.RefNames = appendNew(nil, n...), appendNew(nil, r...)
				byDigest[d.Digest] = im
				out = append(out, im)
			case isIndex(d.MediaType):
				if depth+1 >= MaxDepth {
					return fmt.Errorf("%s: indexes nest deeper than %d", l.Name, MaxDepth)
				}
				b, err := l.readBlob(d, "index")
				if err != nil {
					return err
				}
				idx, err := parseIndex(b, fmt.Sprintf("%s: index %s", l.Name, d.Digest))
				if err != nil {
					return err
				}
				if err := walk(idx.Manifests, n, r, depth+1, d.Digest.String()); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: %s lists %s with unknown media type %q", l.Name, where, d.Digest, d.MediaType)
			}
		}
		return nil
	}
	if err := walk(l.index.Manifests, nil, nil, 0, v1.ImageIndexFile); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %s lists no image", l.Name, v1.ImageIndexFile)
	}
	return out, nil
}

// entryNames reads an index.json entry's names: the full name containerd
// records, or a ref.name that is one; and the ref.name itself.
func entryNames(a map[string]string) (names, refs []string) {
	if full := a[AnnotationImageName]; full != "" {
		names = append(names, full)
	}
	if ref := a[v1.AnnotationRefName]; ref != "" {
		refs = append(refs, ref)
		if len(names) == 0 && strings.ContainsAny(ref, "/:") {
			names = append(names, ref)
		}
	}
	return names, refs
}

func appendNew(list []string, more ...string) []string {
	for _, m := range more {
		found := false
		for _, x := range list {
			found = found || x == m
		}
		if !found {
			list = append(list, m)
		}
	}
	return list
}

// readImage reads a manifest and its config into an image whose layers
// read their blobs.
func (l *Layout) readImage(desc v1.Descriptor) (*image.Image, error) {
	what := "manifest " + desc.Digest.String()
	b, err := l.readBlob(desc, "manifest")
	if err != nil {
		return nil, err
	}
	var m v1.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %s: not valid JSON: %w", l.Name, what, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%s: %s: schemaVersion %d, not 2", l.Name, what, m.SchemaVersion)
	}
	if m.MediaType != "" && !isManifest(m.MediaType) {
		return nil, fmt.Errorf("%s: %s: unknown media type %q", l.Name, what, m.MediaType)
	}
	if m.Config.MediaType != v1.MediaTypeImageConfig && m.Config.MediaType != dockerConfig {
		return nil, fmt.Errorf("%s: %s: config of unknown media type %q (not an image)", l.Name, what, m.Config.MediaType)
	}
	if len(m.Layers) > MaxLayers {
		return nil, fmt.Errorf("%s: %s: %d layers, more than %d", l.Name, what, len(m.Layers), MaxLayers)
	}
	config, err := l.readBlob(m.Config, "config")
	if err != nil {
		return nil, err
	}
	var c struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("%s: config %s: not valid JSON: %w", l.Name, m.Config.Digest, err)
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%s: config %s has %d diff_ids for the %d layers of %s", l.Name, m.Config.Digest, len(c.RootFS.DiffIDs), len(m.Layers), what)
	}
	im := &image.Image{Config: config, Source: l.Name}
	for i, ld := range m.Layers {
		layer, err := l.layer(ld, c.RootFS.DiffIDs[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: layer %d: %w", l.Name, what, i+1, err)
		}
		im.Layers = append(im.Layers, layer)
	}
	return im, nil
}

// layer makes the model's layer of a layer blob.
func (l *Layout) layer(desc v1.Descriptor, diffID digest.Digest) (image.Layer, error) {
	kind, err := LayerCompression(desc.MediaType)
	if err != nil {
		return image.Layer{}, err
	}
	if err := diffID.Validate(); err != nil || diffID.Algorithm() != digest.SHA256 {
		return image.Layer{}, fmt.Errorf("diff_id %q is not a sha256 digest", diffID)
	}
	name, err := blobName(desc.Digest)
	if err != nil {
		return image.Layer{}, err
	}
	if desc.Size < 0 {
		return image.Layer{}, fmt.Errorf("blob %s has a negative size", desc.Digest)
	}
	what := fmt.Sprintf("%s: layer blob %s", l.Name, desc.Digest)
	stored := &blobSource{l: l, name: name, desc: desc, what: what}
	layer := image.Layer{DiffID: diffID, Size: -1}
	if kind == compress.None {
		layer.Size = desc.Size
		layer.Source = image.Generated(what, stored.copyRaw, image.Want{Digest: diffID, Size: desc.Size, By: "its diff_id"})
		return layer, nil
	}
	layer.Stored = &image.Blob{MediaType: desc.MediaType, Compression: kind, Digest: desc.Digest, Size: desc.Size, Source: stored}
	layer.Source = image.Generated(what+" (decompressed)", stored.decompress, image.Want{Digest: diffID, Size: -1, By: "its diff_id"})
	return layer, nil
}

// blobSource writes a stored blob, checked against its descriptor.
type blobSource struct {
	l    *Layout
	name string
	desc v1.Descriptor
	what string
}

func (b *blobSource) String() string { return b.what }

// Stream writes the blob's bytes, failing unless they match its digest
// and size.
func (b *blobSource) Stream(w io.Writer) error {
	v := newDigestChecker(w, b.desc.Digest)
	if err := b.copyRaw(v); err != nil {
		return err
	}
	return v.check(b.what, b.desc.Size)
}

// copyRaw copies the blob's bytes as stored, unchecked (callers check).
func (b *blobSource) copyRaw(w io.Writer) error {
	f, n, err := b.l.files.Open(b.name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s is missing", b.what)
		}
		return fmt.Errorf("%s: %w", b.what, unwrapPath(err))
	}
	defer f.Close()
	if n != b.desc.Size {
		return fmt.Errorf("%s is %d bytes, its descriptor says %d", b.what, n, b.desc.Size)
	}
	_, err = image.Copy(w, f, b.what)
	return err
}

// decompress writes the blob's decompressed bytes, checking the stored
// bytes against the digest on the way and bounding the expansion.
func (b *blobSource) decompress(w io.Writer) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		v := newDigestChecker(pw, b.desc.Digest)
		err := b.copyRaw(v)
		if err == nil {
			err = v.check(b.what, b.desc.Size)
		}
		pw.CloseWithError(err)
		done <- err
	}()
	// Ends the goroutine (which then reports on what it read) whatever
	// happens here.
	finish := func(drain bool) error {
		if drain {
			io.Copy(io.Discard, pr) // trailing bytes: read, so all are hashed
		}
		pr.Close()
		return <-done
	}
	zr, _, err := compress.NewReader(pr)
	if err != nil {
		if rerr := finish(false); rerr != nil {
			return rerr
		}
		return fmt.Errorf("%s: %w", b.what, err)
	}
	limit := max(64<<20, b.desc.Size*MaxExpansion)
	n, err := image.Copy(w, io.LimitReader(zr, limit+1), b.what+": decompressing")
	zr.Close()
	var we *image.WriteError
	switch {
	case errors.As(err, &we):
		finish(false)
		return err
	case n > limit:
		finish(false)
		return fmt.Errorf("%s expands to more than %d bytes, %d times its size: refused as a decompression bomb", b.what, limit, MaxExpansion)
	}
	if rerr := finish(err == nil); rerr != nil {
		return rerr // the stored bytes are not the blob's
	}
	return err
}

// digestChecker passes bytes on while digesting them.
type digestChecker struct {
	w    io.Writer
	want digest.Digest
	d    digest.Digester
	n    int64
}

func newDigestChecker(w io.Writer, want digest.Digest) *digestChecker {
	return &digestChecker{w: w, want: want, d: want.Algorithm().Digester()}
}

func (c *digestChecker) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.d.Hash().Write(p[:n])
	c.n += int64(n)
	if err != nil {
		if _, ok := err.(*image.WriteError); !ok {
			err = &image.WriteError{Err: err}
		}
	}
	return n, err
}

func (c *digestChecker) check(what string, size int64) error {
	if c.n != size {
		return fmt.Errorf("%s is %d bytes, its descriptor says %d", what, c.n, size)
	}
	if got := c.d.Digest(); got != c.want {
		return fmt.Errorf("%s does not match its digest: its bytes hash to %s", what, got)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
