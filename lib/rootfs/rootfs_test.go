package rootfs_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/rootfs"
	"github.com/opencontainers/go-digest"
)

// ent is one entry of a synthetic layer.
type ent struct {
	hdr  tar.Header
	data string
}

func dir(name string) ent { return dirMode(name, 0o755, 0, 0) }
func dirMode(name string, mode int64, uid, gid int) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid}}
}
func file(name, data string) ent { return fileMode(name, data, 0o644, 0, 0) }
func fileMode(name, data string, mode int64, uid, gid int) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid, Size: int64(len(data))}, data: data}
}
func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}
func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func whiteout(dir, name string) ent { return file(dir+".wh."+name, "") }
func opaque(dir string) ent         { return file(dir+rootfs.WhiteoutOpaque, "") }

// layerTar writes entries as a tar.
func layerTar(t testing.TB, ents []ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bytesLayer is a layer of the given tar bytes.
func bytesLayer(t testing.TB, name string, data []byte) image.Layer {
	t.Helper()
	l, err := image.Measure(name, func(w io.Writer) error { _, err := w.Write(data); return err })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mkLayers(t testing.TB, layers [][]ent) []image.Layer {
	var out []image.Layer
	for i, ents := range layers {
		out = append(out, bytesLayer(t, fmt.Sprintf("L%d", i), layerTar(t, ents)))
	}
	return out
}

// list describes the entries of a tar, one line each, in order:
// "dir NAME MODE", "file NAME MODE UID:GID =DATA", "link NAME => TARGET",
// "sym NAME -> TARGET".
func list(t testing.TB, data []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		var s string
		switch h.Typeflag {
		case tar.TypeDir:
			s = fmt.Sprintf("dir %s %o", h.Name, h.Mode)
		case tar.TypeReg:
			s = fmt.Sprintf("file %s %o", h.Name, h.Mode)
		case tar.TypeLink:
			s = fmt.Sprintf("link %s => %s", h.Name, h.Linkname)
		case tar.TypeSymlink:
			s = fmt.Sprintf("sym %s -> %s", h.Name, h.Linkname)
		default:
			s = fmt.Sprintf("type %c %s", h.Typeflag, h.Name)
		}
		if h.Uid != 0 || h.Gid != 0 {
			s += fmt.Sprintf(" %d:%d", h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			s += " =" + string(b)
		}
		out = append(out, s)
	}
}

func export(t testing.TB, layers []image.Layer, opts rootfs.Options) ([]byte, rootfs.Stats, error) {
	t.Helper()
	var buf bytes.Buffer
	st, err := rootfs.Export(&buf, layers, opts)
	return buf.Bytes(), st, err
}

func TestExport(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]ent
		want   []string
	}{
		{"one layer", [][]ent{{dir("a/"), file("a/x", "1"), symlink("a/s", "x")}},
			[]string{"dir a/ 755", "file a/x 644 =1", "sym a/s -> x"}},
		{"names absolute or with ./", [][]ent{{dir("/nix/"), dir("./nix/store/"), file("/nix/store/f", "1"), file(".//nix/./g", "2")}},
			[]string{"dir nix/ 755", "dir nix/store/ 755", "file nix/store/f 644 =1", "file nix/g 644 =2"}},
		{"file replaced", [][]ent{{dir("a/"), file("a/x", "1"), file("a/y", "y")}, {file("a/x", "2")}},
			[]string{"dir a/ 755", "file a/y 644 =y", "file a/x 644 =2"}},
		{"file replaced twice in one layer", [][]ent{{file("x", "1"), file("x", "2")}},
			[]string{"file x 644 =2"}},
		{"file deleted", [][]ent{{dir("a/"), file("a/x", "1"), file("a/y", "y")}, {whiteout("a/", "x")}},
			[]string{"dir a/ 755", "file a/y 644 =y"}},
		{"directory deleted", [][]ent{{dir("a/"), dir("a/b/"), file("a/b/c", "c"), file("a/d", "d")}, {whiteout("a/", "b")}},
			[]string{"dir a/ 755", "file a/d 644 =d"}},
		{"whiteout of what is not there", [][]ent{{file("x", "1")}, {whiteout("", "nothing"), whiteout("no/such/", "dir"), whiteout("x/", "y")}},
			[]string{"file x 644 =1"}},
		{"opaque directory", [][]ent{
			{dir("a/"), file("a/x", "1"), dir("a/s/"), file("a/s/t", "t"), file("b", "b")},
			{dirMode("a/", 0o700, 0, 0), opaque("a/"), file("a/n", "n")}},
			[]string{"dir a/ 700", "file b 644 =b", "file a/n 644 =n"}},
		{"opaque directory, marker last", [][]ent{
			{dir("a/"), file("a/x", "1"), dir("a/s/"), file("a/s/t", "t")},
			{dir("a/"), file("a/n", "n"), dir("a/s/"), file("a/s/u", "u"), opaque("a/")}},
			[]string{"dir a/ 755", "dir a/s/ 755", "file a/n 644 =n", "file a/s/u 644 =u"}},
		{"opaque root", [][]ent{{file("x", "1"), dir("d/")}, {opaque(""), file("y", "2")}},
			[]string{"file y 644 =2"}},
		{"re-added under a deleted directory", [][]ent{
			{dir("a/"), file("a/x", "1"), file("a/y", "old")},
			{whiteout("", "a"), dirMode("a/", 0o750, 0, 0), file("a/y", "new")}},
			[]string{"dir a/ 750", "file a/y 644 =new"}},
		{"whiteout after what its layer adds", [][]ent{
			{dir("a/"), file("a/x", "1"), file("a/y", "old"), file("z", "old")},
			{dirMode("a/", 0o750, 0, 0), file("a/y", "new"), file("z", "new"), whiteout("", "a"), whiteout("", "z")}},
			[]string{"dir a/ 750", "file a/y 644 =new", "file z 644 =new"}},
		{"whiteout of a directory its layer sets", [][]ent{
			{dir("a/"), file("a/x", "1")}, {dirMode("a/", 0o700, 0, 0), whiteout("", "a")}},
			[]string{"dir a/ 700"}},
		{"deleted then re-added across three layers", [][]ent{
			{dir("a/"), file("a/x", "1")}, {whiteout("", "a")}, {dir("a/"), file("a/x", "3")}},
			[]string{"dir a/ 755", "file a/x 644 =3"}},
		{"directory replaced by a file", [][]ent{{dir("a/"), file("a/x", "1")}, {file("a", "f")}},
			[]string{"file a 644 =f"}},
		{"file replaced by a directory", [][]ent{{file("a", "f")}, {dir("a/"), file("a/x", "1")}},
			[]string{"dir a/ 755", "file a/x 644 =1"}},
		{"mode and owner changed above", [][]ent{
			{dir("a/"), file("a/f", "data"), file("a/g", "g")},
			{dirMode("a/", 0o700, 1000, 100), fileMode("a/f", "data", 0o4755, 1000, 100)}},
			[]string{"dir a/ 700 1000:100", "file a/g 644 =g", "file a/f 4755 1000:100 =data"}},
		{"missing parents", [][]ent{{file("x/y/z", "1")}},
			[]string{"dir x/ 755", "dir x/y/ 755", "file x/y/z 644 =1"}},
		{"missing parent given later", [][]ent{{file("x/z", "1"), dirMode("x/", 0o711, 0, 0)}},
			[]string{"dir x/ 711", "file x/z 644 =1"}},
		{"empty layers", [][]ent{{}, {file("x", "1")}, {}, {}},
			[]string{"file x 644 =1"}},
		{"no layers at all", nil, nil},
		{"symlinks", [][]ent{
			{symlink("abs", "/etc/passwd"), symlink("up", "../../x"), symlink("gone", "x"), dir("d/")},
			{whiteout("", "gone"), symlink("d2", "d"), file("abs", "now a file")}},
			[]string{"sym up -> ../../x", "dir d/ 755", "sym d2 -> d", "file abs 644 =now a file"}},
		{"hard links kept", [][]ent{{file("f", "data"), hardlink("g", "f"), hardlink("/h", "./f")}},
			[]string{"file f 644 =data", "link g => f", "link h => f"}},
		{"hard link to a lower layer", [][]ent{{dir("d/"), file("d/f", "data")}, {hardlink("g", "d/f")}},
			[]string{"dir d/ 755", "file d/f 644 =data", "link g => d/f"}},
		{"hard link to a file replaced above", [][]ent{{file("f", "old"), hardlink("g", "f")}, {file("f", "new")}},
			[]string{"file g 644 =old", "file f 644 =new"}},
		{"hard link to a file deleted above", [][]ent{{file("f", "old"), hardlink("g", "f"), hardlink("h", "f")}, {whiteout("", "f")}},
			[]string{"file g 644 =old", "link h => g"}},
		{"hard link to a file replaced later in its layer", [][]ent{{file("f", "1"), hardlink("g", "f"), file("f", "2"), hardlink("h", "f")}},
			[]string{"file g 644 =1", "file f 644 =2", "link h => f"}},
		{"hard link to a hard link", [][]ent{{file("f", "1"), hardlink("g", "f")}, {hardlink("h", "g"), whiteout("", "f")}},
			[]string{"file g 644 =1", "link h => g"}},
		{"hard link replaced, target kept", [][]ent{{file("f", "1"), hardlink("g", "f")}, {file("g", "2")}},
			[]string{"file f 644 =1", "file g 644 =2"}},
		{"hard link into a directory deleted above", [][]ent{
			{dir("d/"), file("d/f", "1"), hardlink("g", "d/f")}, {whiteout("", "d")}},
			[]string{"file g 644 =1"}},
		{"hard link whose directory comes after its file", [][]ent{
			{file("f", "1"), dir("d/"), hardlink("d/g", "f")}, {whiteout("", "f")}},
			[]string{"file d/g 644 =1", "dir d/ 755"}},
		{"hard link sets its file's metadata", [][]ent{
			{fileMode("f", "data", 0o755, 0, 0), hardlink("g", "f")},
			{{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "h", Linkname: "g", Mode: 0o600, Uid: 7, Gid: 8}}}},
			[]string{"file f 600 7:8 =data", "link g => f 7:8", "link h => f 7:8"}},
		{"hard link metadata stays with the old file", [][]ent{
			{fileMode("f", "data", 0o755, 0, 0)},
			{{hdr: tar.Header{Typeflag: tar.TypeLink, Name: "g", Linkname: "f", Mode: 0o600, Uid: 7, Gid: 8}}, fileMode("f", "new", 0o755, 0, 0)}},
			[]string{"file g 600 7:8 =data", "file f 755 =new"}},
		{"hard link to a symlink", [][]ent{{symlink("s", "t"), hardlink("h", "s")}},
			[]string{"sym s -> t", "link h => s"}},
		{"AUFS bookkeeping ignored", [][]ent{{dir(".wh..wh.plnk/"), file(".wh..wh.plnk/1.2", "x"), file(".wh..wh.aufs", ""), file("x", "1")}},
			[]string{"file x 644 =1"}},
		{"root entry dropped", [][]ent{{dir("./"), file("x", "1")}, {dirMode("/", 0o700, 0, 0)}},
			[]string{"file x 644 =1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, st, err := export(t, mkLayers(t, tc.layers), rootfs.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := list(t, out)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			if st.Entries != len(tc.want) {
				t.Errorf("Stats.Entries %d, want %d", st.Entries, len(tc.want))
			}
			if len(out)%10240 != 0 {
				t.Errorf("output is %d bytes, not a multiple of 10240", len(out))
			}
		})
	}
}

