package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// CreateLayout starts writing images into the layout directory dir. A dir
// that does not exist (or is empty) is built beside it and appears whole
// on Close; an existing layout is added to, as skopeo adds to one: blobs
// it lacks are added, and Close replaces index.json in one step, keeping
// its entries but those whose name an added image takes. Anything else at
// dir is refused.
func CreateLayout(dir string, opts Options) (*Writer, error) {
	st, err := openDirStore(dir)
	if err != nil {
		return nil, err
	}
	w, err := newWriter(st, opts)
	if err != nil {
		st.abort()
		return nil, err
	}
	return w, nil
}

// dirStore writes a layout directory.
type dirStore struct {
	name  string          // as given, for messages
	root  string          // where blobs go: the temporary directory, or dir
	tmp   *atomicfile.Dir // a new layout; nil when adding to one
	old   []v1.Descriptor // entries of an existing index.json
	added []string        // blobs added to an existing layout
}

func openDirStore(dir string) (*dirStore, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || (err == nil && fi.IsDir() && isEmptyDir(dir)):
		d, err := atomicfile.CreateDir(dir)
		if err != nil {
			return nil, err
		}
		st := &dirStore{name: dir, root: d.Path, tmp: d}
		if err := st.writeFile(v1.ImageLayoutFile, []byte(`{"imageLayoutVersion":"`+v1.ImageLayoutVersion+`"}`)); err != nil {
			d.Abort()
			return nil, err
		}
		return st, nil
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s: exists and is not a directory (an OCI layout is one)", dir)
	}
	l, err := OpenLayout(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: is not empty and not an OCI layout to add to: %w", dir, err)
	}
	return &dirStore{name: dir, root: dir, old: l.index.Manifests}, nil
}

func isEmptyDir(dir string) bool {
	es, err := os.ReadDir(dir)
	return err == nil && len(es) == 0
}

func (s *dirStore) blobPath(d digest.Digest) string {
	return filepath.Join(s.root, v1.ImageBlobsDir, string(d.Algorithm()), d.Encoded())
}

func (s *dirStore) has(d digest.Digest) bool {
	fi, err := os.Lstat(s.blobPath(d))
	return err == nil && fi.Mode().IsRegular()
}

func (s *dirStore) existing() []v1.Descriptor { return s.old }

// writeFile writes a small file of the layout, synced, atomically.
func (s *dirStore) writeFile(name string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(filepath.Join(s.root, name)), 0o755); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(s.root, name), data); err != nil {
		return fmt.Errorf("%s: %w", s.name, err)
	}
	return nil
}

func (s *dirStore) put(desc v1.Descriptor, write func(io.Writer) error) error {
	sp, err := s.spool()
	if err != nil {
		return err
	}
	if err := write(sp); err != nil {
		sp.discard()
		return err
	}
	return sp.commit(desc)
}

func (s *dirStore) spool() (spooled, error) {
	dir := filepath.Join(s.root, v1.ImageBlobsDir, "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	f, err := atomicfile.Create(filepath.Join(dir, "incoming"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return &dirBlob{s: s, f: f}, nil
}

type dirBlob struct {
	s *dirStore
	f *atomicfile.File
	n int64
}

func (b *dirBlob) Write(p []byte) (int, error) {
	n, err := b.f.Write(p)
	b.n += int64(n)
	return n, err
}

func (b *dirBlob) commit(desc v1.Descriptor) error {
	if b.n != desc.Size {
		b.f.Abort()
		return fmt.Errorf("%s: blob %s: %d bytes written where %d were expected", b.s.name, desc.Digest, b.n, desc.Size)
	}
	if err := b.f.SetName(b.s.blobPath(desc.Digest)); err != nil {
		b.f.Abort()
		return err
	}
	if err := b.f.Commit(); err != nil {
		return fmt.Errorf("%s: %w", b.s.name, err)
	}
	if b.s.tmp == nil {
		b.s.added = append(b.s.added, b.s.blobPath(desc.Digest))
	}
	return nil
}

func (b *dirBlob) discard() { b.f.Abort() }

func (s *dirStore) finish(index []byte) error {
	if err := s.writeFile(v1.ImageIndexFile, index); err != nil {
		return err
	}
	if s.tmp != nil {
		return s.tmp.Commit()
	}
	return nil
}

// abort removes a new layout whole, or the blobs added to an existing
// one (its index.json is untouched).
func (s *dirStore) abort() {
	if s.tmp != nil {
		s.tmp.Abort()
		return
	}
	for _, p := range s.added {
		os.Remove(p)
	}
	s.added = nil
}

// indexJSON is index.json as the reader checks it.
func parseIndex(b []byte, what string) (v1.Index, error) {
	var idx v1.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("%s: not valid JSON: %w", what, err)
	}
	if idx.SchemaVersion != 2 {
		return idx, fmt.Errorf("%s: schemaVersion %d, not 2", what, idx.SchemaVersion)
	}
	if idx.MediaType != "" && !isIndex(idx.MediaType) {
		return idx, fmt.Errorf("%s: unknown media type %q", what, idx.MediaType)
	}
	return idx, nil
}
