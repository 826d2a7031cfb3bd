package pytar_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// cases covers each rule of the format: which fields go to PAX, how the
// ustar fields look then, directories, devices, numbers out of range.
var cases = []pytar.Header{
	{Name: "/nix/", Mode: 0o755, Mtime: 1, Typeflag: pytar.TypeDir, Uname: "root", Gname: "root"},
	{Name: "/nix/store/x/file", Mode: 0o100444, Size: 5, Mtime: 1, Typeflag: pytar.TypeReg, Uname: "root", Gname: "root"},
	{Name: "/dir-without-slash", Mode: 0o555, Typeflag: pytar.TypeDir},
	{Name: "/" + strings.Repeat("n", 99), Mode: 0o644, Size: 512, Typeflag: pytar.TypeReg},  // exactly 100 bytes: no PAX
	{Name: "/" + strings.Repeat("n", 100), Mode: 0o644, Size: 513, Typeflag: pytar.TypeReg}, // 101: PAX path
	{Name: "/" + strings.Repeat("d", 99), Mode: 0o755, Typeflag: pytar.TypeDir},             // 100 + "/": PAX path
	{Name: "/ünïcødé-ñame", Mode: 0o644, Size: 8, Typeflag: pytar.TypeReg},                  // non-ASCII: PAX path, "?" in ustar
	{Name: "/bad-\xff\xfe-utf8", Mode: 0o644, Size: 1, Typeflag: pytar.TypeReg},             // not UTF-8: hdrcharset=BINARY
	{Name: "/mixed-é-\xe2\x82", Mode: 0o644, Typeflag: pytar.TypeReg},                       // valid then truncated sequence
	{Name: "/link", Mode: 0o777, Typeflag: pytar.TypeSymlink, Linkname: strings.Repeat("../", 12) + strings.Repeat("x", 110)},
	{Name: "/link2", Mode: 0o777, Typeflag: pytar.TypeSymlink, Linkname: "ziel-ü"},
	{Name: "/owner", Mode: 0o4755, Size: 3, Typeflag: pytar.TypeReg, Uid: 2097151, Gid: 2097152, Uname: strings.Repeat("u", 33), Gname: "grüppe"},
	{Name: "/old", Mode: 0o1777, Typeflag: pytar.TypeDir, Mtime: -5},
	{Name: "/future", Mode: 0o644, Typeflag: pytar.TypeReg, Mtime: 8589934592},
	{Name: "/dev/null", Mode: 0o666, Typeflag: pytar.TypeChar, Devmajor: 1, Devminor: 3},
	{Name: "/fifo", Mode: 0o644, Typeflag: pytar.TypeFifo},
	{Name: "/carried", Mode: 0o644, Size: 2, Typeflag: pytar.TypeReg, Mtime: 7,
		PAX: []pytar.Record{{Key: "mtime", Value: "7.25"}, {Key: "comment", Value: "kept"}}},
	// A record whose length field crosses from two to three digits.
	{Name: "/" + strings.Repeat("p", 89), Mode: 0o644, Typeflag: pytar.TypeReg, Uname: strings.Repeat("q", 40)},
}

