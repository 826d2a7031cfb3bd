package tarsum_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/tarsum"
)

// file is a regular file member whose header and data differ with i, so
// that members have sums of their own in every version (v0 through its
// mtime too).
func file(name string, i int) member {
	data := []byte("contents " + strconv.Itoa(i))
	return member{
		hdr: tar.Header{
			Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg,
			ModTime: time.Unix(int64(1e9+i), 0),
		},
		data: data,
	}
}

func dir(name string, i int) member {
	return member{hdr: tar.Header{Name: name, Mode: 0o755, Typeflag: tar.TypeDir, ModTime: time.Unix(int64(1e9+i), 0)}}
}

// files is file(names[k], k) for each name.
func files(names ...string) []member {
	out := make([]member, len(names))
	for k, n := range names {
		out[k] = file(n, k)
	}
	return out
}

// cyclic is n members named by (i*7+3) mod k: each of k names about n/k
// times, scattered.
func cyclic(n, k int) []member {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", (i*7+3)%k)
	}
	return files(names...)
}

// oneTwice is 100 members with names of their own but for two, 65 apart;
// swapped exchanges those two.
func oneTwice(swapped bool) []member {
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("u%03d", i)
	}
	names[17], names[82] = "dup", "dup"
	m := files(names...)
	if swapped {
		m[17], m[82] = m[82], m[17]
	}
	return m
}

