// Package image owns the toolkit's model of an image, between the readers
// that find images (docker-archive, OCI layout, oci-archive, the store) and
// the writers that put them somewhere (docker-archive, OCI layout,
// oci-archive, a registry):
//
//   - a Layer is an uncompressed tar stream that can be written again and
//     again, whose diffID (and, when known, size) is known before a byte
//     is written, and whose Source fails rather than write other bytes;
//     it may also carry the compressed blob its reader found, which a
//     writer using that compression copies as is;
//   - an Image is its config bytes (kept exactly: nixpkgs' Python
//     formatting is part of its digest), its layers oldest first, and its
//     names;
//   - an Index is images of several platforms under one name.
//
// Sources are generated (store paths, a directory, in-memory entries: a
// Generator writes the bytes and the model checks them against the
// diffID) or stored (a layer file, an archive member, a blob).
package image

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Source writes a layer's bytes. Stream writes them to w and fails,
// naming the source, when they are not the bytes the layer says (its
// diffID and size, or for a stored blob its digest). Errors of w are
// returned as they are, wrapped in a *WriteError, so a caller can tell its
// output's failures from its inputs'.
type Source interface {
	Stream(w io.Writer) error
	String() string // names the source in messages
}

// Generator writes bytes that are not yet known to be right; Generated
// and Measure make sources of it that are checked.
type Generator func(w io.Writer) error

// Layer is one layer of an image.
type Layer struct {
	DiffID digest.Digest // sha256 of the uncompressed tar
	// Size is the uncompressed size, or -1 when the layer is stored
	// compressed and nobody has counted it.
	Size int64
	// Source writes the uncompressed tar.
	Source Source
	// Stored is the layer as its reader found it when that is a
	// compressed blob (an archive member or OCI blob): a writer may copy
	// it instead of compressing again or, for a docker-archive, keep it
	// as it is.
	Stored *Blob
	// Member is the header of the docker-archive member the layer was
	// read from, when it was: nixpkgs' stream_layered_image.py copies a
	// base image's layers with their own headers.
	Member *tar.Header
}

// Stream writes the uncompressed tar of the layer to w.
func (l Layer) Stream(w io.Writer) error { return l.Source.Stream(w) }

// Open returns the uncompressed tar as a reader. A goroutine writes it;
// a failure of the source (a mismatch among them) is the reader's error.
// Close stops the goroutine.
func (l Layer) Open() io.ReadCloser { return pipe(l.Source) }

// Blob is a stored, possibly compressed, form of a layer.
type Blob struct {
	MediaType   string // an image-spec layer media type
	Compression compress.Kind
	// Digest is the sha256 of the stored bytes; "" when it is not known
	// without reading them (a docker-archive member: its name is the
	// diffID, whatever its compression).
	Digest digest.Digest
	Size   int64
	// Source writes the stored bytes, checked against Digest when known,
	// else against the layer's diffID once decompressed.
	Source Source
}

// Image is one image: config bytes, layers oldest first, names.
type Image struct {
	// Config is the config blob exactly as written; its sha256 is the
	// image ID.
	Config []byte
	Layers []Layer
	// Names are "name:tag" references as given (not normalised: a
	// docker-archive records them as the user wrote them).
	Names []string
	// RefNames are the OCI ref.name annotations of the index entries
	// that lead to the image (a tag, or a full name): what oci:DIR:REF
	// finds it by.
	RefNames []string
	// Source names where the image came from, in messages ("" for an
	// image being built).
	Source string
	// Pending, when set, is an image still being measured while it is
	// written: Layers holds as many layers as it will have, and Config
	// is empty, until Resolve fills them in.
	Pending Pending
}

// Pending is an image whose layers' digests become known in order, and
// its config once they all are: a writer that writes each layer before
// the config (docker-archive) starts on the first layer while the next
// ones are measured; any other waits for the whole image (Resolve).
type Pending interface {
	// Layer waits for layer i to be measured and returns it.
	Layer(i int) (Layer, error)
	// Config waits for every layer and returns the config bytes.
	Config() ([]byte, error)
}

// Layer returns layer i, waiting for it if the image is pending.
func (im *Image) Layer(i int) (Layer, error) {
	if im.Pending != nil {
		return im.Pending.Layer(i)
	}
	return im.Layers[i], nil
}

// Resolve waits for a pending image to be whole and fills in its layers
// and config; for any other it does nothing.
func (im *Image) Resolve() error {
	if im.Pending == nil {
		return nil
	}
	for i := range im.Layers {
		l, err := im.Pending.Layer(i)
		if err != nil {
			return err
		}
		im.Layers[i] = l
	}
	cfg, err := im.Pending.Config()
	if err != nil {
		return err
	}
	im.Config, im.Pending = cfg, nil
	return nil
}

// ID is the config's digest: the image ID.
func (im *Image) ID() digest.Digest { return digest.FromBytes(im.Config) }

