// Package tarsum computes Docker's TarSum of a tar archive: the checksum
// moby's pkg/tarsum (now daemon/builder/remotecontext/internal/tarsum)
// defines, with the same results for every version and hash.
//
// Each member contributes the hash of its selected header fields followed
// by its data; the hex strings of those hashes are sorted and hashed again,
// after an optional extra payload, into "<label>+<hash>:<hex>". Header
// selection by version:
//
//	tarsum     (v0): name mode uid gid size mtime typeflag linkname uname gname devmajor devminor
//	tarsum.v1  (v1): the same without mtime, then the SCHILY.xattr.* records sorted by key
//	tarsum.dev (dev): as v1
//
// uname and gname are always hashed empty, as moby has done since Go 1.10
// changed how archive/tar fills them. Numbers are decimal; the mode is the
// header's mode field as read.
//
// Sum accepts members one by one (a layer writer feeds it while writing, in
// the same pass); Archive reads a whole tar stream.
package tarsum

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Version selects which header fields are hashed.
type Version int

// The TarSum versions moby knows.
const (
	Version0 Version = iota
	Version1
	VersionDev
)

// String is the version's label: "tarsum", "tarsum.v1" or "tarsum.dev".
func (v Version) String() string {
	switch v {
	case Version0:
		return "tarsum"
	case Version1:
		return "tarsum.v1"
	case VersionDev:
		return "tarsum.dev"
	}
	return fmt.Sprintf("tarsum.unknown(%d)", int(v))
}

// ParseVersion accepts "v0", "v1", "dev" or a label ("tarsum.v1").
func ParseVersion(s string) (Version, error) {
	switch s {
	case "v0", "0", "tarsum":
		return Version0, nil
	case "v1", "1", "tarsum.v1":
		return Version1, nil
	case "dev", "tarsum.dev":
		return VersionDev, nil
	}
	return 0, fmt.Errorf("unknown TarSum version %q (want v0, v1 or dev)", s)
}

var hashes = map[string]func() hash.Hash{
	"sha256": sha256.New,
	"sha512": sha512.New,
}

// Sum accumulates the TarSum of members given one at a time: Add starts a
// member and the member's data is then written to the Sum.
type Sum struct {
	version  Version
	hashName string
	newHash  func() hash.Hash
	h        hash.Hash // the current member's hash
	open     bool
	sums     []string
	scratch  []byte
}

// New returns an empty Sum for the version and hash ("sha256" or
// "sha512").
func New(v Version, hashName string) (*Sum, error) {
	if v < Version0 || v > VersionDev {
		return nil, fmt.Errorf("unknown TarSum version %d", int(v))
	}
	nh, ok := hashes[hashName]
	if !ok {
		return nil, fmt.Errorf("unknown TarSum hash %q (want sha256 or sha512)", hashName)
	}
	return &Sum{version: v, hashName: hashName, newHash: nh, h: nh()}, nil
}

// Add ends the previous member and starts a new one with header h.
func (s *Sum) Add(h *tar.Header) {
	s.finish()
	s.open = true
	b := s.scratch[:0]
	field := func(name, value string) {
		b = append(b, name...)
		b = append(b, value...)
	}
	field("name", h.Name)
	field("mode", strconv.FormatInt(h.Mode, 10))
	field("uid", strconv.Itoa(h.Uid))
	field("gid", strconv.Itoa(h.Gid))
	field("size", strconv.FormatInt(h.Size, 10))
	if s.version == Version0 {
		field("mtime", strconv.FormatInt(h.ModTime.UTC().Unix(), 10))
	}
	field("typeflag", string([]byte{h.Typeflag}))
	field("linkname", h.Linkname)
	field("uname", "")
	field("gname", "")
	field("devmajor", strconv.FormatInt(h.Devmajor, 10))
	field("devminor", strconv.FormatInt(h.Devminor, 10))
	if s.version >= Version1 {
		for _, kv := range xattrs(h) {
			field(kv[0], kv[1])
		}
	}
	s.h.Write(b)
	s.scratch = b
}

// xattrs returns the header's extended attributes sorted by name, taking
// them from SCHILY.xattr.* PAX records and from the deprecated Xattrs map
// (which wins where both hold a name, as archive/tar does when writing).
func xattrs(h *tar.Header) [][2]string {
	const prefix = "SCHILY.xattr."
	var out [][2]string
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			if vv, ok := h.Xattrs[name]; ok { //nolint:staticcheck // moby reads the deprecated field too
				v = vv
			}
			out = append(out, [2]string{name, v})
		}
	}
	for k, v := range h.Xattrs { //nolint:staticcheck
		if _, ok := h.PAXRecords[prefix+k]; !ok {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// Write adds data of the current member.
func (s *Sum) Write(p []byte) (int, error) {
	if !s.open {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, errors.New("tarsum: data before the first member")
	}
	return s.h.Write(p)
}

func (s *Sum) finish() {
	if !s.open {
		return
	}
	s.sums = append(s.sums, hex.EncodeToString(s.h.Sum(nil)))
	s.h.Reset()
	s.open = false
}

// Sum ends the last member and returns the TarSum, hashing extra (may be
// nil) before the members' sums. Members added afterwards start a new
// accumulation on top of the previous ones.
func (s *Sum) Sum(extra []byte) string {
	s.finish()
	sums := append([]string(nil), s.sums...)
	sort.Strings(sums)
	h := s.newHash()
	h.Write(extra)
	for _, x := range sums {
		io.WriteString(h, x)
	}
	return s.version.String() + "+" + s.hashName + ":" + hex.EncodeToString(h.Sum(nil))
}

// Archive reads the tar stream r to its end and returns its TarSum. Data
// is read through archive/tar, exactly as moby reads it.
func Archive(r io.Reader, v Version, hashName string, extra []byte) (string, error) {
	s, err := New(v, hashName)
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(r)
	buf := make([]byte, 256<<10)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", describe(err)
		}
		s.Add(h)
		if _, err := io.CopyBuffer(s, tr, buf); err != nil {
			return "", fmt.Errorf("member %q: %w", h.Name, describe(err))
		}
	}
	return s.Sum(extra), nil
}

// describe turns archive/tar's terse errors into what a user can act on.
func describe(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("truncated tar archive")
	case errors.Is(err, tar.ErrHeader):
		return errors.New("not a tar archive (invalid header)")
	}
	return err
}