// dupCases are archives in which moby's TarSum sees a name more than
// once, at various places and in various orders. moby orders the member
// sums by sum, except that two members of one name compare by archive
// position; that comparator is not a strict weak ordering, so the result
// is what sort.Sort's algorithm makes of the archive order: insertion
// sort up to 12 members, pdqsort's partitions beyond (with ninther pivots
// from 50).
//
// v0 and v1 are the hex digests of moby's tarsum+sha256 and
// tarsum.v1+sha256 of build(t, members...); its tarsum.dev+sha256 has
// v1's digest, dev hashing what v1 hashes. They were computed once by
// github.com/docker/docker v28.5.2+incompatible, pkg/tarsum, built with
// go1.26.8, with this program (in a module of its own, after `go get
// github.com/docker/docker@v28.5.2+incompatible`) reading each archive
// on stdin with the label as argument:
//
//	package main
//
//	import (
//		_ "crypto/sha512" // for the sha512 labels
//		"fmt"
//		"io"
//		"os"
//
//		"github.com/docker/docker/pkg/tarsum"
//	)
//
//	func main() {
//		ts, err := tarsum.NewTarSumForLabel(os.Stdin, true, os.Args[1])
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		if _, err := io.Copy(io.Discard, ts); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		fmt.Println(ts.Sum(nil))
//		fmt.Println(ts.Sum(nil)) // again: moby sorts in place
//	}
var dupCases = []struct {
	name    string
	members []member
	v0, v1  string
}{
	{"twice, adjacent", files("a", "a", "b"),
		"0838e24fd9b9ce3f77704d6d91ddf40739034f7eda923f900b90b02c690cf5bb",
		"bd50d51bb3aa3d48f935a0a949f3a4d78f1214e6d496ae708bf3cd6544c57f50"},
	{"twice, adjacent, swapped", []member{file("a", 1), file("a", 0), file("b", 2)},
		"5a021a553bd3d24984bc012c70fbccc39a378e04cef2532ab08ad86697474027",
		"2e50fcbd2e151f5f09d4c79841bfa140e002850d1521417c294dfcecd294340c"},
	{"twice, far apart", files("a", "b", "c", "d", "e", "a"),
		"7b4d1295b096736950e3333e19e3d8a9a5e339c43aa43a427f4b72c86914e6ed",
		"f15664a9dadccf171ad3a54b9b59bb90a6dc18a593ca9e1b54a2117e8f5f5c49"},
	{"twice, far apart, swapped", []member{file("a", 5), file("b", 1), file("c", 2), file("d", 3), file("e", 4), file("a", 0)},
		"51905f860c1b327e45fbcf01dcd121cfca627769a2a280d52bc2c2c5117b63a1",
		"f2e3806fd2b16677ee267443f46b01f6ff381294434012b311681746c5fd326b"},
	{"three times", files("x", "a", "b", "x", "c", "x"),
		"a628e0106f97979a4cbceeeafd6b1f56ddcd6b6257af299afe4c5bf244043a24",
		"485fd4a2cb829cbe1e601ecfadd9e0203d4332a958362138db019e4ece4a0d63"},
	{"three times, reordered", []member{file("x", 5), file("a", 1), file("b", 2), file("x", 0), file("c", 4), file("x", 3)},
		"f7a3c21b04766b747b5b0521d7cdf7abcebd068fb28902ecde7dcba92bfa9f12",
		"48569cf62cd1ae346a5e94e6e6230bc70c8be5ccb9187f1f857c14081221784d"},
	{"three times, adjacent", files("c", "x", "x", "x", "a"),
		"935ddea711ee0b3ab98cb3b5a399c7bcc6e5c887ad41142c301a5db6ce7c2277",
		"8562888688d719a11dd2b518487d6b06d6b0b2146182ee6ac2be48dde02e07a3"},
	{"two names, interleaved", files("p", "q", "a", "p", "b", "q", "c", "p"),
		"56b9bed28d327b33df76462537c477aa90f829a49d8bd17715ab4b3a90a407b8",
		"ac37a4054367ccaae582a497977ad29af47b505540b5c95238409d0ab06c8004"},
	// moby keys a member on its name made relative and clean.
	{"spellings of one name", []member{file("a", 0), file("./a", 1), file("b", 2), file("/a", 3), dir("a/", 4), file("z/../a", 5)},
		"a3b635ce677d80f8e15f31ea2e9bc6d2e9e0c3de4b67d46bea8bc4d96cc32dac",
		"0ed976b7bced4ead68d0f5603b46046768106b3996b5a0edff00271e95a7cadf"},
	{"directories, ./ and /", []member{dir("./", 0), dir(".", 1), dir("d/", 2), file("d/f", 3), dir("d", 4), dir("/", 5)},
		"8262abcfb3ba8f3a95b02b30ad9d8c8deb2a76436cc3105bcaf37cca854a447f",
		"145d606d90854ebf65a33643358420441e52b1bede8755cea5292cd1602ad8b5"},
	{"identical members", []member{file("a", 0), file("b", 1), file("a", 0), file("c", 2)},
		"a5f48cc36f5a3dbb0a715efb3fee56f3f858afb6ae48dece3acb7d0a3e831671",
		"77b78d04930dc385e8f12b7866fca3de78cf87b8c8ed241326d8341faedb0d77"},
	{"only duplicates", files("a", "a", "a", "a"),
		"559cb27d02300bb01d875429fbeb0d597e3abe53c3a9de57b335a1fb9242d023",
		"994ba5d98bbd78bf8a34187e1a979e49af77d6ebe644c02006c7199229e38a16"},
	{"13 members, 4 names twice", files("f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f0", "f1", "f2", "f3"),
		"f98fa5e60233252ff9087bb8696cdee3b1c0414684ec816b0fab6246251ca69a",
		"fea0bad2fb96ad7d9effdd28f226efd09548db66f03b62f19efa8269fe6c608f"},
	{"40 members, 13 names", cyclic(40, 13),
		"4b6ab51baa2e658e437c61c2993772cfb9f2ecbb6c2ef784867c065b3b92a5e0",
		"46728e33c7bb998de51703df4c5e60bf8e9b8a46281f7a3131d41d9a74619a4c"},
	{"60 members, 20 names", cyclic(60, 20),
		"fc3d994bf5a6c564cb7498bc168e08f06a9427fcd49fb80fbccf5fdf1d68c4e9",
		"9be01c07f3fb4b6e08b1d9216fbc0198697235ce34681b93e65c6f2f422b1471"},
	{"300 members, 100 names", cyclic(300, 100),
		"454d306f196a3dabb14df64451ced8a38c049db2bac7f39932ebd30268e589e8",
		"2d6fd33eb6c44a6a84f32664e3c480d872ac957eedd3b766c6d68c714cd7a084"},
	{"100 members, one name twice", oneTwice(false),
		"269505009f1e74deb102a67404354ec5f847063671351d617332ead2ef2ad91e",
		"8ae38bf8b428fa7c48c32f08726f2852d319bd49c7e60d4bc86fab8fdcf6db23"},
	// The same sums as above: the two are never compared, so they are
	// not kept in archive order (both give what sorting by sum gives).
	{"100 members, one name twice, swapped", oneTwice(true),
		"269505009f1e74deb102a67404354ec5f847063671351d617332ead2ef2ad91e",
		"8ae38bf8b428fa7c48c32f08726f2852d319bd49c7e60d4bc86fab8fdcf6db23"},
}

