package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// bin is the path-to-layer command, built by TestMain: the tests run it
// as users do and look at its exit code, stdout, stderr and files.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "path-to-layer") }))
}

// Store path names of the test store.
const (
	appName  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0"
	libName  = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib-2.0"
	linkName = "cccccccccccccccccccccccccccccccc-app-link"
	fileName = "dddddddddddddddddddddddddddddddd-single-file"
)

// workspace is a directory readable by everyone (so the tool can run as
// nobody) holding a store of four paths: a program with a tree, a symlink
// and a hard link; a library with a file larger than a pipe buffer; a
// store path that is a symlink; a store path that is a file.
type workspace struct {
	dir, store string
	app, lib   string
	link, file string
}

func newWorkspace(t *testing.T) *workspace {
	t.Helper()
	dir, err := os.MkdirTemp("", "path-to-layer-test-")
	must(t, err)
	t.Cleanup(func() {
		filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o755) // so that RemoveAll can go in
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	must(t, os.Chmod(dir, 0o755))
	w := &workspace{dir: dir, store: filepath.Join(dir, "store")}
	w.app, w.lib = filepath.Join(w.store, appName), filepath.Join(w.store, libName)
	w.link, w.file = filepath.Join(w.store, linkName), filepath.Join(w.store, fileName)
	write(t, w.app+"/bin/prog", []byte("#!/bin/sh\necho prog\n"), 0o555)
	write(t, w.app+"/share/doc/README", []byte("read me\n"), 0o444)
	write(t, w.app+"/share/doc/a-b", []byte("sorted after a/b\n"), 0o444)
	write(t, w.app+"/share/doc/a/b", []byte("sorted before a-b\n"), 0o444)
	must(t, os.Symlink("../share/doc/README", w.app+"/bin/readme"))
	must(t, os.Link(w.app+"/bin/prog", w.app+"/bin/prog-again"))
	big := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	write(t, w.lib+"/lib/libbig.so", big, 0o444)
	must(t, os.Symlink(appName, w.link))
	write(t, w.file, []byte("a single file\n"), 0o444)
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write writes a file and its directories, readable by everyone.
func write(t *testing.T, p string, data []byte, mode os.FileMode) string {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, data, 0o644))
	must(t, os.Chmod(p, mode))
	return p
}

// expected is the layer the library writes for the same input.
func expected(t *testing.T, root string, paths []string, o layer.Options) []byte {
	t.Helper()
	var b bytes.Buffer
	_, err := layer.Write(&b, root, paths, o)
	must(t, err)
	return b.Bytes()
}

func (w *workspace) opts() layer.Options {
	o := layer.Defaults()
	o.StoreDir = w.store
	return o
}

// tree lists every file below dir with its type and size: what a run
// must leave unchanged when it fails.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			lines = append(lines, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// invocation is one run of path-to-layer.
type invocation struct {
	dir    string
	args   []string
	stdin  []byte
	env    []string
	stdout *os.File // nil: captured
	nobody bool     // as uid/gid 65534, no groups
}

type result struct {
	code           int
	stdout, stderr string
}