func TestHostile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		layers [][]ent
		want   string // in the error
	}{
		{"dot-dot climbs out", [][]ent{{file("../etc/passwd", "x")}},
			`layer 1 of 1 (L0): entry "../etc/passwd" climbs out of the root with ".."`},
		{"absolute dot-dot", [][]ent{{file("ok", ""), file("/../../x", "x")}},
			`layer 1 of 1 (L0): entry "/../../x" climbs out of the root`},
		{"inner dot-dot", [][]ent{{dir("a/"), file("a/../../x", "x")}},
			`entry "a/../../x" has a ".." component`},
		{"write through a symlink", [][]ent{{symlink("lib", "/etc")}, {file("lib/passwd", "x")}},
			`layer 2 of 2 (L1): entry "lib/passwd" is written through the symlink "lib": it could climb out of the root`},
		{"write through a symlink of the same layer", [][]ent{{dir("a/"), symlink("a/b", "../../.."), dir("a/b/c/")}},
			`layer 1 of 1 (L0): entry "a/b/c/" is written through the symlink "a/b"`},
		{"whiteout of dot-dot", [][]ent{{file("x", "")}, {file(".wh...", "")}},
			`layer 2 of 2 (L1): entry ".wh..." is a whiteout of "..": it climbs out of the root`},
		{"whiteout of dot-dot in a directory", [][]ent{{dir("a/")}, {file("a/.wh...", "")}},
			`entry "a/.wh..." is a whiteout of ".."`},
		{"whiteout of its directory", [][]ent{{dir("a/")}, {file("a/.wh..", "")}},
			`entry "a/.wh.." is a whiteout of its own directory`},
		{"whiteout through a symlink", [][]ent{{symlink("etc", "/etc")}, {whiteout("etc/", "passwd")}},
			`layer 2 of 2 (L1): entry "etc/.wh.passwd" removes files through the symlink "etc": it could climb out of the root`},
		{"whiteout that climbs", [][]ent{{file("x", "")}, {whiteout("../", "x")}},
			`entry "../.wh.x" climbs out of the root`},
		{"opaque through a symlink", [][]ent{{symlink("etc", "/etc")}, {opaque("etc/")}},
			`entry "etc/.wh..wh..opq" empties its directory through the symlink "etc"`},
		{"hard link that climbs", [][]ent{{hardlink("h", "../../etc/shadow")}},
			`entry "h" is a hard link to "../../etc/shadow", which climbs out of the root`},
		{"hard link through a symlink", [][]ent{{symlink("etc", "/etc")}, {hardlink("h", "etc/shadow")}},
			`entry "h" is a hard link to "etc/shadow", reached through the symlink "etc"`},
		{"hard link to nothing", [][]ent{{file("f", "1")}, {whiteout("", "f"), hardlink("h", "f")}},
			`layer 2 of 2 (L1): entry "h" is a hard link to "f", which is not in the image at that point`},
		{"hard link to a directory", [][]ent{{dir("d/"), hardlink("h", "d")}},
			`entry "h" is a hard link to "d", a directory`},
		{"hard link to the root", [][]ent{{hardlink("h", "/")}},
			`entry "h" is a hard link to "/", the root directory`},
		{"parent is a file", [][]ent{{file("f", "1")}, {file("f/x", "2")}},
			`layer 2 of 2 (L1): entry "f/x" is written below "f", which is not a directory`},
		{"root replaced by a file", [][]ent{{file(".", "")}},
			`entry "." would replace the root directory with a file`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := export(t, mkLayers(t, tc.layers), rootfs.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q has more than one line", err)
			}
			if len(out) != 0 {
				t.Errorf("%d bytes written before the error", len(out))
			}
		})
	}
}

