package oci

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Options tune a Writer.
type Options struct {
	// Compression of the layer blobs: none, gzip or zstd.
	Compression compress.Kind
	// Jobs is how many layers are compressed at once (0: 2). Each is
	// compressed on several cores as well.
	Jobs int
}

// store is where a Writer puts blobs and, last, index.json: a layout
// directory, or a tar stream of one.
type store interface {
	// has reports whether a blob is stored already.
	has(d digest.Digest) bool
	// put stores a blob whose digest and size are known, written by
	// write (which checks its own bytes).
	put(desc v1.Descriptor, write func(io.Writer) error) error
	// spool starts a blob whose digest or size is known only once it
	// is written.
	spool() (spooled, error)
	// finish writes index.json and makes the output whole.
	finish(index []byte) error
	// abort leaves nothing that looks complete.
	abort()
	// existing is the index.json entries the output holds already.
	existing() []v1.Descriptor
}

// spooled is a blob being written to a temporary place.
type spooled interface {
	io.Writer
	// commit stores it as the blob desc names.
	commit(desc v1.Descriptor) error
	// discard drops it.
	discard()
}

// Writer writes images into an OCI layout. Close writes index.json;
// before it, nothing that looks like a complete layout exists.
type Writer struct {
	st      store
	opts    Options
	blobs   map[digest.Digest]v1.Descriptor // layer blobs written, by diffID
	entries []v1.Descriptor                 // index.json entries added
	names   map[string]digest.Digest        // full image name -> manifest
	closed  bool
}

func newWriter(st store, opts Options) (*Writer, error) {
	if _, err := compress.ParseKind(string(opts.Compression)); err != nil {
		return nil, err
	}
	if opts.Compression == "" {
		opts.Compression = compress.None
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 2
	}
	return &Writer{st: st, opts: opts, blobs: map[digest.Digest]v1.Descriptor{}, names: map[string]digest.Digest{}}, nil
}

// Add writes an image: its layer blobs (each once in the layout), its
// config and manifest, and an index.json entry for each of its names (one
// without a name when it has none). It returns the manifest's descriptor.
func (w *Writer) Add(im *image.Image) (v1.Descriptor, error) {
	desc, err := w.writeImage(im)
	if err != nil {
		return v1.Descriptor{}, err
	}
	refs, err := refAnnotations(im.Names)
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, r := range refs {
		if full := r[AnnotationImageName]; full != "" {
			if prev, ok := w.names[full]; ok && prev != desc.Digest {
				return v1.Descriptor{}, fmt.Errorf("two images are named %s (manifests %s and %s)", full, prev, desc.Digest)
			}
			w.names[full] = desc.Digest
		}
		e := desc
		e.Annotations = mergeAnnotations(desc.Annotations, r)
		w.entries = append(w.entries, e)
	}
	return desc, nil
}

// writeImage writes an image's blobs and returns its manifest's
// descriptor, with its platform and creation time.
func (w *Writer) writeImage(im *image.Image) (v1.Descriptor, error) {
	if err := im.Resolve(); err != nil {
		return v1.Descriptor{}, err
	}
	platform, err := im.Platform()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("%s: %w", imageName(im), err)
	}
	layers, err := w.layerBlobs(im.Layers)
	if err != nil {
		return v1.Descriptor{}, err
	}
	config := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(im.Config), Size: int64(len(im.Config))}
	if err := w.putBytes(config, im.Config); err != nil {
		return v1.Descriptor{}, err
	}
	m := v1.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageManifest,
		Config:    config,
		Layers:    layers,
	}
	var annotations map[string]string
	if created := im.Created(); created != "" {
		annotations = map[string]string{v1.AnnotationCreated: created}
		m.Annotations = annotations
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	desc := v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(mb), Size: int64(len(mb)), Platform: &platform, Annotations: annotations}
	if err := w.putBytes(desc, mb); err != nil {
		return v1.Descriptor{}, err
	}
	desc.Annotations = annotations
	return desc, nil
}

