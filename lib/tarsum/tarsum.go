// Package tarsum computes Docker's TarSum of a tar archive: the checksum
// moby's pkg/tarsum (now daemon/builder/remotecontext/internal/tarsum)
// defines, with the same results for every version and hash.
//
// Each member contributes the hash of its selected header fields followed
// by its data; the hex strings of those hashes are sorted and hashed again,
// after an optional extra payload, into "<label>+<hash>:<hex>". They are
// sorted as moby sorts them, which is not plain string order where a name
// occurs more than once (see bySum). Header selection by version:
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
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
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
	name     string // the current member's key (see memberSum)
	sums     []memberSum
	scratch  []byte
}

// memberSum is what a Sum keeps of a member: the hex string of its hash,
// its position among the members, and the name moby keys it on, which is
// the header's name made relative and clean ("./a", "/a", "a/" and
// "b/../a" are all "a"; "", "/" and "./" are ".").
type memberSum struct {
	name string
	sum  string
	pos  int
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

// Add ends the previous member and starts a new one with header h. The
// fields hashed are h's as they are: to match Archive over the tar a
// writer makes of h, give them as archive/tar reads them back (ModTime in
// whole seconds; archive/tar rounds it, and writes the zero time as 0).
func (s *Sum) Add(h *tar.Header) {
	s.finish()
	s.open = true
	s.name = key(h.Name)
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

// key is the name moby keys a member on: path.Join(".", path.Join("/",
// name)). A name that is clean and relative already, as most are, is its
// own key, found without allocating.
func key(name string) string {
	if path.Clean(name) == name && name != ".." && !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "../") {
		return name
	}
	return path.Join(".", path.Join("/", name))
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
	s.sums = append(s.sums, memberSum{name: s.name, sum: hex.EncodeToString(s.h.Sum(nil)), pos: len(s.sums)})
	s.h.Reset()
	s.open = false
}

// Sum ends the last member and returns the TarSum, hashing extra (may be
// nil) before the members' sums. Members added afterwards start a new
// accumulation on top of the previous ones.
//
// Like moby's, Sum sorts the members' sums in place, and a later Sum sorts
// them again from there: where a name occurs more than once, that can
// give another result (see bySum), as it does in moby.
func (s *Sum) Sum(extra []byte) string {
	s.finish()
	seen := make(map[string]struct{}, len(s.sums))
	dups := false
	for _, m := range s.sums {
		if _, ok := seen[m.name]; ok {
			dups = true
			break
		}
		seen[m.name] = struct{}{}
	}
	sort.Sort(bySum{s.sums, dups})
	h := s.newHash()
	h.Write(extra)
	for _, m := range s.sums {
		io.WriteString(h, m.sum)
	}
	return s.version.String() + "+" + s.hashName + ":" + hex.EncodeToString(h.Sum(nil))
}

// bySum is the order moby's TarSum puts the members' sums in: by sum,
// except that when the archive holds a name more than once, two members
// of one name compare by position. That is not a strict weak ordering:
// members a1 and a2 of one name, with sums 9 and 1, and a member b with
// sum 5 make a cycle (a1 < a2 by position, a2 < b and b < a1 by sum). So
// no sorted order exists, and the result is what the sort's algorithm
// makes of its input: moby's is sort.Sort with this Less on the members
// in archive order (pdqsort since Go 1.19: insertion sort up to 12
// elements, beyond that partitions around pivots chosen from fixed
// positions, by median of three or, from 50 elements, Tukey's ninther,
// and a shuffle of a few elements, seeded by the length, where partitions
// come out unbalanced). Sum does exactly that, with this very comparator,
// to get moby's sums. Another algorithm orders such members otherwise: a
// stable sort, or a sort on a key such as (sum, position); sort.Stable
// differs from sort.Sort on most random inputs with repeated names.
// Without a repeated name it is plain string order, as sort.Strings gives.
//
// Results for archives with a repeated name are those of moby built with
// Go 1.19 or later: older builds sorted with another algorithm.
type bySum struct {
	m    []memberSum
	dups bool // a name occurs more than once
}

func (b bySum) Len() int      { return len(b.m) }
func (b bySum) Swap(i, j int) { b.m[i], b.m[j] = b.m[j], b.m[i] }
func (b bySum) Less(i, j int) bool {
	if b.dups && b.m[i].name == b.m[j].name {
		return b.m[i].pos < b.m[j].pos
	}
	return b.m[i].sum < b.m[j].sum
}

// Errors of Archive for input that is not a whole tar archive; the
// errors returned wrap them and say where the input went wrong.
var (
	ErrNotTar    = errors.New("not a tar archive")
	ErrTruncated = errors.New("truncated tar archive")
)

// Archive reads the tar stream r up to the end of the archive and returns
// its TarSum; what follows the two zero blocks is not read. Data is read
// through archive/tar, exactly as moby reads it: empty input is an archive
// without members, and so is one that ends at a member boundary without
// its two zero blocks.
//
// Input that is not tar from its first header on gives ErrNotTar; input
// ending inside a member gives ErrTruncated naming it, also where it ends
// inside the member's padding, which archive/tar (and so moby) takes for
// the end of the archive; an error of r is returned as it is.
func Archive(r io.Reader, v Version, hashName string, extra []byte) (string, error) {
	s, err := New(v, hashName)
	if err != nil {
		return "", err
	}
	in := &countingReader{r: r}
	tr := tar.NewReader(in)
	buf := buffers.Get().(*[]byte)
	defer buffers.Put(buf)
	var (
		prev string // the last member read
		end  int64  // where prev ends, padding included
		n    int    // members read
	)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			// archive/tar takes input ending inside a member's padding
			// for the end of the archive; it is a truncated archive.
			if in.n < end && in.err == nil {
				return "", fmt.Errorf("%w (member %q)", ErrTruncated, prev)
			}
			break
		}
		// A name that would escape the extraction root is refused under
		// GODEBUG=tarinsecurepath=0, with the header; a checksum extracts
		// nothing, and moby sums such names.
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && h != nil) {
			switch {
			case in.err != nil:
				return "", in.err
			case n == 0:
				return "", ErrNotTar
			case !errors.Is(err, io.ErrUnexpectedEOF):
				return "", afterError{err, prev}
			case in.n < end:
				return "", fmt.Errorf("%w (member %q)", ErrTruncated, prev)
			}
			return "", fmt.Errorf("%w (after member %q)", ErrTruncated, prev)
		}
		n++
		s.Add(h)
		if _, err := io.CopyBuffer(s, tr, *buf); err != nil {
			if in.err != nil {
				return "", in.err
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return "", fmt.Errorf("%w (member %q)", ErrTruncated, h.Name)
			}
			return "", fmt.Errorf("member %q: %w", h.Name, err)
		}
		prev, end = h.Name, (in.n+blockSize-1)/blockSize*blockSize
	}
	return s.Sum(extra), nil
}

const (
	blockSize = 512
	// copyBufferSize is the size of Archive's reads of member data.
	copyBufferSize = 256 << 10
)

// afterError is a bad header after member prev.
type afterError struct {
	err  error
	prev string
}

func (e afterError) Error() string {
	return strings.TrimPrefix(e.err.Error(), "archive/tar: ") + " after member " + strconv.Quote(e.prev)
}

func (e afterError) Unwrap() error { return e.err }

// buffers holds Archive's copy buffers, so summing many small archives
// does not allocate one each time.
var buffers = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

// countingReader counts the bytes read from r, so Archive can tell where
// the input ended, and keeps r's own error (other than the ends of input,
// which archive/tar reports) apart from what archive/tar makes of it.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		c.err = err
	}
	return n, err
}
