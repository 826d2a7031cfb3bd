package oci

import (
	"fmt"
	"io"
	"os"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// NewArchiveWriter starts writing an oci-archive (a tar of a layout) to
// w, member by member: oci-layout, the blobs as they are ready,
// index.json last. Members have fixed owners, modes and times, so the
// same images give the same bytes. A blob whose size is known only once
// it is compressed goes through an unlinked temporary file. Close does
// not close w.
func NewArchiveWriter(w io.Writer, opts Options) (*Writer, error) {
	st := &tarStore{tw: pytar.NewWriter(w), written: map[digest.Digest]bool{}}
	return newWriter(st, opts)
}

// Mtime is the modification time of every member of an oci-archive.
const Mtime = 1

// tarStore writes a layout as a tar stream.
type tarStore struct {
	tw      *pytar.Writer
	started bool
	written map[digest.Digest]bool
}

func (s *tarStore) existing() []v1.Descriptor { return nil }

func (s *tarStore) has(d digest.Digest) bool { return s.written[d] }

// start writes what comes before the first blob: oci-layout and the
// blobs directories.
func (s *tarStore) start() error {
	if s.started {
		return nil
	}
	s.started = true
	if err := s.file(v1.ImageLayoutFile, []byte(`{"imageLayoutVersion":"`+v1.ImageLayoutVersion+`"}`)); err != nil {
		return err
	}
	for _, d := range []string{v1.ImageBlobsDir + "/", v1.ImageBlobsDir + "/sha256/"} {
		if err := s.tw.WriteHeader(&pytar.Header{Name: d, Mode: 0o755, Mtime: Mtime, Typeflag: pytar.TypeDir, Uname: "root", Gname: "root"}); err != nil {
			return &image.WriteError{Err: err}
		}
	}
	return nil
}

func (s *tarStore) header(name string, size int64) error {
	if err := s.tw.WriteHeader(&pytar.Header{Name: name, Mode: 0o644, Size: size, Mtime: Mtime, Typeflag: pytar.TypeReg, Uname: "root", Gname: "root"}); err != nil {
		return &image.WriteError{Err: err}
	}
	return nil
}

func (s *tarStore) file(name string, data []byte) error {
	if err := s.header(name, int64(len(data))); err != nil {
		return err
	}
	if _, err := s.tw.Write(data); err != nil {
		return &image.WriteError{Err: err}
	}
	return nil
}

func (s *tarStore) put(desc v1.Descriptor, write func(io.Writer) error) error {
	if err := s.start(); err != nil {
		return err
	}
	name, err := blobName(desc.Digest)
	if err != nil {
		return err
	}
	if err := s.header(name, desc.Size); err != nil {
		return err
	}
	if err := write(memberWriter{s.tw}); err != nil {
		return err
	}
	s.written[desc.Digest] = true
	return nil
}

// memberWriter marks the archive's write errors as the output's.
type memberWriter struct{ tw *pytar.Writer }

func (m memberWriter) Write(p []byte) (int, error) {
	n, err := m.tw.Write(p)
	if err != nil {
		err = &image.WriteError{Err: err}
	}
	return n, err
}

func (s *tarStore) spool() (spooled, error) {
	f, err := os.CreateTemp("", "dockertools-blob-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked: gone when closed, even if killed
	return &tempBlob{s: s, f: f}, nil
}

// tempBlob is a blob spooled to an unlinked temporary file.
type tempBlob struct {
	s *tarStore
	f *os.File
	n int64
}

func (b *tempBlob) Write(p []byte) (int, error) {
	n, err := b.f.Write(p)
	b.n += int64(n)
	if err != nil {
		err = fmt.Errorf("temporary file: %w", err)
	}
	return n, err
}

func (b *tempBlob) commit(desc v1.Descriptor) error {
	defer b.f.Close()
	if b.n != desc.Size {
		return fmt.Errorf("blob %s: %d bytes spooled where %d were expected", desc.Digest, b.n, desc.Size)
	}
	if _, err := b.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return b.s.put(desc, func(w io.Writer) error {
		n, err := io.CopyBuffer(w, io.LimitReader(b.f, desc.Size), make([]byte, 1<<20))
		if err == nil && n != desc.Size {
			err = fmt.Errorf("blob %s: the temporary file lost bytes", desc.Digest)
		}
		return err
	})
}

func (b *tempBlob) discard() { b.f.Close() }

func (s *tarStore) finish(index []byte) error {
	if err := s.start(); err != nil {
		return err
	}
	if err := s.file(v1.ImageIndexFile, index); err != nil {
		return err
	}
	if err := s.tw.Close(); err != nil {
		return &image.WriteError{Err: err}
	}
	return nil
}

// abort: the caller's output is discarded by the caller (an atomic file);
// temporary blobs are unlinked already.
func (s *tarStore) abort() {}