// Archive, and Sum fed member by member as a layer writer feeds it, give
// moby's TarSum for archives that hold a name more than once.
func TestDuplicateNames(t *testing.T) {
	for _, c := range dupCases {
		archive := build(t, c.members...)
		for _, v := range []tarsum.Version{tarsum.Version0, tarsum.Version1, tarsum.VersionDev} {
			t.Run(c.name+"/"+v.String(), func(t *testing.T) {
				want := v.String() + "+sha256:" + c.v1
				if v == tarsum.Version0 {
					want = v.String() + "+sha256:" + c.v0
				}
				if got := mustArchive(t, archive, v, "sha256", nil); got != want {
					t.Errorf("Archive:\ngot  %s\nwant %s", got, want)
				}
				s, err := tarsum.New(v, "sha256")
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range c.members {
					h := m.hdr
					s.Add(&h)
					if _, err := s.Write(m.data); err != nil {
						t.Fatal(err)
					}
				}
				if got := s.Sum(nil); got != want {
					t.Errorf("Sum fed member by member:\ngot  %s\nwant %s", got, want)
				}
			})
		}
	}

	// Other hashes order the member sums the same way; computed by the
	// program above with the labels tarsum.v1+sha512 and
	// tarsum.dev+sha512.
	for _, c := range []struct {
		name    string
		members []member
		v       tarsum.Version
		want    string
	}{
		{"three times", files("x", "a", "b", "x", "c", "x"), tarsum.Version1,
			"9d827976490cc80864db006968dabefd2e7dde8fe08e2138e7e5d9fa35b3b337ec7abe35d88ca54e1c12e1c12a8986a38fd65fb9fd920a0194364cc3395bae9f"},
		{"100 members, one name twice", oneTwice(false), tarsum.VersionDev,
			"3ec1b47cccc9fd76a663aede1b1aa307ee2bb87e18d0164e33c763b9bbc24d28a436057aa7aacf9501fe7960a68e45731de04bffe5ee30a18e33f67d8c439565"},
	} {
		want := c.v.String() + "+sha512:" + c.want
		if got := mustArchive(t, build(t, c.members...), c.v, "sha512", nil); got != want {
			t.Errorf("%s, %s sha512:\ngot  %s\nwant %s", c.name, c.v, got, want)
		}
	}
}

// moby's Sum sorts the member sums in place, and sorting the result again
// does not always give it back with duplicate names: a second Sum can
// differ from the first, and does here (the program above's second line).
func TestDuplicateNamesSumAgain(t *testing.T) {
	archive := build(t, cyclic(40, 13)...)
	s, _ := tarsum.New(tarsum.Version0, "sha256")
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
		if _, err := io.Copy(s, tr); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{
		"tarsum+sha256:4b6ab51baa2e658e437c61c2993772cfb9f2ecbb6c2ef784867c065b3b92a5e0",
		"tarsum+sha256:4222220e1ebd3311a1bfadebf43046050fe25aeada7bd235be4121d2f194391c",
	} {
		if got := s.Sum(nil); got != want {
			t.Errorf("Sum %d:\ngot  %s\nwant %s", i+1, got, want)
		}
	}
}