func (w *Writer) putBytes(desc v1.Descriptor, b []byte) error {
	if w.st.has(desc.Digest) {
		return nil
	}
	d := desc
	d.Platform, d.Annotations = nil, nil
	return w.st.put(d, func(out io.Writer) error {
		_, err := out.Write(b)
		return err
	})
}

// layerBlobs writes the blobs of layers, in order, compressing up to
// opts.Jobs of them at once into temporary places, and returns their
// descriptors. A layer already written (here or before) is not written
// again.
func (w *Writer) layerBlobs(layers []image.Layer) ([]v1.Descriptor, error) {
	type result struct {
		sp   spooled
		desc v1.Descriptor
		err  error
	}
	// Which layers are compressed, in order; decided before any
	// goroutine starts, so none reads w.blobs while it changes.
	spool := make([]bool, len(layers))
	seen := map[digest.Digest]bool{}
	var order []int
	for i, l := range layers {
		if _, done := w.blobs[l.DiffID]; done || seen[l.DiffID] {
			continue
		}
		seen[l.DiffID] = true
		if w.needsSpool(l) {
			spool[i] = true
			order = append(order, i)
		}
	}
	results := make([]chan result, len(layers))
	for _, i := range order {
		results[i] = make(chan result, 1)
	}
	stop := make(chan struct{})
	slots := make(chan struct{}, w.opts.Jobs) // given back once a blob is stored
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, i := range order {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				sp, desc, err := w.compressLayer(layers[i], stop)
				results[i] <- result{sp, desc, err}
			}(i)
		}
	}()
	descs := make([]v1.Descriptor, len(layers))
	var err error
	for i, l := range layers {
		if err != nil {
			break
		}
		if d, ok := w.blobs[l.DiffID]; ok {
			descs[i] = d
			continue
		}
		var desc v1.Descriptor
		if spool[i] {
			r := <-results[i]
			results[i] = nil
			desc, err = r.desc, r.err
			if err == nil {
				if w.st.has(desc.Digest) {
					r.sp.discard()
				} else {
					err = r.sp.commit(desc)
				}
			}
			<-slots
		} else {
			desc, err = w.putLayer(l)
		}
		if err == nil {
			w.blobs[l.DiffID] = desc
			descs[i] = desc
		}
	}
	// Stop what is still running and drop what it wrote.
	close(stop)
	wg.Wait()
	for _, i := range order {
		if results[i] == nil {
			continue
		}
		select {
		case r := <-results[i]:
			if r.sp != nil {
				r.sp.discard()
			}
		default:
		}
	}
	if err != nil {
		return nil, err
	}
	return descs, nil
}

// needsSpool reports whether a layer's blob must be written before its
// digest or size is known: it is compressed here, or its size is not
// known (a compressed layer stored uncompressed).
func (w *Writer) needsSpool(l image.Layer) bool {
	if w.opts.Compression == compress.None {
		return l.Size < 0
	}
	return !w.storedAsIs(l)
}

// storedAsIs reports whether the layer's stored blob is what the layout
// wants: the same compression, with a known digest.
func (w *Writer) storedAsIs(l image.Layer) bool {
	return l.Stored != nil && l.Stored.Compression == w.opts.Compression && l.Stored.Digest != ""
}

// putLayer stores a layer whose blob's digest and size are known.
func (w *Writer) putLayer(l image.Layer) (v1.Descriptor, error) {
	mt := LayerMediaType(w.opts.Compression)
	if w.storedAsIs(l) {
		desc := v1.Descriptor{MediaType: mt, Digest: l.Stored.Digest, Size: l.Stored.Size}
		if w.st.has(desc.Digest) {
			return desc, nil
		}
		return desc, w.st.put(desc, l.Stored.Source.Stream)
	}
	desc := v1.Descriptor{MediaType: mt, Digest: l.DiffID, Size: l.Size}
	if w.st.has(desc.Digest) {
		return desc, nil
	}
	return desc, w.st.put(desc, l.Source.Stream)
}