// TestUnsupportedType: an entry type no file has (a GNU volume header)
// is refused, naming it.
func TestUnsupportedType(t *testing.T) {
	data := layerTar(t, []ent{{hdr: tar.Header{Typeflag: 'V', Name: "vol", Format: tar.FormatGNU}}})
	out, _, err := export(t, []image.Layer{bytesLayer(t, "vol.tar", data)}, rootfs.Options{})
	if err == nil || !strings.Contains(err.Error(), `layer 1 of 1 (vol.tar): entry "vol" has a type ('V')`) || len(out) != 0 {
		t.Fatalf("error %v, %d bytes out", err, len(out))
	}
}

// TestBadLayer: a layer whose bytes are not its diffID's fails before
// anything is written.
func TestBadLayer(t *testing.T) {
	data := layerTar(t, []ent{file("x", strings.Repeat("x", 5000))})
	l := bytesLayer(t, "good", data)
	bad := image.Layer{DiffID: digest.FromString("other"), Size: -1, Source: image.Generated("bad.tar",
		func(w io.Writer) error { _, err := w.Write(data); return err }, image.Want{Digest: digest.FromString("other"), Size: -1, By: "its test"})}
	out, _, err := export(t, []image.Layer{l, bad}, rootfs.Options{})
	if err == nil || !strings.Contains(err.Error(), "layer 2 of 2 (bad.tar)") || !strings.Contains(err.Error(), "sha256") || len(out) != 0 {
		t.Fatalf("error %v, %d bytes out", err, len(out))
	}
	trunc := bytesLayer(t, "trunc.tar", data[:2000])
	out, _, err = export(t, []image.Layer{l, trunc}, rootfs.Options{})
	if err == nil || !strings.Contains(err.Error(), "layer 2 of 2 (trunc.tar)") || len(out) != 0 {
		t.Fatalf("error %v, %d bytes out", err, len(out))
	}
}