func (r invocation) do(t *testing.T) result {
	t.Helper()
	name, args := bin, r.args
	if r.nobody {
		setpriv := testutil.Need(t, "setpriv")[0]
		name, args = setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", bin}, args...)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), r.env...)
	if r.stdin != nil {
		cmd.Stdin = bytes.NewReader(r.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if r.stdout != nil {
		cmd.Stdout = r.stdout
	}
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("path-to-layer %s: %v", strings.Join(r.args, " "), err)
	}
	return result{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

// ok runs path-to-layer, which must succeed silently (-q or not).
func ok(t *testing.T, dir string, stdin []byte, env []string, args ...string) string {
	t.Helper()
	r := invocation{dir: dir, args: args, stdin: stdin, env: env}.do(t)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("path-to-layer %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// descriptorOf parses a descriptor line and checks it against the layer
// bytes and the keys it must have, exactly.
func descriptorOf(t *testing.T, line string, tarBytes []byte, keys ...string) map[string]json.RawMessage {
	t.Helper()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
		t.Fatalf("descriptor %q is not one line", line)
	}
	var d map[string]json.RawMessage
	must(t, json.Unmarshal([]byte(line), &d))
	var got []string
	for k := range d {
		got = append(got, k)
	}
	sort.Strings(got)
	// Every descriptor records the options that shaped its bytes.
	keys = append(keys, "mtime", "uid", "gid", "uname", "gname", "storeDir")
	sort.Strings(keys)
	if !reflect.DeepEqual(got, keys) {
		t.Errorf("descriptor keys %q, want %q", got, keys)
	}
	if want := `"sha256:` + sha256Hex(tarBytes) + `"`; string(d["diffID"]) != want {
		t.Errorf("diffID %s, want %s", d["diffID"], want)
	}
	if want := fmt.Sprint(len(tarBytes)); string(d["size"]) != want {
		t.Errorf("size %s, want %s", d["size"], want)
	}
	if ts, ok := d["tarsum"]; ok {
		want, err := tarsum.Archive(bytes.NewReader(tarBytes), tarsum.Version1, "sha256", nil)
		must(t, err)
		if string(ts) != `"`+want+`"` {
			t.Errorf("tarsum %s, want %s", ts, want)
		}
	}
	return d
}

func quote(ss ...string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

// TestLayerAndDescriptor: -o FILE writes the layer the library writes and
// prints its descriptor with exactly the keys DESIGN.md names (and the
// options that shaped the bytes); without -o
// the tar goes to stdout and --descriptor FILE gets the descriptor.
func TestLayerAndDescriptor(t *testing.T) {
	w := newWorkspace(t)
	paths := []string{w.app, w.lib, w.link, w.file}
	want := expected(t, "", paths, w.opts())

	out := ok(t, w.dir, nil, nil, append([]string{"--store-dir", w.store, "-o", "out.tar"}, paths...)...)
	got, err := os.ReadFile(filepath.Join(w.dir, "out.tar"))
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("out.tar (%d bytes) differs from the library's layer (%d bytes)", len(got), len(want))
	}
	d := descriptorOf(t, out, got, "file", "diffID", "size", "paths")
	if string(d["file"]) != `"out.tar"` || string(d["paths"]) != quote(paths...) {
		t.Errorf("descriptor %s", out)
	}

	must(t, os.Mkdir(filepath.Join(w.dir, "layers"), 0o755))
	out = ok(t, w.dir, nil, nil, "--store-dir", w.store, "--index", "3", "--tarsum", "-o", "layers/3.tar", w.app)
	got, err = os.ReadFile(filepath.Join(w.dir, "layers/3.tar"))
	must(t, err)
	if !bytes.Equal(got, expected(t, "", []string{w.app}, w.opts())) {
		t.Error("layers/3.tar differs from the library's layer")
	}
	d = descriptorOf(t, out, got, "index", "file", "diffID", "size", "tarsum", "paths")
	if string(d["index"]) != "3" || string(d["file"]) != `"layers/3.tar"` {
		t.Errorf("descriptor %s", out)
	}

	// The tar on stdout, the descriptor in a file.
	stdout := ok(t, w.dir, nil, nil, "--store-dir", w.store, "--descriptor", "d.json", "--tarsum", w.app, w.lib)
	if want := expected(t, "", []string{w.app, w.lib}, w.opts()); stdout != string(want) {
		t.Fatalf("stdout (%d bytes) is not the layer (%d bytes)", len(stdout), len(want))
	}
	js, err := os.ReadFile(filepath.Join(w.dir, "d.json"))
	must(t, err)
	descriptorOf(t, string(js), []byte(stdout), "diffID", "size", "tarsum", "paths")

	// "-o -" is stdout too.
	if stdout2 := ok(t, w.dir, nil, nil, "--store-dir", w.store, "-o", "-", "--descriptor", "d2.json", w.app, w.lib); stdout2 != stdout {
		t.Error("-o - differs from stdout")
	}
	// Nothing else is left in the directory.
	ents, _ := os.ReadDir(w.dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"d.json", "d2.json", "layers", "out.tar", "store"}; !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %q, want %q", names, want)
	}
}

// TestPathSources: store paths given as arguments, in a --from file
// (lines, a plan line of several, a JSON array), on stdin with --from -
// or a lone "-", give the same layer.
func TestPathSources(t *testing.T) {
	w := newWorkspace(t)
	paths := []string{w.app, w.lib, w.file}
	want := string(expected(t, "", paths, w.opts()))
	lines := "\n" + w.app + "\r\n\t" + w.lib + "  " + w.file + "\n\n"
	write(t, filepath.Join(w.dir, "plan.txt"), []byte(lines), 0o644)
	write(t, filepath.Join(w.dir, "plan.json"), []byte(" "+quote(paths...)+"\n"), 0o644)
	s := "--store-dir=" + w.store
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"arguments", "", []string{s, w.app, w.lib, w.file}},
		{"--from lines", "", []string{s, "--from", "plan.txt"}},
		{"--from JSON", "", []string{s, "--from", "plan.json"}},
		{"--from - lines", lines, []string{s, "--from", "-"}},
		{"--from - JSON", quote(paths...), []string{s, "--from", "-"}},
		{"lone -", lines, []string{s, "-"}},
		{"lone - JSON", quote(paths...), []string{s, "-"}},
		{"arguments then --from", w.lib + "\n" + w.file, []string{s, "--from", "-", w.app}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ok(t, w.dir, []byte(tc.stdin), nil, tc.args...); got != want {
				t.Errorf("%d bytes, want the %d of the layer of %q", len(got), len(want), paths)
			}
		})
	}
}

// TestRootAndTimes: --root packs a directory as the image root, alone or
// before store paths; --mtime takes seconds or RFC 3339; SOURCE_DATE_EPOCH
// sets the time of a --root layer (not of a store layer); the owner
// options reach every entry.
func TestRootAndTimes(t *testing.T) {
	w := newWorkspace(t)
	root := filepath.Join(w.dir, "root")
	write(t, root+"/etc/passwd", []byte("root:x:0:0::/:/bin/sh\n"), 0o644)
	write(t, root+"/tmp/.keep", nil, 0o600)
	must(t, os.Chmod(root+"/tmp", 0o1777))
	s := "--store-dir=" + w.store

	if got := ok(t, w.dir, nil, nil, "--root", "root"); got != string(expected(t, root, nil, layer.Defaults())) {
		t.Error("--root: not the library's root layer")
	}
	if got := ok(t, w.dir, nil, nil, s, "--root", root, w.app); got != string(expected(t, root, []string{w.app}, w.opts())) {
		t.Error("--root with a store path: not the library's layer")
	}

	o := w.opts()
	o.Mtime = 1000000000
	want := string(expected(t, "", []string{w.app}, o))
	for _, m := range []string{"1000000000", "2001-09-09T01:46:40Z", "2001-09-09T03:46:40+02:00", " 1000000000 "} {
		if got := ok(t, w.dir, nil, nil, s, "--mtime", m, w.app); got != want {
			t.Errorf("--mtime %q: not the layer with mtime 1000000000", m)
		}
	}
	epoch := []string{"SOURCE_DATE_EPOCH=1000000000"}
	checkHeaders(t, "SOURCE_DATE_EPOCH with --root", ok(t, w.dir, nil, epoch, "--root", "root"), 1000000000, 0, 0, "root", "root")
	checkHeaders(t, "SOURCE_DATE_EPOCH without --root", ok(t, w.dir, nil, epoch, s, w.app), 1, 0, 0, "root", "root")
	checkHeaders(t, "--mtime over SOURCE_DATE_EPOCH", ok(t, w.dir, nil, epoch, "--mtime", "5", "--root", "root"), 5, 0, 0, "root", "root")
	checkHeaders(t, "owners", ok(t, w.dir, nil, nil, s, "--uid", "1000", "--gid", "100", "--uname", "user", "--gname", "users", w.app),
		1, 1000, 100, "user", "users")
}

func checkHeaders(t *testing.T, what, layerTar string, mtime int64, uid, gid int, uname, gname string) {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(layerTar))
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		n++
		if h.ModTime.Unix() != mtime || h.Uid != uid || h.Gid != gid || h.Uname != uname || h.Gname != gname {
			t.Errorf("%s: %s has mtime %d, owner %d:%d %s:%s; want %d, %d:%d %s:%s", what, h.Name,
				h.ModTime.Unix(), h.Uid, h.Gid, h.Uname, h.Gname, mtime, uid, gid, uname, gname)
		}
	}
	if n == 0 {
		t.Errorf("%s: an empty layer", what)
	}
}

