package dockerarchive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
)

// OpenTar opens an image archive of any kind for reading its members:
// a docker-archive (then HasManifest is true and Images is read) or
// another tar, such as an oci-archive, whose files Open gives. The
// archive is indexed with the same checks as Open's.
func OpenTar(name string) (*Archive, error) {
	f, err := openSeekable(name)
	if err != nil {
		return nil, err
	}
	a := &Archive{Name: name, f: f.file, Kind: f.kind}
	if err := a.index(); err != nil {
		a.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if a.HasMember("manifest.json") {
		if err := a.readManifest(); err != nil {
			a.Close()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return a, nil
}

// HasMember reports whether the archive has a member of that name.
func (a *Archive) HasMember(name string) bool {
	clean, err := cleanName(name)
	if err != nil {
		return false
	}
	_, ok := a.members[clean]
	return ok
}

// Open returns a regular-file member's bytes and size, as the files of
// a layout (oci.Files): an error satisfying fs.ErrNotExist when there is
// no such member.
func (a *Archive) Open(name string) (io.ReadCloser, int64, error) {
	clean, err := cleanName(name)
	if err != nil {
		return nil, 0, err
	}
	m, ok := a.members[clean]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	if m.hdr.Typeflag != tar.TypeReg && m.hdr.Typeflag != tar.TypeRegA {
		return nil, 0, fmt.Errorf("member %q is not a regular file (a link?)", name)
	}
	return io.NopCloser(io.NewSectionReader(a.f, m.offset, m.hdr.Size)), m.hdr.Size, nil
}