// TestNormalised: the output depends on the entries, not on the tar
// dialect of the layers; atimes, ctimes and other PAX records are
// dropped, xattrs kept in order, mtimes kept or forced.
func TestNormalised(t *testing.T) {
	mtime := time.Unix(1700000000, 123456789)
	mk := func(format tar.Format, prefix string, extra bool) []image.Layer {
		h := func(e ent) ent {
			e.hdr.Format = format
			e.hdr.Name = prefix + e.hdr.Name
			e.hdr.ModTime = mtime
			e.hdr.Uname, e.hdr.Gname = "root", "wheel"
			if extra {
				e.hdr.AccessTime = time.Unix(1800000000, 0)
				e.hdr.ChangeTime = time.Unix(1800000001, 0)
			}
			if format == tar.FormatPAX {
				e.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.b": "2", "SCHILY.xattr.user.a": "1"}
				if extra {
					e.hdr.PAXRecords["comment"] = "made by a test"
				}
			}
			return e
		}
		long := "d/" + strings.Repeat("long", 40)
		return []image.Layer{bytesLayer(t, "l", layerTar(t, []ent{h(dir("d/")), h(file("d/f", "data")), h(file(long, "l")), h(symlink("s", "d/f"))}))}
	}
	pax1, _, err := export(t, mk(tar.FormatPAX, "", false), rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pax2, _, err := export(t, mk(tar.FormatPAX, "./", true), rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pax1, pax2) {
		t.Errorf("./ names, atimes and other PAX records change the output")
	}
	gnu, _, err := export(t, mk(tar.FormatGNU, "/", true), rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(pax1))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != mtime.Unix() || h.ModTime.Nanosecond() != 0 || !h.AccessTime.IsZero() || h.Uname != "root" || h.Gname != "wheel" {
			t.Errorf("%s: mtime %v atime %v owner %s:%s", h.Name, h.ModTime, h.AccessTime, h.Uname, h.Gname)
		}
		if h.PAXRecords["SCHILY.xattr.user.a"] != "1" || h.PAXRecords["SCHILY.xattr.user.b"] != "2" || h.PAXRecords["comment"] != "" {
			t.Errorf("%s: PAX records %v", h.Name, h.PAXRecords)
		}
	}
	if i := bytes.Index(pax1, []byte("SCHILY.xattr.user.a")); i < 0 || i > bytes.Index(pax1, []byte("SCHILY.xattr.user.b")) {
		t.Errorf("xattrs not in order")
	}
	if g, p := list(t, gnu), list(t, pax1); strings.Join(g, "\n") != strings.Join(p, "\n") {
		t.Errorf("GNU input gives\n%v\nPAX input\n%v", g, p)
	}
	forced, _, err := export(t, mk(tar.FormatGNU, "", false), rootfs.Options{ForceMtime: true, Mtime: 315532800})
	if err != nil {
		t.Fatal(err)
	}
	tr = tar.NewReader(bytes.NewReader(forced))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if h.ModTime.Unix() != 315532800 {
			t.Errorf("%s: mtime %v, want 315532800", h.Name, h.ModTime)
		}
	}
	again, _, _ := export(t, mk(tar.FormatGNU, "", false), rootfs.Options{ForceMtime: true, Mtime: 315532800})
	if !bytes.Equal(forced, again) {
		t.Errorf("two exports of the same layers differ")
	}
}