// TestConformanceStore: in /nix/store, the layers of the conformance
// fixture have the diffIDs, sizes and TarSums nixpkgs gives them
// (testdata/conformance/README.md), through -o and the descriptor.
func TestConformanceStore(t *testing.T) {
	testutil.ConformanceFixture(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name                 string
		args                 []string
		diffID, size, tarsum string
	}{
		{"case a layer 4", []string{testutil.Single, testutil.App, testutil.Link},
			"4e5f57a5581304b80d5f87669e7b5a2559d45ebc43e4f4c12f30c58d8ce3404d", "61440", "13bc3b00d181887db2de47955201c6936eae16d50d7813e0996e5b3e974e1c30"},
		{"case b layer 7", []string{"--uid", "1000", "--gid", "100", "--uname", "user", "--gname", "users", "--mtime", "2001-09-09T01:46:40Z", testutil.Link, testutil.Single},
			"8c3fe7b3641776d10ea2f52cbfded3499a8b0bf74e4ce120754c361cfa57a234", "10240", "89a47a1d0db5eb58a0bfd057589c61e2c7f0982d7d99b789c69b371507398051"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := ok(t, dir, nil, nil, append([]string{"--tarsum", "-o", "l.tar"}, tc.args...)...)
			var d struct {
				DiffID string `json:"diffID"`
				Size   json.Number
				TarSum string `json:"tarsum"`
			}
			must(t, json.Unmarshal([]byte(out), &d))
			if d.DiffID != "sha256:"+tc.diffID || d.Size.String() != tc.size || d.TarSum != "tarsum.v1+sha256:"+tc.tarsum {
				t.Errorf("descriptor %s; want diffID %s, size %s, tarsum %s", out, tc.diffID, tc.size, tc.tarsum)
			}
			got, _ := os.ReadFile(filepath.Join(dir, "l.tar"))
			if sha256Hex(got) != tc.diffID {
				t.Errorf("l.tar has sha256 %s", sha256Hex(got))
			}
		})
	}
}