// DiffIDs lists the layers' diffIDs, oldest first.
func (im *Image) DiffIDs() []digest.Digest {
	out := make([]digest.Digest, len(im.Layers))
	for i, l := range im.Layers {
		out[i] = l.DiffID
	}
	return out
}

// Platform reads the image's platform from its config: os, architecture,
// variant.
func (im *Image) Platform() (v1.Platform, error) {
	var c struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
		Variant      string `json:"variant"`
		OSVersion    string `json:"os.version"`
	}
	if err := json.Unmarshal(im.Config, &c); err != nil {
		return v1.Platform{}, fmt.Errorf("config: %w", err)
	}
	return v1.Platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant, OSVersion: c.OSVersion}, nil
}

// Created reads the config's creation time ("" when it has none).
func (im *Image) Created() string {
	var c struct {
		Created string `json:"created"`
	}
	json.Unmarshal(im.Config, &c)
	return c.Created
}

// Index is images of several platforms under one name: an OCI image
// index (a manifest list).
type Index struct {
	Images []*Image
	Names  []string
}

// WriteError is a failure of the writer a layer is written to, as opposed
// to a problem with the layer's source.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// Want is what a source's bytes must be: their sha256 and size (-1:
// any), and what says so, for messages ("its descriptor").
type Want struct {
	Digest digest.Digest
	Size   int64
	By     string
}

// Generated is the source of a layer a generator writes, checked on every
// write against what it should be.
func Generated(name string, gen Generator, want Want) Source {
	return &generated{name: name, gen: gen, want: want}
}

type generated struct {
	name string
	gen  Generator
	want Want
}

func (g *generated) String() string { return g.name }

func (g *generated) Stream(w io.Writer) error {
	v := NewVerifier(w)
	if g.want.Size >= 0 {
		v.limit, v.name, v.want = g.want.Size, g.name, g.want
	} else {
		v.limit = -1
	}
	if err := g.gen(v); err != nil {
		return err
	}
	return v.Check(g.name, g.want)
}

// Measure runs a generator once into a hash and returns the layer it
// writes: its diffID and size, and a source that writes it again, checked.
func Measure(name string, gen Generator) (Layer, error) {
	v := NewVerifier(io.Discard)
	if err := gen(v); err != nil {
		return Layer{}, err
	}
	d, n := v.Sum()
	return Layer{DiffID: d, Size: n, Source: Generated(name, gen, Want{d, n, "its first reading (it changed since)"})}, nil
}

// Verifier passes bytes on to a writer while hashing and counting them,
// so the writer of a layer can check at its end that it wrote what the
// layer says. Errors of the writer come back as *WriteError.
type Verifier struct {
	w io.Writer
	h hash.Hash
	n int64
	// limit, when not -1, is the size past which a write fails: a source
	// that grew is stopped at its expected end, so what was written
	// stays well framed.
	limit int64
	name  string
	want  Want
}

// NewVerifier returns a Verifier writing to w.
func NewVerifier(w io.Writer) *Verifier { return &Verifier{w: w, h: sha256.New(), limit: -1} }

func (v *Verifier) Write(p []byte) (int, error) {
	if v.limit >= 0 && v.n+int64(len(p)) > v.limit {
		n, err := v.Write(p[:v.limit-v.n])
		if err != nil {
			return n, err
		}
		return n, fmt.Errorf("%s is longer than the %d bytes %s says", v.name, v.want.Size, v.want.By)
	}
	n, err := v.w.Write(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err != nil {
		if _, ok := err.(*WriteError); !ok {
			err = &WriteError{err}
		}
	}
	return n, err
}

// Sum returns the sha256 and the count of the bytes written.
func (v *Verifier) Sum() (digest.Digest, int64) {
	return digest.NewDigest(digest.SHA256, v.h), v.n
}

// Check fails, naming what was written, unless it was what want says.
func (v *Verifier) Check(what string, want Want) error {
	got, n := v.Sum()
	if want.Size >= 0 && n != want.Size {
		return fmt.Errorf("%s is %d bytes, %s says %d", what, n, want.By, want.Size)
	}
	if got != want.Digest {
		return fmt.Errorf("%s does not match %s: its sha256 is %s, %s says %s", what, want.By, got, want.By, want.Digest)
	}
	return nil
}

// pipe runs src into a pipe.
func pipe(src Source) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(src.Stream(pw)) }()
	return pr
}

// Copy copies r to w, the destination a source writes to (a Verifier,
// whose errors are marked as the output's): any other failure is r's,
// and is named by what.
func Copy(w io.Writer, r io.Reader, what string) (int64, error) {
	n, err := io.CopyBuffer(w, r, make([]byte, 1<<20))
	if err == nil {
		return n, nil
	}
	var we *WriteError
	if errors.As(err, &we) || strings.HasPrefix(err.Error(), what) {
		return n, err
	}
	return n, fmt.Errorf("%s: %w", what, unwrapPath(err))
}

// unwrapPath drops an *fs.PathError's operation and path: messages name
// the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
