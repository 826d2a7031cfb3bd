package layer_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/go-dockertools/dockertools/lib/testutil"
	"github.com/opencontainers/go-digest"
)

// edgeStore builds a store directory whose paths hold every case the
// layer rules name, and returns the store directory and its paths.
func edgeStore(t *testing.T) (string, []string) {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	p1 := filepath.Join(store, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-edge-1.0")
	p2 := filepath.Join(store, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-link-to-edge")
	p3 := filepath.Join(store, "cccccccccccccccccccccccccccccccc-single.txt")
	p4 := filepath.Join(store, "dddddddddddddddddddddddddddddddd-other")
	file := func(rel string, data []byte, mode os.FileMode) {
		p := filepath.Join(p1, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Chmod(p, uint32(mode)); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	file("bin/prog", []byte("#!/bin/sh\necho hi\n"), 0o555)
	file("bin/setuid", []byte("x"), 0o4755)
	file("b/c", []byte("component sort\n"), 0o444)
	file("b-c", []byte("byte sort\n"), 0o444)
	file("b.c", []byte("dot\n"), 0o444)
	file("share/"+strings.Repeat("n", 150), []byte("long name\n"), 0o444)
	file("share/"+strings.Repeat("m", 255), []byte("255-byte name\n"), 0o444)
	file("share/ünïcødé-ñame", []byte("unicode\n"), 0o444)
	file("share/bad-\xff-utf8", []byte("invalid utf-8\n"), 0o444)
	// Python orders undecodable bytes as U+DC80..U+DCFF: before U+E000
	// and astral characters, unlike byte order.
	file("order/\xff", []byte("1"), 0o444)
	file("order/\xee\x80\x80", []byte("2"), 0o444) // U+E000
	file("order/\xf5", []byte("3"), 0o444)
	file("order/\xf0\x9d\x84\x9e", []byte("4"), 0o444) // U+1D11E
	file("order/with space", []byte("5"), 0o444)
	file("order/with\nnewline", []byte("6"), 0o444)
	file("order/.hidden", []byte("7"), 0o444)
	file("data/exactly-512", bytes.Repeat([]byte("z"), 512), 0o444)
	file("data/empty", nil, 0o444)
	big := make([]byte, 1<<20+1)
	rand.New(rand.NewSource(1)).Read(big)
	file("data/big.bin", big, 0o444)
	deep := "deep"
	for i := 0; i < 40; i++ {
		deep += fmt.Sprintf("/d%d", i)
	}
	file(deep+"/leaf", []byte("deep\n"), 0o444)
	must(os.MkdirAll(filepath.Join(p1, "empty-dir"), 0o755))
	must(os.MkdirAll(filepath.Join(p1, "sticky"), 0o755))
	must(syscall.Chmod(filepath.Join(p1, "sticky"), 0o1777))
	must(os.MkdirAll(filepath.Join(p1, "setgid"), 0o755))
	must(syscall.Chmod(filepath.Join(p1, "setgid"), 0o2755))
	must(os.Symlink("../share", filepath.Join(p1, "bin/share-link")))         // symlinked dir: not descended
	must(os.Symlink("does-not-exist", filepath.Join(p1, "bin/dangling")))     // dangling
	must(os.Symlink(strings.Repeat("../", 40)+"x", filepath.Join(p1, "lnk"))) // long target
	must(os.Symlink("ziel-ü", filepath.Join(p1, "lnk-unicode")))
	must(os.Link(filepath.Join(p1, "bin/prog"), filepath.Join(p1, "bin/prog-hardlink")))
	must(os.MkdirAll(p4, 0o755))
	must(os.Link(filepath.Join(p1, "data/big.bin"), filepath.Join(p4, "big-again.bin"))) // across paths
	must(os.Symlink(p1, p2))
	must(os.WriteFile(p3, []byte("a store path that is a single file\n"), 0o444))
	return store, []string{p1, p2, p3, p4}
}

// oracle writes the layer the way stream_layered_image.py does, with
// CPython's tarfile: our reading of that script, kept independent of the
// Go code. Its first entries are /nix and /nix/store whatever the store.
//
// With "perms", it applies nix2container's permission rules as the
// layer package documents them: a rule covers the entries at or below its
// path whose name its regex finds (re.search), and sets what it gives.
const oracle = `
import itertools, json, os, pathlib, re, sys, tarfile
c = json.load(sys.stdin)
def norm(ti):
    ti.mtime, ti.uid, ti.gid, ti.uname, ti.gname = c["mtime"], c["uid"], c["gid"], c["uname"], c["gname"]
    for r in c.get("perms") or []:
        base = os.path.normpath(r["path"])
        if base != "/" and ti.name != base and not ti.name.startswith(base + "/"):
            continue
        if r.get("regex") and not re.search(r["regex"], ti.name):
            continue
        if r.get("mode"):
            ti.mode = int(r["mode"], 8)
        for k in ("uid", "gid"):
            if k in r:
                setattr(ti, k, r[k])
        for k in ("uname", "gname"):
            if r.get(k):
                setattr(ti, k, r[k])
    return ti
with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as t:
    for d in ("/nix", "/nix/store"):
        ti = tarfile.TarInfo(d)
        ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        t.addfile(norm(ti))
    for p in map(pathlib.Path, c["paths"]):
        members = [p] if p.is_symlink() else itertools.chain([p], p.rglob("*"))
        for f in sorted(members):
            ti = t.gettarinfo(f)
            ti.name = "/" + ti.name
            if ti.islnk():
                ti.type, ti.linkname, ti.size = tarfile.REGTYPE, "", f.stat().st_size
            norm(ti)
            if ti.isfile():
                with open(f, "rb") as fh:
                    t.addfile(ti, fh)
            else:
                t.addfile(ti)
`

func pythonLayer(t *testing.T, paths []string, o layer.Options) []byte {
	t.Helper()
	py := testutil.Need(t, "python3")[0]
	in, _ := json.Marshal(map[string]any{
		"paths": paths, "mtime": o.Mtime, "uid": o.Uid, "gid": o.Gid, "uname": o.Uname, "gname": o.Gname, "perms": o.Perms,
	})
	cmd := exec.Command(py, "-c", oracle)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	return out
}

func goLayer(t *testing.T, paths []string, o layer.Options) ([]byte, layer.Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := layer.WriteStorePaths(&buf, paths, o)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), res
}

func TestMatchesNixpkgsLayers(t *testing.T) {
	store, paths := edgeStore(t)
	for _, tc := range []struct {
		name string
		edit func(*layer.Options)
	}{
		{"defaults", func(*layer.Options) {}},
		{"other owner and time", func(o *layer.Options) {
			o.Uid, o.Gid, o.Uname, o.Gname, o.Mtime = 1000, 100, "user", "users", 1000000000
		}},
		{"owner names that need PAX", func(o *layer.Options) {
			o.Uid, o.Uname, o.Gname, o.Mtime = 3000000, strings.Repeat("u", 40), "grüppe", -1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := layer.Defaults()
			o.StoreDir = store
			o.Leading = []string{"/nix", "/nix/store"}
			o.TarSum = true
			tc.edit(&o)
			for _, list := range [][]string{paths, {paths[2], paths[0]}, {paths[1]}, {paths[0], paths[0]}} {
				got, res := goLayer(t, list, o)
				want := pythonLayer(t, list, o)
				if !bytes.Equal(got, want) {
					t.Fatalf("paths %v: layer differs from the Python reference at byte %d (%d vs %d bytes)",
						list, firstDiff(got, want), len(got), len(want))
				}
				checkResult(t, got, res)
			}
		})
	}
}

// checkResult checks the digests computed while writing against the bytes.
func checkResult(t *testing.T, data []byte, res layer.Result) {
	t.Helper()
	if want := digest.FromBytes(data); res.DiffID != want {
		t.Errorf("diffID %s, want %s", res.DiffID, want)
	}
	if res.Size != int64(len(data)) {
		t.Errorf("size %d, want %d", res.Size, len(data))
	}
	if res.TarSum != "" {
		want, err := tarsum.Archive(bytes.NewReader(data), tarsum.Version1, "sha256", nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.TarSum != want {
			t.Errorf("TarSum while writing %s, TarSum of the bytes %s", res.TarSum, want)
		}
	}
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// TestIndependentOfImpurities changes everything a layer must not depend
// on and expects the same bytes.
func TestIndependentOfImpurities(t *testing.T) {
	store, paths := edgeStore(t)
	o := layer.Defaults()
	o.StoreDir = store
	o.TarSum = true
	before, _ := goLayer(t, paths, o)

	rnd := rand.New(rand.NewSource(7))
	extra := t.TempDir()
	n := 0
	filepath.Walk(store, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			ts := rnd.Int63n(1 << 31)
			os.Chtimes(p, time(ts), time(ts))
			if os.Geteuid() == 0 {
				var st syscall.Stat_t
				syscall.Lstat(p, &st)
				os.Lchown(p, rnd.Intn(5000), rnd.Intn(5000))
				syscall.Chmod(p, st.Mode&0o7777) // chown clears setuid: keep the mode
			}
			if fi.Mode().IsRegular() {
				n++
				os.Link(p, filepath.Join(extra, fmt.Sprint(n))) // more hard links
			}
		}
		return nil
	})
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	t.Setenv("LANG", "tr_TR.UTF-8")
	t.Setenv("LC_ALL", "C")
	t.Setenv("TZ", "Pacific/Kiritimati")

	after, _ := goLayer(t, paths, o)
	if !bytes.Equal(before, after) {
		t.Fatalf("layer changed with owners, times, link counts, umask, GOMAXPROCS or locale (first difference at %d)", firstDiff(before, after))
	}
}

func TestStoreElsewhere(t *testing.T) {
	store, paths := edgeStore(t)
	o := layer.Defaults()
	o.StoreDir = store
	got, _ := goLayer(t, paths[2:3], o)
	// The store directory's ancestors come first, each once.
	var dirs []string
	for d := store; d != "/"; d = filepath.Dir(d) {
		dirs = append([]string{d + "/"}, dirs...)
	}
	names := memberNames(t, got)
	if len(names) != len(dirs)+1 || strings.Join(names[:len(dirs)], "\n") != strings.Join(dirs, "\n") {
		t.Fatalf("members %q, want the store's ancestors %q then the path", names, dirs)
	}
}

func memberNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	for _, h := range readHeaders(t, data) {
		names = append(names, h.Name)
	}
	return names
}

func TestRoot(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // must not reach the image's "/"
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0::/:/bin/sh\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "tmp"), 0o755)
	syscall.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	os.Symlink("/nix/store/x-app/bin/app", filepath.Join(dir, "app"))
	o := layer.Defaults()
	o.Mtime = 315532800
	var buf bytes.Buffer
	res, err := layer.WriteRoot(&buf, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, buf.Bytes(), res)
	hs := readHeaders(t, buf.Bytes())
	want := []struct {
		name string
		mode int64
	}{{"/app", 0o777}, {"/etc/", 0o755}, {"/etc/passwd", 0o644}, {"/tmp/", 0o1777}}
	if len(hs) != len(want) {
		t.Fatalf("members %v, want %v", memberNames(t, buf.Bytes()), want)
	}
	for i, w := range want {
		h := hs[i]
		if h.Name != w.name || h.Mode != w.mode || h.ModTime.Unix() != 315532800 || h.Uid != 0 || h.Uname != "root" {
			t.Errorf("member %d: %s mode %o mtime %d uid %d uname %q; want %s mode %o", i, h.Name, h.Mode, h.ModTime.Unix(), h.Uid, h.Uname, w.name, w.mode)
		}
	}
}