// TestBadInput: every bad input ends in a non-zero exit (2 for a usage
// error, 1 otherwise), exactly one line on stderr that starts with
// "path-to-layer: " and says what is wrong, nothing on stdout, and the
// workspace as it was: no output file, temporary or final, nor anything
// else changed.
func TestBadInput(t *testing.T) {
	type setup struct {
		args   []string
		stdin  string
		env    []string
		stdout string // a file to take stdout ("" captures it)
		nobody bool
		// toStdout keeps the tar on stdout; otherwise, unless the
		// arguments name an output, the run gets -o out.tar.
		toStdout bool
	}
	type tc struct {
		name string
		prep func(t *testing.T, w *workspace) setup
		code int
		want []string // parts of the message
	}
	// args with "STORE", "APP", "LIB" and "DIR" replaced.
	args := func(a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			return setup{args: w.expand(a)}
		}
	}
	// special makes a special file at rel inside the workspace first.
	special := func(rel string, mk func(t *testing.T, p string), a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			p := w.expand([]string{rel})[0]
			must(t, os.MkdirAll(filepath.Dir(p), 0o755))
			mk(t, p)
			return setup{args: w.expand(a)}
		}
	}
	mknod := func(mode uint32, dev int) func(*testing.T, string) {
		return func(t *testing.T, p string) {
			testutil.NeedRoot(t)
			must(t, syscall.Mknod(p, mode|0o644, dev))
		}
	}
	fifo := func(t *testing.T, p string) { must(t, syscall.Mkfifo(p, 0o644)) }
	socket := func(t *testing.T, p string) {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
		must(t, err)
		l.SetUnlinkOnClose(false)
		l.Close()
	}
	// asNobody runs as nobody after prep; out/ is writable by nobody.
	asNobody := func(prep func(w *workspace), a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			testutil.NeedRoot(t)
			testutil.Need(t, "setpriv")
			out := filepath.Join(w.dir, "out")
			must(t, os.Mkdir(out, 0o755))
			must(t, os.Chown(out, 65534, 65534))
			prep(w)
			return setup{args: w.expand(a), nobody: true}
		}
	}
	stdin := func(in string, a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			return setup{args: w.expand(a), stdin: w.expand([]string{in})[0]}
		}
	}
	withFile := func(name, content string, a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			write(t, filepath.Join(w.dir, name), []byte(w.expand([]string{content})[0]), 0o644)
			return setup{args: w.expand(a)}
		}
	}
	env := func(e string, a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			return setup{args: w.expand(a), env: []string{e}}
		}
	}
	toDevFull := func(a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			if _, err := os.Stat("/dev/full"); err != nil {
				testutil.Missing(t, "/dev/full does not exist")
			}
			return setup{args: w.expand(a), stdout: "/dev/full", toStdout: true}
		}
	}
	toStdout := func(a ...string) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			return setup{args: w.expand(a), toStdout: true}
		}
	}
	// noOutput runs without -o (the tar to stdout, or none at all).
	noOutput := func(prep func(*testing.T, *workspace) setup) func(*testing.T, *workspace) setup {
		return func(t *testing.T, w *workspace) setup {
			s := prep(t, w)
			s.toStdout = true
			return s
		}
	}
	S := "--store-dir=STORE"
	cases := []tc{
		// How it is called.
		{"no store paths", args(S), 2, []string{"no store paths given"}},
		{"unknown flag", args(S, "--bogus", "APP"), 2, []string{"bogus"}},
		{"--mtime not a time", args(S, "--mtime", "x", "APP"), 2, []string{`--mtime: "x" is neither seconds since the epoch nor an RFC 3339 date`}},
		{"--mtime out of range", args(S, "--mtime", "99999999999999999999", "APP"), 2, []string{"--mtime", "99999999999999999999"}},
		{"SOURCE_DATE_EPOCH not a time", env("SOURCE_DATE_EPOCH=yesterday", "--root", "DIR/store"), 2, []string{`SOURCE_DATE_EPOCH: "yesterday" is neither`}},
		{"--uid -1", args(S, "--uid", "-1", "APP"), 2, []string{"--uid and --gid must not be negative"}},
		{"--gid -1", args(S, "--gid", "-1", "APP"), 2, []string{"--uid and --gid must not be negative"}},
		{"--uid not a number", args(S, "--uid", "root", "APP"), 2, []string{"uid"}},
		{"--index x", args(S, "--index", "x", "APP"), 2, []string{`--index: "x" is not a layer number`}},
		{"--index -1", args(S, "--index", "-1", "APP"), 2, []string{`--index: "-1" is not a layer number`}},
		{"--descriptor - without -o", toStdout(S, "--descriptor", "-", "APP"), 2, []string{"the tar goes to stdout: --descriptor needs a file"}},
		// Store paths.
		{"path that does not exist", args(S, "STORE/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone"), 1, []string{"STORE/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone: no such file or directory"}},
		{"path that does not exist, tar to stdout", toStdout(S, "APP", "STORE/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone"), 1, []string{"STORE/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone: no such file or directory"}},
		{"path in /nix/store that does not exist", args("/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone"), 1, []string{"/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-gone: no such file"}},
		{"outside --store-dir", args(S, "/etc"), 1, []string{"/etc: not in the store directory STORE"}},
		{"another store's path", args("APP"), 1, []string{"APP: not in the store directory /nix/store"}},
		{"a subpath", args(S, "APP/bin"), 1, []string{"APP/bin: not a store path itself but a path inside one (the store path is APP)"}},
		{"a subpath of a file", args(S, "APP/bin/prog"), 1, []string{"not a store path itself"}},
		{"..", args(S, "STORE/../store/"+appName), 1, []string{`contains ".."`}},
		{".. at the end", args(S, "APP/.."), 1, []string{`APP/..: contains ".."`}},
		{"relative", args(S, appName), 1, []string{appName + ": not an absolute path"}},
		{"the store itself", args(S, "STORE"), 1, []string{"STORE: not in the store directory"}},
		{"empty path", args(S, ""), 1, []string{"empty store path"}},
		{"a character device inside a path", special("APP/dev/null", mknod(syscall.S_IFCHR, 0x103), S, "APP"), 1,
			[]string{"APP/dev/null: is a character device; a layer can only hold files, directories and symlinks"}},
		{"a block device as a store path", special("STORE/ffffffffffffffffffffffffffffffff-disk", mknod(syscall.S_IFBLK, 0x700), S, "LIB", "STORE/ffffffffffffffffffffffffffffffff-disk"), 1,
			[]string{"STORE/ffffffffffffffffffffffffffffffff-disk: is a block device"}},
		{"a fifo inside a path", special("APP/run/fifo", fifo, S, "APP"), 1, []string{"APP/run/fifo: is a fifo"}},
		{"a socket inside a path", special("APP/run/sock", socket, S, "LIB", "APP"), 1, []string{"APP/run/sock: is a socket"}},
		{"an unreadable file", asNobody(func(w *workspace) { must(t, os.Chmod(w.app+"/share/doc/README", 0)) }, S, "-o", "out/out.tar", "APP"), 1,
			[]string{"APP/share/doc/README: permission denied"}},
		{"an unreadable directory", asNobody(func(w *workspace) { must(t, os.Chmod(w.app+"/share", 0o311)) }, S, "-o", "out/out.tar", "APP"), 1,
			[]string{"APP/share: permission denied"}},
		// --from and stdin.
		{"--from missing", args(S, "--from", "nope.txt"), 1, []string{"--from: open nope.txt: no such file or directory"}},
		{"--from a directory", args(S, "--from", "store"), 1, []string{"store: read store: is a directory"}},
		{"--from malformed JSON", withFile("plan.json", `["APP", `, S, "--from", "plan.json"), 1, []string{"plan.json: not a JSON array of paths"}},
		{"--from JSON of numbers", withFile("plan.json", `[1, 2]`, S, "--from", "plan.json"), 1, []string{"plan.json: not a JSON array of paths"}},
		{"--from JSON with null", withFile("plan.json", `["APP", null]`, S, "--from", "plan.json"), 1, []string{"plan.json: element 2 of the JSON array is null"}},
		{"stdin with a relative path", stdin("APP\nlib-2.0\n", S, "-"), 1, []string{"lib-2.0: not an absolute path"}},
		{"stdin malformed JSON", stdin(`["APP"`, S, "--from", "-"), 1, []string{"stdin: not a JSON array of paths"}},
		// --root.
		{"--root missing", args("--root", "nope"), 1, []string{"nope: no such file or directory"}},
		{"--root a file", args("--root", "STORE/"+fileName), 1, []string{fileName + ": not a directory"}},
		{"--root holding a fifo", special("DIR/root/run/fifo", fifo, "--root", "DIR/root"), 1, []string{"DIR/root/run/fifo: is a fifo"}},
		{"--root with a bad store path", args(S, "--root", "APP", "/etc"), 1, []string{"/etc: not in the store directory"}},
		// --perms.
		{"--perms missing", args(S, "--perms", "nope.json", "APP"), 1, []string{"--perms: open nope.json: no such file or directory"}},
		{"--perms not JSON", withFile("perms.json", `[{"path": "/"`, S, "--perms", "perms.json", "APP"), 1,
			[]string{"--perms perms.json: not a JSON list of permission rules: unexpected EOF"}},
		{"--perms bad regex", withFile("perms.json", `[{"path": "/", "regex": "[a"}]`, S, "--perms", "perms.json", "APP"), 1,
			[]string{`--perms perms.json: rule 1: regex "[a": error parsing regexp: missing closing ]`}},
		{"--perms bad mode", withFile("perms.json", `[{"path": "/"}, {"path": "APP", "mode": "rwxr-xr-x"}]`, S, "--perms", "perms.json", "APP"), 1,
			[]string{`--perms perms.json: rule 2: mode "rwxr-xr-x": not an octal mode from 0 to 7777`}},
		{"--perms bad mode, tar to stdout", noOutput(withFile("perms.json", `[{"path": "/", "mode": "99"}]`, S, "--perms", "perms.json", "APP")), 1,
			[]string{`rule 1: mode "99"`}},
		{"--perms bad mode, digest only", noOutput(withFile("perms.json", `[{"path": "/", "mode": "99"}]`, S, "--digest-only", "--descriptor", "d.json", "--perms", "perms.json", "APP")), 1,
			[]string{`rule 1: mode "99"`}},
		// Outputs.
		{"-o into a missing directory", args(S, "-o", "nope/out.tar", "APP"), 1, []string{"create nope/out.tar: no such file or directory"}},
		{"-o a directory", args(S, "-o", "store", "APP"), 1, []string{"store: is a directory"}},
		{"--descriptor into a missing directory", args(S, "-o", "out.tar", "--descriptor", "nope/d.json", "APP"), 1, []string{"create nope/d.json: no such file or directory"}},
		{"-o in a read-only directory", asNobody(func(*workspace) {}, S, "-o", "store/out.tar", "APP"), 1, []string{"create store/out.tar: permission denied"}},
		{"stdout full", toDevFull(S, "APP", "LIB"), 1, []string{"write stdout: no space left on device"}},
		{"descriptor to a full stdout", toDevFull(S, "-o", "out.tar", "APP"), 1, []string{"write stdout: no space left on device"}},
		{"--descriptor to a full device", special("DIR/full", mknod(syscall.S_IFCHR, 0x107), S, "-o", "out.tar", "--descriptor", "full", "APP"), 1,
			[]string{"write full: no space left on device"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorkspace(t)
			s := c.prep(t, w)
			if !s.toStdout && !slices.Contains(s.args, "-o") {
				s.args = append([]string{"-o", "out.tar"}, s.args...)
			}
			before := tree(t, w.dir)
			r := invocation{dir: w.dir, args: s.args, stdin: []byte(s.stdin), env: s.env, nobody: s.nobody}
			if s.stdout != "" {
				f, err := os.OpenFile(s.stdout, os.O_WRONLY, 0)
				must(t, err)
				defer f.Close()
				r.stdout = f
			}
			res := r.do(t)
			if res.code == 0 || (c.code == 2) != (res.code == 2) {
				t.Errorf("path-to-layer %s: exit %d, want %d", strings.Join(s.args, " "), res.code, c.code)
			}
			if strings.Count(res.stderr, "\n") != 1 || !strings.HasSuffix(res.stderr, "\n") || !strings.HasPrefix(res.stderr, "path-to-layer: ") ||
				strings.Contains(res.stderr, "goroutine") || strings.Contains(res.stderr, "panic") {
				t.Errorf("stderr is not one line of path-to-layer's: %q", res.stderr)
			}
			for _, want := range w.expand(c.want) {
				if !strings.Contains(res.stderr, want) {
					t.Errorf("stderr %q does not say %q", res.stderr, want)
				}
			}
			if res.stdout != "" {
				t.Errorf("stdout: %d bytes", len(res.stdout))
			}
			if after := tree(t, w.dir); after != before {
				t.Errorf("the workspace changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// expand replaces STORE, APP, LIB and DIR in each string.
func (w *workspace) expand(a []string) []string {
	r := strings.NewReplacer("STORE", w.store, "APP", w.app, "LIB", w.lib, "DIR", w.dir)
	out := make([]string, len(a))
	for i, s := range a {
		out[i] = r.Replace(s)
	}
	return out
}

// TestClosedPipe: a reader that stops after 100 bytes of a layer larger
// than the pipe buffer (| head -c 100) ends path-to-layer with a
// non-zero exit and one line on stderr, no stack trace, and no file.
func TestClosedPipe(t *testing.T) {
	bash := testutil.Need(t, "bash")[0]
	w := newWorkspace(t)
	for _, args := range [][]string{
		{"--store-dir", w.store, w.app, w.lib},
		{"--store-dir", w.store, "--tarsum", "-o", "-", "--descriptor", "d.json", w.lib},
	} {
		before := tree(t, w.dir)
		cmd := exec.Command(bash, append([]string{"-c", `set -o pipefail; "$0" "$@" | head -c 100 >/dev/null`, bin}, args...)...)
		cmd.Dir = w.dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%q | head -c 100: %v, want exit 1", args, err)
		}
		if stderr.String() != "path-to-layer: write stdout: broken pipe\n" {
			t.Errorf("%q | head -c 100: stderr %q", args, stderr.String())
		}
		if after := tree(t, w.dir); after != before {
			t.Errorf("files left:\n%s\nwas:\n%s", after, before)
		}
	}
}

// TestSpecialOutputs: an output that is a fifo or a device is written in
// place, not replaced by a file; a symlink stays a symlink, the layer
// going where it leads; a link to /proc/self/fd/1 (what /dev/stdout is)
// writes to stdout itself, in turn with what else goes there.
func TestSpecialOutputs(t *testing.T) {
	w := newWorkspace(t)
	layerBytes := expected(t, "", []string{w.app}, w.opts())

	must(t, os.Symlink("real/target.tar", filepath.Join(w.dir, "link.tar")))
	must(t, os.Mkdir(filepath.Join(w.dir, "real"), 0o755))
	ok(t, w.dir, nil, nil, "--store-dir", w.store, "-o", "link.tar", w.app)
	if fi, err := os.Lstat(filepath.Join(w.dir, "link.tar")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link.tar is now %v (%v)", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(filepath.Join(w.dir, "real", "target.tar")); !bytes.Equal(got, layerBytes) {
		t.Errorf("the link's target holds %d bytes, not the layer", len(got))
	}

	must(t, os.Symlink("/proc/self/fd/1", filepath.Join(w.dir, "stdout")))
	outFile, err := os.Create(filepath.Join(w.dir, "stdout.txt"))
	must(t, err)
	outFile.WriteString("before\n")
	r := invocation{dir: w.dir, args: []string{"--store-dir", w.store, "-o", "stdout", w.app}, stdout: outFile}.do(t)
	outFile.WriteString("after\n")
	outFile.Close()
	got, _ := os.ReadFile(filepath.Join(w.dir, "stdout.txt"))
	if r.code != 0 || !bytes.HasPrefix(got, append([]byte("before\n"), layerBytes...)) || !bytes.HasSuffix(got, []byte("\"}\nafter\n")) {
		t.Errorf("-o a link to /proc/self/fd/1: exit %d %s; stdout holds %d bytes: %q...%q", r.code, r.stderr, len(got), got[:min(len(got), 10)], got[max(0, len(got)-40):])
	}
	if fi, err := os.Lstat(filepath.Join(w.dir, "stdout")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link to stdout is now %v (%v)", fi.Mode(), err)
	}

	fifo := filepath.Join(w.dir, "fifo")
	must(t, syscall.Mkfifo(fifo, 0o644))
	fromFifo := make(chan []byte)
	go func() {
		b, _ := os.ReadFile(fifo)
		fromFifo <- b
	}()
	out := ok(t, w.dir, nil, nil, "--store-dir", w.store, "-o", "fifo", w.app)
	if b := <-fromFifo; !bytes.Equal(b, layerBytes) {
		t.Errorf("read %d bytes from the fifo", len(b))
	}
	descriptorOf(t, out, layerBytes, "file", "diffID", "size", "paths")
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the fifo is now %v (%v)", fi.Mode(), err)
	}
	if os.Geteuid() == 0 {
		null := filepath.Join(w.dir, "null")
		must(t, syscall.Mknod(null, syscall.S_IFCHR|0o666, 0x103))
		ok(t, w.dir, nil, nil, "--store-dir", w.store, "-o", "null", "--descriptor", "null", w.app)
		if fi, err := os.Lstat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("the device is now %v (%v)", fi.Mode(), err)
		}
	}
}

// TestPerms: --perms gives the layer the library writes with the same
// rules, as root and as nobody; the descriptor records the rules, and a
// --digest-only descriptor writes the same bytes again from the store.
func TestPerms(t *testing.T) {
	w := newWorkspace(t)
	rules := `[{"path": "` + w.app + `/bin", "regex": "prog", "mode": "4755", "uid": 1000, "gid": 100, "uname": "app", "gname": "users"},
		{"path": "` + w.lib + `", "mode": "0700"}]`
	write(t, filepath.Join(w.dir, "perms.json"), []byte(rules), 0o644)
	o := w.opts()
	perms, err := layer.ReadPerms(strings.NewReader(rules), "perms.json")
	must(t, err)
	o.Perms = perms
	paths := []string{w.app, w.lib}
	want := expected(t, "", paths, o)
	if bytes.Equal(want, expected(t, "", paths, w.opts())) {
		t.Fatal("the rules change nothing")
	}
	args := append([]string{"--store-dir", w.store, "--perms", "perms.json", "-o", "out.tar"}, paths...)
	out := ok(t, w.dir, nil, nil, args...)
	got, err := os.ReadFile(filepath.Join(w.dir, "out.tar"))
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatal("out.tar differs from the library's layer with the rules")
	}
	d := descriptorOf(t, out, got, "file", "diffID", "size", "paths", "perms")
	var recorded []layer.Perm
	must(t, json.Unmarshal(d["perms"], &recorded))
	if len(recorded) != 2 || recorded[0].Mode != "4755" || *recorded[0].Uid != 1000 || recorded[1].Path != w.lib {
		t.Errorf("descriptor records %s", d["perms"])
	}

	// As nobody: the same bytes.
	testutil.NeedRoot(t)
	outDir := filepath.Join(w.dir, "out")
	must(t, os.Mkdir(outDir, 0o755))
	must(t, os.Chown(outDir, 65534, 65534))
	args[len(args)-3] = "out/out.tar"
	if r := (invocation{dir: w.dir, args: args, nobody: true}).do(t); r.code != 0 {
		t.Fatalf("as nobody: exit %d\n%s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(outDir, "out.tar")); err != nil || !bytes.Equal(b, want) {
		t.Errorf("as nobody: a different layer (%v)", err)
	}

	// --digest-only: the descriptor alone writes the layer again.
	out = ok(t, w.dir, nil, nil, append([]string{"--store-dir", w.store, "--perms", "perms.json", "--digest-only"}, paths...)...)
	ds, err := layer.ReadDescriptors(strings.NewReader(out), "stdout")
	must(t, err)
	l, err := ds[0].Layer()
	must(t, err)
	var again bytes.Buffer
	if err := l.Stream(&again); err != nil || !bytes.Equal(again.Bytes(), want) {
		t.Errorf("the layer written again from the --digest-only descriptor: %v, %d bytes, want %d", err, again.Len(), len(want))
	}
}
