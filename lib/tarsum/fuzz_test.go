package tarsum_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/tarsum"
)

// FuzzArchive feeds Archive arbitrary bytes: it must never panic, return
// either a well-formed sum or a one-line error (never both), agree with
// a Sum fed by hand from archive/tar, and allocate in proportion to its
// input whatever sizes the headers claim.
//
// Besides the archives added below, testdata/fuzz/FuzzArchive holds tars
// that other programs wrote (GNU tar 1.34 with -b1 in the v7, ustar, gnu,
// oldgnu and posix formats, with sparse files, long names, a device and
// xattrs; Python's tarfile in PAX format; fixture layer b7).
func FuzzArchive(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if logicalSize(data) > 4<<20 {
			// Sparse members expand to their logical size (up to 2^63
			// bytes of holes from a few blocks), all of which moby hashes;
			// hashing that is slow, not wrong.
			t.Skip()
		}
		versions := []tarsum.Version{tarsum.Version0, tarsum.Version1, tarsum.VersionDev}
		sums := make([]string, len(versions))
		errs := make([]error, len(versions))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i, v := range versions {
			sums[i], errs[i] = tarsum.Archive(bytes.NewReader(data), v, "sha256", nil)
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 3*(4<<20+64*uint64(len(data))) {
			t.Errorf("%d bytes allocated for 3 sums of %d bytes of input", alloc, len(data))
		}
		for i, v := range versions {
			sum, err := sums[i], errs[i]
			if (err == nil) != (errs[0] == nil) {
				t.Errorf("%s: error %v, but %s: %v", v, err, versions[0], errs[0])
			}
			if err != nil {
				if sum != "" {
					t.Errorf("%s: sum %q with error %v", v, sum, err)
				}
				if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
					t.Errorf("%s: error %q is not one line", v, msg)
				}
				continue
			}
			label := v.String() + "+sha256:"
			if !strings.HasPrefix(sum, label) || len(sum) != len(label)+64 {
				t.Errorf("%s: malformed sum %q", v, sum)
			}
			if byHand := sumByHand(data, v); byHand != sum {
				t.Errorf("%s: Archive %s, by hand %s", v, sum, byHand)
			}
		}
	})
}

// sumByHand reads data with archive/tar and feeds a Sum, the way a
// layer writer does; members are taken until archive/tar stops.
func sumByHand(data []byte, v tarsum.Version) string {
	s, _ := tarsum.New(v, "sha256")
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && h != nil) {
			break
		}
		s.Add(h)
		if _, err := io.Copy(s, tr); err != nil {
			return "error: " + err.Error()
		}
	}
	return s.Sum(nil)
}

// logicalSize is the sum of the sizes archive/tar would read for data's
// sparse members.
func logicalSize(data []byte) int64 {
	var total int64
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err != nil {
			return total
		}
		sparse := h.Typeflag == tar.TypeGNUSparse
		for k := range h.PAXRecords {
			sparse = sparse || strings.HasPrefix(k, "GNU.sparse.")
		}
		if sparse && h.Size > 0 {
			total += h.Size
			if total < 0 {
				return 1 << 62
			}
		}
	}
}

// fuzzSeeds are archives archive/tar writes: the conformance members,
// every type, PAX records, long names, and truncated copies.
func fuzzSeeds(t testing.TB) [][]byte {
	long := strings.Repeat("d/", 80) + "f"
	full := build(t,
		member{hdr: tar.Header{Name: "dir/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(1, 0)}},
		anotherTxt,
		xattrsTxt(true, userKeys),
		member{hdr: tar.Header{Name: "sym", Typeflag: tar.TypeSymlink, Linkname: long}},
		member{hdr: tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "another.txt"}},
		member{hdr: tar.Header{Name: "dev", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}},
		member{hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo}},
		member{hdr: tar.Header{Name: long, Size: 600, Typeflag: tar.TypeReg, Format: tar.FormatGNU}, data: bytes.Repeat([]byte("x"), 600)},
		member{hdr: tar.Header{Name: "ünï", Uname: "ü", Size: 1, Typeflag: tar.TypeReg, Format: tar.FormatPAX,
			ModTime: time.Unix(1, 5e8), PAXRecords: map[string]string{"GOLANG.x": "y"}}, data: []byte{0}},
	)
	seeds := [][]byte{
		nil,
		[]byte("not a tar"),
		make([]byte, 512),
		build(t),
		build(t, fileTxt),
		full,
		build(t, files("x", "a", "./x", "b", "/x", "c", "x")...), // one name four times, spelt three ways
	}
	for _, n := range []int{100, 512, 700, 1024, 1536, 2000, len(full) - 1024} {
		seeds = append(seeds, full[:n])
	}
	return seeds
}