func TestBadInput(t *testing.T) {
	store, paths := edgeStore(t)
	p1 := paths[0]
	special := func(name string, mk func(string) error) string {
		dir := filepath.Join(store, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-"+name)
		os.MkdirAll(dir, 0o755)
		if err := mk(filepath.Join(dir, "x")); err != nil {
			t.Fatalf("making a %s: %v", name, err)
		}
		return dir
	}
	fifo := special("fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) })
	sock := special("socket", func(p string) error {
		l, err := net.Listen("unix", p)
		if err == nil {
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}
		return err
	})
	cases := []struct {
		name  string
		paths []string
		want  string
	}{
		{"missing", []string{filepath.Join(store, "ffffffffffffffffffffffffffffffff-gone")}, "no such file"},
		{"outside the store", []string{"/etc/passwd"}, "not in the store directory"},
		{"subpath", []string{p1 + "/bin"}, "not a store path itself"},
		{"dot-dot", []string{store + "/../store/x"}, `contains ".."`},
		{"relative", []string{"store/x"}, "not an absolute path"},
		{"empty", []string{""}, "empty store path"},
		{"fifo inside", []string{fifo}, "is a fifo"},
		{"socket inside", []string{sock}, "is a socket"},
	}
	if os.Geteuid() == 0 {
		dev := special("device", func(p string) error { return syscall.Mknod(p, syscall.S_IFCHR|0o644, 1<<8|3) })
		cases = append(cases, struct {
			name  string
			paths []string
			want  string
		}{"device inside", []string{dev}, "is a character device"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := layer.Defaults()
			o.StoreDir = store
			var buf bytes.Buffer
			_, err := layer.WriteStorePaths(&buf, tc.paths, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, syscall.EPIPE
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteErrorIsMarked(t *testing.T) {
	store, paths := edgeStore(t)
	o := layer.Defaults()
	o.StoreDir = store
	_, err := layer.WriteStorePaths(&failingWriter{after: 1 << 20}, paths, o)
	var we *layer.WriteError
	if !errors.As(err, &we) || !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("error %v, want a *layer.WriteError wrapping EPIPE", err)
	}
}

// TestConformance reproduces the diffIDs, sizes and TarSums of the layers
// of testdata/conformance/README.md, then again after the fixture's owners
// and times changed and more hard links appeared.
func TestConformance(t *testing.T) {
	testutil.ConformanceFixture(t)
	type want struct {
		paths          []string
		diffID, tarsum string
		size           int64
	}
	u := func(o *layer.Options) {
		o.Uid, o.Gid, o.Uname, o.Gname, o.Mtime = 1000, 100, "user", "users", 1000000000
	}
	cases := []struct {
		want
		opts func(*layer.Options)
	}{
		{want{[]string{testutil.Libc}, "d5a5363a4f9124f1271ab1247c7278352a8b8b148f900c60408253c58be9eac4", "6bff9fc6457c0b09293f66f7b245db30ad176a2dcf0fdde6811fbd1f31d0dd45", 30720}, nil},
		{want{[]string{testutil.Libfoo}, "7cbc8bdbc4c17bd9ad8009aa0bf0810eb1862faa389ba3c1db5454ed02a5111a", "9cbabba87f8fc2bba3243f57459a9969f12c83ea715bfa7e936ec33d874f8126", 30720}, nil},
		{want{[]string{testutil.Data}, "080780f18ab3e58ef14c7d45aa8909a4081b82495ce262fb9dc5291b035aabff", "0d99850e979691de42671952e93fe33b14833f16126366495fa2b09da7a45d6b", 3153920}, nil},
		{want{[]string{testutil.Single, testutil.App, testutil.Link}, "4e5f57a5581304b80d5f87669e7b5a2559d45ebc43e4f4c12f30c58d8ce3404d", "13bc3b00d181887db2de47955201c6936eae16d50d7813e0996e5b3e974e1c30", 61440}, nil},
		{want{[]string{testutil.App}, "5ba6bc179939637cdc61456b724d34e8bef466bfe9279d10554b119c5c27a694", "41a5bcc73dd07dd9d21ad97c933bc6838e67989013d8f46f309291b3e2cdc63c", 61440}, u},
		{want{[]string{testutil.Link, testutil.Single}, "8c3fe7b3641776d10ea2f52cbfded3499a8b0bf74e4ce120754c361cfa57a234", "89a47a1d0db5eb58a0bfd057589c61e2c7f0982d7d99b789c69b371507398051", 10240}, u},
	}
	check := func(t *testing.T) {
		for _, c := range cases {
			o := layer.Defaults()
			o.TarSum = true
			if c.opts != nil {
				c.opts(&o)
			}
			h := sha256.New()
			res, err := layer.WriteStorePaths(h, c.paths, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.DiffID.Encoded() != c.diffID || res.Size != c.size || res.TarSum != "tarsum.v1+sha256:"+c.tarsum {
				t.Errorf("%v: diffID %s size %d %s; want %s %d %s", c.paths, res.DiffID, res.Size, res.TarSum, c.diffID, c.size, c.tarsum)
			}
			if fmt.Sprintf("%x", h.Sum(nil)) != c.diffID {
				t.Errorf("%v: bytes written do not hash to the diffID", c.paths)
			}
		}
	}
	t.Run("as created", check)
	t.Run("after new owners, times and hard links", func(t *testing.T) {
		restore := testutil.Reimpurify(t)
		defer restore()
		check(t)
	})
}

// TestRootWithStoreDirectories: a root that has /nix of its own (a Nix
// database in /nix/var, say) and store paths in the same layer: /nix/
// comes once, the root's (Docker refuses a layer with a path twice), and
// /nix/store/ is written as for any layer.
func TestRootWithStoreDirectories(t *testing.T) {
	store, paths := modelStore(t)
	root := t.TempDir()
	leading := []string{filepath.Dir(store), store}
	if err := os.MkdirAll(filepath.Join(root, leading[0], "var", "db"), 0o750); err != nil {
		t.Fatal(err)
	}
	o := layer.Defaults()
	o.StoreDir = store
	o.Leading = leading
	var buf bytes.Buffer
	if _, err := layer.Write(&buf, root, paths, o); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, h := range readHeaders(t, buf.Bytes()) {
		seen[h.Name]++
		if seen[h.Name] > 1 {
			t.Errorf("%s twice in the layer", h.Name)
		}
		if h.Name == leading[0]+"/" && h.Mode != 0o750 {
			t.Errorf("%s: mode %o, want the root's 0750", h.Name, h.Mode)
		}
	}
	for _, d := range append(leading, paths[0]) {
		if seen[d+"/"] != 1 {
			t.Errorf("%s/: %d entries, want 1", d, seen[d+"/"])
		}
	}

	// A root whose /nix is not a directory cannot hold the store paths.
	file := t.TempDir()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(file, leading[0])), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(file, leading[0]), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := layer.Write(io.Discard, file, paths, o); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a root whose %s is a file: %v", leading[0], err)
	}
}