func content(h pytar.Header) []byte {
	b := make([]byte, h.Size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func write(t *testing.T, hs []pytar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := pytar.NewWriter(&buf)
	for i := range hs {
		if err := tw.WriteHeader(&hs[i]); err != nil {
			t.Fatal(err)
		}
		if hs[i].Typeflag == pytar.TypeReg {
			if _, err := tw.Write(content(hs[i])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oracle writes the same members with CPython's tarfile (PAX format, utf-8
// with surrogateescape, the settings of tarfile.open(mode="w|")).
const oracle = `
import base64, io, json, sys, tarfile
d = lambda s: base64.b64decode(s).decode("utf-8", "surrogateescape")
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w|") as t:
    for h in json.load(sys.stdin):
        ti = tarfile.TarInfo(d(h["name"]))
        ti.mode, ti.uid, ti.gid, ti.size = h["mode"], h["uid"], h["gid"], h["size"]
        ti.mtime, ti.type, ti.linkname = h["mtime"], h["type"].encode(), d(h["link"])
        ti.uname, ti.gname = d(h["uname"]), d(h["gname"])
        ti.devmajor, ti.devminor = h["major"], h["minor"]
        for k, v in h["pax"]:
            ti.pax_headers[k] = v
        if "mtime" in ti.pax_headers:
            ti.mtime = float(ti.pax_headers["mtime"])
        data = bytes(ord("a") + i % 26 for i in range(h["size"])) if h["type"] == "0" else None
        t.addfile(ti, io.BytesIO(data) if data is not None else None)
sys.stdout.buffer.write(out.getvalue())
`

func TestMatchesCPythonTarfile(t *testing.T) {
	py := testutil.Need(t, "python3")[0]
	type spec struct {
		Name, Link, Uname, Gname string
		Mode, Uid, Gid, Size     int64
		Mtime                    int64
		Type                     string
		Major, Minor             int64
		Pax                      [][2]string
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	var specs []map[string]any
	for _, h := range cases {
		pax := [][2]string{}
		for _, r := range h.PAX {
			pax = append(pax, [2]string{r.Key, r.Value})
		}
		specs = append(specs, map[string]any{
			"name": b64(h.Name), "link": b64(h.Linkname), "uname": b64(h.Uname), "gname": b64(h.Gname),
			"mode": h.Mode, "uid": h.Uid, "gid": h.Gid, "size": h.Size, "mtime": h.Mtime,
			"type": string(h.Typeflag), "major": h.Devmajor, "minor": h.Devminor, "pax": pax,
		})
	}
	in, _ := json.Marshal(specs)
	cmd := exec.Command(py, "-c", oracle)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	got := write(t, cases)
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ from CPython tarfile:\n%s", firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := i / pytar.BlockSize * pytar.BlockSize
	hi := func(b []byte) []byte {
		end := lo + pytar.BlockSize
		if end > len(b) {
			end = len(b)
		}
		if lo > len(b) {
			return nil
		}
		return b[lo:end]
	}
	return "first difference at byte " + itoa(i) + " (lengths " + itoa(len(got)) + ", " + itoa(len(want)) + ")\ngot:\n" +
		hex.Dump(hi(got)) + "want:\n" + hex.Dump(hi(want))
}

func itoa(i int) string { return jsonNum(i) }

func jsonNum(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestHeaderFields checks fields no oracle is needed for.
func TestHeaderFields(t *testing.T) {
	h := pytar.Header{Name: "/a", Mode: 0o100755, Size: 1, Mtime: 1, Typeflag: pytar.TypeReg, Uname: "root", Gname: "root"}
	b, err := h.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != pytar.BlockSize {
		t.Fatalf("plain header is %d bytes, want one block", len(b))
	}
	for _, f := range []struct {
		name     string
		from, to int
		want     string
	}{
		{"name", 0, 3, "/a\x00"},
		{"mode", 100, 108, "0000755\x00"},
		{"uid", 108, 116, "0000000\x00"},
		{"size", 124, 136, "00000000001\x00"},
		{"mtime", 136, 148, "00000000001\x00"},
		{"checksum end", 154, 156, "\x00 "},
		{"type", 156, 157, "0"},
		{"magic", 257, 265, "ustar\x0000"},
		{"uname", 265, 270, "root\x00"},
		{"devmajor", 329, 337, "\x00\x00\x00\x00\x00\x00\x00\x00"},
	} {
		if got := string(b[f.from:f.to]); got != f.want {
			t.Errorf("%s = %q, want %q", f.name, got, f.want)
		}
	}
}

func TestArchivePadding(t *testing.T) {
	for _, n := range []int{0, 1, 17, 18, 40} {
		hs := make([]pytar.Header, n)
		for i := range hs {
			hs[i] = pytar.Header{Name: "/f", Typeflag: pytar.TypeReg, Size: 100}
		}
		got := write(t, hs)
		if len(got)%pytar.RecordSize != 0 {
			t.Errorf("%d members: %d bytes, not a multiple of %d", n, len(got), pytar.RecordSize)
		}
		// Two zero blocks at least end the archive.
		if end := got[len(got)-2*pytar.BlockSize:]; !bytes.Equal(end, make([]byte, len(end))) {
			t.Errorf("%d members: no end-of-archive blocks", n)
		}
	}
}

func TestWriterRejectsWrongSizes(t *testing.T) {
	var buf bytes.Buffer
	tw := pytar.NewWriter(&buf)
	if err := tw.WriteHeader(&pytar.Header{Name: "/f", Typeflag: pytar.TypeReg, Size: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("abc")); err == nil {
		t.Fatal("writing 3 bytes into a 2-byte member succeeded")
	}
	tw = pytar.NewWriter(&buf)
	tw.WriteHeader(&pytar.Header{Name: "/f", Typeflag: pytar.TypeReg, Size: 2})
	tw.Write([]byte("a"))
	if err := tw.Close(); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("closing with a short member: %v, want a missing-data error", err)
	}
}