// compressLayer writes a layer's blob to a temporary place, compressed
// as the options say, and returns it with its descriptor.
func (w *Writer) compressLayer(l image.Layer, stop <-chan struct{}) (spooled, v1.Descriptor, error) {
	sp, err := w.st.spool()
	if err != nil {
		return nil, v1.Descriptor{}, err
	}
	h := &hashCounter{h: sha256.New(), w: sp, stop: stop}
	zw, err := compress.NewWriter(h, w.opts.Compression)
	if err == nil {
		err = l.Source.Stream(zw)
		if cerr := zw.Close(); err == nil && cerr != nil {
			err = &image.WriteError{Err: cerr}
		}
	}
	if err != nil {
		sp.discard()
		return nil, v1.Descriptor{}, err
	}
	return sp, v1.Descriptor{MediaType: LayerMediaType(w.opts.Compression), Digest: digest.NewDigest(digest.SHA256, h.h), Size: h.n}, nil
}

// errStopped ends a compression whose result is no longer wanted.
var errStopped = errors.New("stopped")

// hashCounter hashes and counts what it passes on, and stops passing
// once stop is closed.
type hashCounter struct {
	h    hash.Hash
	w    io.Writer
	n    int64
	stop <-chan struct{}
}

func (c *hashCounter) Write(p []byte) (int, error) {
	select {
	case <-c.stop:
		return 0, errStopped
	default:
	}
	n, err := c.w.Write(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// Close writes index.json: the layout's own entries (for an existing
// layout, those not replaced by a name added here) and the new ones.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("closed twice")
	}
	w.closed = true
	idx := v1.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: v1.MediaTypeImageIndex,
		Manifests: append(keptEntries(w.st.existing(), w.entries), w.entries...),
	}
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		w.st.abort()
		return err
	}
	if err := w.st.finish(b); err != nil {
		w.st.abort()
		return err
	}
	return nil
}

// Abort discards everything written; after Close it does nothing.
func (w *Writer) Abort() {
	if !w.closed {
		w.closed = true
		w.st.abort()
	}
}

// keptEntries are the entries of an existing index.json that no new
// entry replaces: one with the same full name, or, without full names,
// the same ref.name.
func keptEntries(old, added []v1.Descriptor) []v1.Descriptor {
	var kept []v1.Descriptor
	for _, o := range old {
		replaced := false
		for _, a := range added {
			on, an := o.Annotations[AnnotationImageName], a.Annotations[AnnotationImageName]
			or, ar := o.Annotations[v1.AnnotationRefName], a.Annotations[v1.AnnotationRefName]
			if (on != "" && on == an) || (on == "" && or != "" && or == ar) {
				replaced = true
			}
		}
		if !replaced {
			kept = append(kept, o)
		}
	}
	return kept
}

// refAnnotations gives, per name, the annotations of its index.json
// entry: its tag as ref.name and its full name for containerd. An image
// without names gets one entry without them.
func refAnnotations(names []string) ([]map[string]string, error) {
	if len(names) == 0 {
		return []map[string]string{nil}, nil
	}
	var out []map[string]string
	for _, n := range names {
		r, err := reference.Parse(n)
		if err != nil {
			return nil, err
		}
		tag := r.Tag
		if tag == "" {
			tag = reference.DefaultTag
		}
		out = append(out, map[string]string{v1.AnnotationRefName: tag, AnnotationImageName: r.Key()})
	}
	return out, nil
}

func mergeAnnotations(a, b map[string]string) map[string]string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func imageName(im *image.Image) string {
	if len(im.Names) > 0 {
		return im.Names[0]
	}
	if im.Source != "" {
		return im.Source
	}
	return "image " + im.ID().String()
}