// TestDevices: device numbers and fifos come through.
func TestDevices(t *testing.T) {
	ls := mkLayers(t, [][]ent{{dir("dev/"),
		{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3}},
		{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/sda", Mode: 0o660, Devmajor: 8, Devminor: 0}},
		{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "dev/fifo", Mode: 0o600}},
	}})
	out, _, err := export(t, ls, rootfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(out))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		got = append(got, fmt.Sprintf("%c %s %o %d,%d", h.Typeflag, h.Name, h.Mode, h.Devmajor, h.Devminor))
	}
	want := "5 dev/ 755 0,0|3 dev/null 666 1,3|4 dev/sda 660 8,0|6 dev/fifo 600 0,0"
	if strings.Join(got, "|") != want {
		t.Errorf("got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestWriteError: a failing output comes back as an *image.WriteError.
func TestWriteError(t *testing.T) {
	ls := mkLayers(t, [][]ent{{file("x", strings.Repeat("x", 5000))}})
	_, err := rootfs.Export(&failWriter{n: 1024}, ls, rootfs.Options{})
	var we *image.WriteError
	if !errors.As(err, &we) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v (%T), want an *image.WriteError", err, err)
	}
}

// TestSparse: a sparse file is refused before anything is written, not
// expanded. testdata/sparse-*.tar hold a 100 GiB file in 10 KiB, made
// with: truncate -s 100G sp; echo hi >> sp;
// tar --sparse --format=gnu (or posix) -cf sparse-gnu.tar (sparse-pax.tar) sp
func TestSparse(t *testing.T) {
	for _, name := range []string{"testdata/sparse-gnu.tar", "testdata/sparse-pax.tar"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		w := &failWriter{n: 1 << 20}
		_, err = rootfs.Export(w, []image.Layer{bytesLayer(t, name, data)}, rootfs.Options{})
		if err == nil || !strings.Contains(err.Error(), `entry "sp" is a sparse file`) || w.n != 1<<20 {
			t.Errorf("%s: error %v, %d bytes out", name, err, 1<<20-w.n)
		}
	}
}
