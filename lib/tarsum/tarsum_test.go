package tarsum_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/tarsum"
)

// member is one tar entry of a test archive.
type member struct {
	hdr  tar.Header
	data []byte
}

// build writes the members with archive/tar, as moby's tests make their
// archives.
func build(t testing.TB, members ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		h := m.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("WriteHeader %q: %v", h.Name, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatalf("Write %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The members of conformance/README.md (section TarSum), which are also
// those of moby's tarsum_test.go.
var (
	testdata0 = member{
		hdr:  tar.Header{Name: "/testdata0", Mode: 0o755, Uid: 0, Gid: 0, Size: 1 << 20, Typeflag: tar.TypeReg},
		data: make([]byte, 1<<20),
	}
	fileTxt    = member{hdr: tar.Header{Name: "file.txt", Typeflag: tar.TypeReg}}
	anotherTxt = member{
		hdr: tar.Header{
			Name: "another.txt", Uid: 1000, Gid: 1000, Uname: "slartibartfast", Gname: "users",
			Size: 4, Typeflag: tar.TypeReg,
		},
		data: []byte("test"),
	}
)

// xattrsTxt is another.txt renamed, with xattrs given through PAXRecords
// or through the deprecated Xattrs field (archive/tar writes both as
// SCHILY.xattr.* records).
func xattrsTxt(viaPAX bool, xattrs map[string]string) member {
	m := anotherTxt
	m.hdr.Name = "xattrs.txt"
	if viaPAX {
		m.hdr.PAXRecords = map[string]string{}
		for k, v := range xattrs {
			m.hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
	} else {
		m.hdr.Xattrs = xattrs //nolint:staticcheck // the deprecated field is what moby's test uses
	}
	return m
}

var userKeys = map[string]string{"user.key1": "value1", "user.key2": "value2"}

// emptyHex is the hex sha256 of nothing: the TarSum of an archive without
// members.
const emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func TestArchiveConformance(t *testing.T) {
	cases := []struct {
		name    string
		input   []byte
		version tarsum.Version
		hash    string
		extra   []byte
		want    string
	}{
		// conformance/README.md, section TarSum.
		{"empty archive", build(t), tarsum.Version1, "sha256", nil,
			"tarsum.v1+sha256:" + emptyHex},
		{"no input", nil, tarsum.Version1, "sha256", nil,
			"tarsum.v1+sha256:" + emptyHex},
		{"testdata0 v0", build(t, testdata0), tarsum.Version0, "sha256", nil,
			"tarsum+sha256:75258b2c5dcd9adfe24ce71eeca5fc5019c7e669912f15703ede92b1a60cb11f"},
		{"testdata0 v1", build(t, testdata0), tarsum.Version1, "sha256", nil,
			"tarsum.v1+sha256:4c2ed7c7cc8b197c5db226e51a34e87584d5f7a925e7a6efcf72da21979078f0"},
		{"file.txt v0", build(t, fileTxt), tarsum.Version0, "sha256", nil,
			"tarsum+sha256:626c4a2e9a467d65c33ae81f7f3dedd4de8ccaee72af73223c4bc4718cbc7bbd"},
		{"file.txt dev", build(t, fileTxt), tarsum.VersionDev, "sha256", nil,
			"tarsum.dev+sha256:6ffd43a1573a9913325b4918e124ee982a99c0f3cba90fc032a65f5e20bdd465"},
		{"another.txt dev", build(t, anotherTxt), tarsum.VersionDev, "sha256", nil,
			"tarsum.dev+sha256:862964db95e0fa7e42836ae4caab3576ab1df8d275720a45bdd01a5a3730cc63"},
		{"xattrs.txt dev, PAXRecords", build(t, xattrsTxt(true, userKeys)), tarsum.VersionDev, "sha256", nil,
			"tarsum.dev+sha256:4b1ba03544b49d96a32bacc77f8113220bd2f6a77e7e6d1e7b33cd87117d88e7"},
		{"xattrs.txt dev, Xattrs", build(t, xattrsTxt(false, userKeys)), tarsum.VersionDev, "sha256", nil,
			"tarsum.dev+sha256:4b1ba03544b49d96a32bacc77f8113220bd2f6a77e7e6d1e7b33cd87117d88e7"},

		// Further values of moby's tarsum_test.go.
		{"xattr names are case-sensitive", build(t, xattrsTxt(false, map[string]string{"user.KEY1": "value1", "user.key2": "value2"})),
			tarsum.VersionDev, "sha256", nil,
			"tarsum.dev+sha256:410b602c898bd4e82e800050f89848fc2cf20fd52aa59c1ce29df76b878b84a6"},
		{"v0 ignores xattrs", build(t, xattrsTxt(false, map[string]string{"user.NOT": "CALCULATED"})),
			tarsum.Version0, "sha256", nil,
			"tarsum+sha256:b1f97eab73abd7593c245e51070f9fbdb1824c6b00a0b7a3d7f0015cd05e9e86"},
		{"testdata0 v0 sha512", build(t, testdata0), tarsum.Version0, "sha512", nil,
			"tarsum+sha512:7c56de40b2d1ed3863ff25d83b59cdc8f53e67d1c01c3ee8f201f8e4dec3107da976d0c0ec9109c962a152b32699fe329b2dab13966020e400c32878a0761a7e"},

		// The empty archive with the other labels: the digest is that of
		// nothing (or of extra alone).
		{"empty archive v0", build(t), tarsum.Version0, "sha256", nil, "tarsum+sha256:" + emptyHex},
		{"empty archive dev sha512", build(t), tarsum.VersionDev, "sha512", nil,
			"tarsum.dev+sha512:" + hexOf(sha512.Sum512(nil))},
		{"no input, extra", nil, tarsum.Version1, "sha256", []byte("{}"),
			"tarsum.v1+sha256:" + hexOf(sha256.Sum256([]byte("{}")))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tarsum.Archive(bytes.NewReader(c.input), c.version, c.hash, c.extra)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func hexOf[T [32]byte | [64]byte](sum T) string {
	switch s := any(sum).(type) {
	case [32]byte:
		return hex.EncodeToString(s[:])
	case [64]byte:
		return hex.EncodeToString(s[:])
	}
	panic("unreachable")
}

func mustArchive(t testing.TB, b []byte, v tarsum.Version, hash string, extra []byte) string {
	t.Helper()
	s, err := tarsum.Archive(bytes.NewReader(b), v, hash, extra)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The final hash is over extra then the sorted per-member hex sums; check
// that by recomputing it from the per-member sums of one-member archives.
func TestArchiveCombination(t *testing.T) {
	one := func(m member) string {
		// The TarSum of a one-member archive is the hash of that member's
		// hex sum, so the member's own sum cannot be read back; compute it
		// from the algorithm's definition instead (v1, sha256).
		h := sha256.New()
		io.WriteString(h, "name"+m.hdr.Name+"mode"+itoa(m.hdr.Mode)+"uid"+itoa(int64(m.hdr.Uid))+
			"gid"+itoa(int64(m.hdr.Gid))+"size"+itoa(m.hdr.Size)+"typeflag"+string(rune(m.hdr.Typeflag))+
			"linkname"+m.hdr.Linkname+"uname"+"gname"+"devmajor0devminor0")
		h.Write(m.data)
		return hex.EncodeToString(h.Sum(nil))
	}
	a, b := anotherTxt, fileTxt
	sa, sb := one(a), one(b)
	lo, hi := min(sa, sb), max(sa, sb)
	extra := []byte(`{"id":"layer json"}`)
	h := sha256.New()
	h.Write(extra)
	io.WriteString(h, lo+hi)
	want := "tarsum.v1+sha256:" + hex.EncodeToString(h.Sum(nil))
	if got := mustArchive(t, build(t, a, b), tarsum.Version1, "sha256", extra); got != want {
		t.Errorf("two members with extra:\ngot  %s\nwant %s", got, want)
	}
	// The definition above agrees with a single member's TarSum.
	h = sha256.New()
	io.WriteString(h, sa)
	if got, want := mustArchive(t, build(t, a), tarsum.Version1, "sha256", nil), "tarsum.v1+sha256:"+hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("one member:\ngot  %s\nwant %s", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestArchiveProperties(t *testing.T) {
	a, b := anotherTxt, fileTxt
	for _, v := range []tarsum.Version{tarsum.Version0, tarsum.Version1, tarsum.VersionDev} {
		t.Run(v.String(), func(t *testing.T) {
			ab := mustArchive(t, build(t, a, b), v, "sha256", nil)
			if ba := mustArchive(t, build(t, b, a), v, "sha256", nil); ab != ba {
				t.Errorf("member order changed the sum: %s vs %s", ab, ba)
			}
			single := mustArchive(t, build(t, a), v, "sha256", nil)
			double := mustArchive(t, build(t, a, a), v, "sha256", nil)
			if single == double {
				t.Errorf("a second member with the same name did not count: %s", double)
			}
			// Same name, other contents: both members count, and so does
			// their order, as in moby (two members of one name are
			// hashed in archive order; TestDuplicateNames has more).
			a2 := a
			a2.data = []byte("tset")
			x := mustArchive(t, build(t, a, a2), v, "sha256", nil)
			if y := mustArchive(t, build(t, a2, a), v, "sha256", nil); x == y {
				t.Errorf("order of same-name members did not count: %s", x)
			}
			if x == single || x == mustArchive(t, build(t, a2), v, "sha256", nil) {
				t.Errorf("one of two same-name members was dropped")
			}
			if e := mustArchive(t, build(t, a), v, "sha256", []byte("json")); e == single {
				t.Errorf("extra did not change the sum")
			}
			s512 := mustArchive(t, build(t, a), v, "sha512", nil)
			if want := v.String() + "+sha512:"; !strings.HasPrefix(s512, want) || len(s512) != len(want)+128 {
				t.Errorf("sha512 sum %q: want label %q and 128 hex digits", s512, want)
			}
		})
	}
}

// Which header fields count in which version.
func TestArchiveFields(t *testing.T) {
	base := member{
		hdr: tar.Header{
			Name: "dir/f", Mode: 0o644, Uid: 1, Gid: 2, Size: 3, Typeflag: tar.TypeReg,
			ModTime: time.Unix(1000000000, 0), Uname: "u", Gname: "g",
		},
		data: []byte("abc"),
	}
	change := map[string]func(*member){
		"name":     func(m *member) { m.hdr.Name = "dir/g" },
		"mode":     func(m *member) { m.hdr.Mode = 0o600 },
		"uid":      func(m *member) { m.hdr.Uid = 7 },
		"gid":      func(m *member) { m.hdr.Gid = 7 },
		"data":     func(m *member) { m.data = []byte("abd") },
		"mtime":    func(m *member) { m.hdr.ModTime = time.Unix(1000000001, 0) },
		"uname":    func(m *member) { m.hdr.Uname = "other" },
		"gname":    func(m *member) { m.hdr.Gname = "other" },
		"xattr":    func(m *member) { m.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.a": "1"} },
		"pax":      func(m *member) { m.hdr.PAXRecords = map[string]string{"GOLANG.pkg": "1"} },
		"typeflag": func(m *member) { m.hdr.Typeflag = tar.TypeLink; m.hdr.Linkname = "x"; m.hdr.Size = 0; m.data = nil },
	}
	// Whether a change of that field changes each version's sum.
	counts := map[string][3]bool{
		"name": {true, true, true}, "mode": {true, true, true}, "uid": {true, true, true},
		"gid": {true, true, true}, "data": {true, true, true}, "typeflag": {true, true, true},
		"mtime": {true, false, false},
		"uname": {false, false, false}, "gname": {false, false, false}, // moby blanks them
		"xattr": {false, true, true},
		"pax":   {false, false, false},
	}
	for field, f := range change {
		for i, v := range []tarsum.Version{tarsum.Version0, tarsum.Version1, tarsum.VersionDev} {
			m := base
			f(&m)
			before := mustArchive(t, build(t, base), v, "sha256", nil)
			after := mustArchive(t, build(t, m), v, "sha256", nil)
			if got := before != after; got != counts[field][i] {
				t.Errorf("%s, %s: sum changed = %v, want %v", field, v, got, counts[field][i])
			}
		}
	}
}

// The mtime of v0 is the Unix time, whatever the zone of the header's time.
func TestArchiveModTimeZone(t *testing.T) {
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	utc := time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)
	m := fileTxt
	m.hdr.ModTime = utc
	want := mustArchive(t, build(t, m), tarsum.Version0, "sha256", nil)
	m.hdr.ModTime = utc.In(zone)
	if got := mustArchive(t, build(t, m), tarsum.Version0, "sha256", nil); got != want {
		t.Errorf("non-UTC time: got %s, want %s", got, want)
	}
	// By hand, without archive/tar's writer in between.
	s, err := tarsum.New(tarsum.Version0, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	h := m.hdr
	s.Add(&h)
	if got := s.Sum(nil); got != want {
		t.Errorf("Sum.Add with a non-UTC time: got %s, want %s", got, want)
	}
	m.hdr.ModTime = utc.Add(time.Second)
	if got := mustArchive(t, build(t, m), tarsum.Version0, "sha256", nil); got == want {
		t.Errorf("v0 ignored the mtime")
	}
}

// Header-only types (links, directories, devices, fifos) hash their size
// field but no data, as archive/tar reads them.
func TestArchiveHeaderOnlyTypes(t *testing.T) {
	for _, typ := range []byte{tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo} {
		hdr := tar.Header{Name: "x", Typeflag: typ, Linkname: "target", Size: 5, Devmajor: 1, Devminor: 3, Mode: 0o755}
		b := build(t, member{hdr: hdr}) // no data follows: archive/tar writes none
		got := mustArchive(t, b, tarsum.Version1, "sha256", nil)
		s, _ := tarsum.New(tarsum.Version1, "sha256")
		s.Add(&hdr)
		if want := s.Sum(nil); got != want {
			t.Errorf("type %q: Archive %s, Sum.Add %s", typ, got, want)
		}
		hdr.Size = 0
		if zero := mustArchive(t, build(t, member{hdr: hdr}), tarsum.Version1, "sha256", nil); zero == got {
			t.Errorf("type %q: the size field did not count", typ)
		}
	}
}

// Feeding Sum by hand, in odd pieces, gives what Archive gives for the
// same bytes: the way path-to-layer computes it while writing.
func TestSumStreaming(t *testing.T) {
	big := member{hdr: tar.Header{Name: "big", Mode: 0o644, Size: 300000, Typeflag: tar.TypeReg}, data: bytes.Repeat([]byte("0123456789abcdef"), 300000/16)}
	big.data = append(big.data, bytes.Repeat([]byte{'z'}, 300000-len(big.data))...)
	members := []member{
		{hdr: tar.Header{Name: "d/", Mode: 0o755, Typeflag: tar.TypeDir}},
		big, anotherTxt, xattrsTxt(true, userKeys), fileTxt,
		{hdr: tar.Header{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "big"}},
		{hdr: tar.Header{Name: "h", Typeflag: tar.TypeLink, Linkname: "big"}},
		{hdr: tar.Header{Name: strings.Repeat("long/", 40) + "name", Mode: 0o600, Size: 1, Typeflag: tar.TypeReg}, data: []byte{1}},
	}
	for i := range members {
		// archive/tar writes a zero time as 0, not as the zero time's
		// seconds; give every header the time it will be read with.
		members[i].hdr.ModTime = time.Unix(int64(1e9+i), 0)
	}
	archive := build(t, members...)
	for _, v := range []tarsum.Version{tarsum.Version0, tarsum.Version1, tarsum.VersionDev} {
		for _, hash := range []string{"sha256", "sha512"} {
			want := mustArchive(t, archive, v, hash, []byte("extra"))

			// From the headers as written.
			s, err := tarsum.New(v, hash)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range members {
				h := m.hdr
				s.Add(&h)
				for p := m.data; len(p) > 0; {
					n := min(len(p), 1+len(p)%7919)
					if _, err := s.Write(p[:n]); err != nil {
						t.Fatal(err)
					}
					p = p[n:]
				}
			}
			if got := s.Sum([]byte("extra")); got != want {
				t.Errorf("%s %s by hand: got %s, want %s", v, hash, got, want)
			}

			// From the headers as read.
			s, _ = tarsum.New(v, hash)
			tr := tar.NewReader(bytes.NewReader(archive))
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				s.Add(h)
				if _, err := io.CopyBuffer(s, tr, make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Sum([]byte("extra")); got != want {
				t.Errorf("%s %s from tar.Reader: got %s, want %s", v, hash, got, want)
			}
		}
	}
}

func TestSumReuse(t *testing.T) {
	s, _ := tarsum.New(tarsum.Version1, "sha256")
	if got, want := s.Sum(nil), "tarsum.v1+sha256:"+emptyHex; got != want {
		t.Errorf("empty Sum: got %s, want %s", got, want)
	}
	if _, err := s.Write([]byte("x")); err == nil {
		t.Error("data before the first member: no error")
	}
	h := anotherTxt.hdr
	s.Add(&h)
	s.Write(anotherTxt.data)
	first := s.Sum(nil)
	if again := s.Sum(nil); again != first {
		t.Errorf("Sum is not idempotent: %s then %s", first, again)
	}
	if want := mustArchive(t, build(t, anotherTxt), tarsum.Version1, "sha256", nil); first != want {
		t.Errorf("got %s, want %s", first, want)
	}
	h2 := fileTxt.hdr
	s.Add(&h2)
	if got, want := s.Sum(nil), mustArchive(t, build(t, anotherTxt, fileTxt), tarsum.Version1, "sha256", nil); got != want {
		t.Errorf("members added after Sum: got %s, want %s", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := tarsum.New(tarsum.Version(7), "sha256"); err == nil {
		t.Error("version 7: no error")
	}
	if _, err := tarsum.New(tarsum.Version1, "md5"); err == nil {
		t.Error("md5: no error")
	}
	if _, err := tarsum.Archive(bytes.NewReader(nil), tarsum.Version1, "sha1", nil); err == nil {
		t.Error("Archive with sha1: no error")
	}
}

func TestParseVersion(t *testing.T) {
	for s, want := range map[string]tarsum.Version{
		"v0": tarsum.Version0, "tarsum": tarsum.Version0,
		"v1": tarsum.Version1, "tarsum.v1": tarsum.Version1,
		"dev": tarsum.VersionDev, "tarsum.dev": tarsum.VersionDev,
	} {
		if got, err := tarsum.ParseVersion(s); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "v2", "V1", "tarsum.v2"} {
		if _, err := tarsum.ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q): no error", s)
		}
	}
}

func TestArchiveErrors(t *testing.T) {
	good := build(t, anotherTxt, testdata0)
	// Offsets in good: another.txt's header at 0, its data at 512; the
	// header of /testdata0 at 1024, its data at 1536.
	hdrOnly := build(t, member{hdr: tar.Header{Name: "a", Size: 1000, Typeflag: tar.TypeReg}, data: make([]byte, 1000)})
	var huge bytes.Buffer // a header claiming 1 TiB, and 4 bytes of data
	if err := tar.NewWriter(&huge).WriteHeader(&tar.Header{Name: "huge", Size: 1 << 40, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	huge.WriteString("data")
	garbageHeader := append(append([]byte(nil), good[:1024]...), bytes.Repeat([]byte{'x'}, 512)...)
	cases := []struct {
		name  string
		input []byte
		want  string
		is    error
	}{
		{"short", []byte("hello"), "not a tar archive", tarsum.ErrNotTar},
		{"511 bytes", good[:511], "not a tar archive", tarsum.ErrNotTar},
		{"text", bytes.Repeat([]byte("not a tar\n"), 100), "not a tar archive", tarsum.ErrNotTar},
		{"zero block then garbage", append(make([]byte, 512), bytes.Repeat([]byte{1}, 512)...), "not a tar archive", tarsum.ErrNotTar},
		{"in the first member's data", good[:514], `truncated tar archive (member "another.txt")`, tarsum.ErrTruncated},
		{"in the first member's padding", good[:600], `truncated tar archive (member "another.txt")`, tarsum.ErrTruncated},
		{"in the second header", good[:1100], `truncated tar archive (after member "another.txt")`, tarsum.ErrTruncated},
		{"in the second member's data", good[:1536+4096], `truncated tar archive (member "/testdata0")`, tarsum.ErrTruncated},
		{"huge size", huge.Bytes(), `truncated tar archive (member "huge")`, tarsum.ErrTruncated},
		{"header only", hdrOnly[:512], `truncated tar archive (member "a")`, tarsum.ErrTruncated},
		{"bad second header", garbageHeader, `invalid tar header after member "another.txt"`, tar.ErrHeader},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := tarsum.Archive(bytes.NewReader(c.input), tarsum.Version1, "sha256", nil)
			if err == nil {
				t.Fatalf("no error, sum %s", got)
			}
			if got != "" {
				t.Errorf("sum %q with the error", got)
			}
			if err.Error() != c.want {
				t.Errorf("error %q, want %q", err, c.want)
			}
			if !errors.Is(err, c.is) {
				t.Errorf("error %q is not %v", err, c.is)
			}
		})
	}

	// Archives ending at a member boundary without the two zero blocks
	// are read as moby reads them: complete.
	if _, err := tarsum.Archive(bytes.NewReader(good[:len(good)-1024]), tarsum.Version1, "sha256", nil); err != nil {
		t.Errorf("archive without end blocks: %v", err)
	}
	// One zero block alone is an empty archive.
	if got := mustArchive(t, make([]byte, 512), tarsum.Version1, "sha256", nil); got != "tarsum.v1+sha256:"+emptyHex {
		t.Errorf("one zero block: %s", got)
	}
}

// A failing reader's error is reported as such, not as a bad archive.
func TestArchiveReadError(t *testing.T) {
	boom := errors.New("read /dev/boom: input/output error")
	good := build(t, anotherTxt, testdata0)
	for _, n := range []int{0, 100, 512, 1030, 3000} {
		r := io.MultiReader(bytes.NewReader(good[:n]), &failing{boom})
		_, err := tarsum.Archive(r, tarsum.Version1, "sha256", nil)
		if !errors.Is(err, boom) {
			t.Errorf("after %d bytes: error %v, want %v", n, err, boom)
		}
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }
