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
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/testutil"
	"github.com/opencontainers/go-digest"
)

// bin is the export-image binary, built once by TestMain: the tests run
// the real command and look at its exit code, output, stderr and memory.
var bin string

func TestMain(m *testing.M) {
	if b := os.Getenv("EXPORT_IMAGE_TEST_SPAWN"); b != "" {
		os.Exit(spawn(b, os.Args[1:], os.Getenv("EXPORT_IMAGE_TEST_RUSAGE")))
	}
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "export-image") }))
}

// spawn runs the tool and writes its peak RSS to the file rusage. The
// test process starts the tool through this fresh copy of itself, as
// Linux counts the memory of the process that starts a program (vfork,
// then exec) in that program's peak RSS.
func spawn(tool string, args []string, rusage string) int {
	cmd := exec.Command(tool, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		os.WriteFile(rusage, []byte(fmt.Sprint(ru.Maxrss<<10)), 0o644) // kilobytes on Linux
	}
	return cmd.ProcessState.ExitCode()
}

type result struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // bytes
}

// runTool runs export-image in dir with stdin (nil: none).
func runTool(t *testing.T, dir string, stdin io.Reader, args ...string) result {
	t.Helper()
	rusage := filepath.Join(t.TempDir(), "rusage")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EXPORT_IMAGE_TEST_SPAWN="+bin, "EXPORT_IMAGE_TEST_RUSAGE="+rusage)
	cmd.Dir = dir
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("export-image %s: %v", strings.Join(args, " "), err)
	}
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if b, err := os.ReadFile(rusage); err == nil {
		fmt.Sscan(string(b), &r.maxRSS)
	}
	return r
}

// ent is one entry of a layer written by a test.
type ent struct {
	hdr  tar.Header
	data string
}

func dir(name string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}
func file(name, data string, mode int64, uid, gid int) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid, Size: int64(len(data))}, data: data}
}

// hardlink is a hard link entry with the mode (and owner 0:0) tar writers
// give it: its file's.
func hardlink(name, target string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: mode}}
}
func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func whiteout(name string) ent {
	d, b := filepath.Split(name)
	return file(d+".wh."+b, "", 0o644, 0, 0)
}

// layerFile is a layer tar written to a file.
type layerFile struct {
	file   string
	diffID digest.Digest
	size   int64
}

// writeLayer writes a layer tar of what gen writes with tw.
func writeLayer(t testing.TB, gen func(tw *tar.Writer) error) layerFile {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	tw := tar.NewWriter(cw)
	if err := gen(tw); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return layerFile{file: f.Name(), diffID: digest.NewDigest(digest.SHA256, h), size: cw.n}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func entsLayer(t testing.TB, ents ...ent) layerFile {
	t.Helper()
	return writeLayer(t, func(tw *tar.Writer) error {
		for _, e := range ents {
			h := e.hdr
			h.ModTime = time.Unix(1700000000, 0)
			h.Uname, h.Gname = "", ""
			if err := tw.WriteHeader(&h); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, e.data); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeArchive writes a docker-archive (docker save's layout) of one
// image: <hex>/layer.tar members, <hex>.json config, manifest.json.
func writeArchive(t testing.TB, name, tag string, layers ...layerFile) {
	t.Helper()
	var diffIDs []string
	for _, l := range layers {
		diffIDs = append(diffIDs, l.diffID.String())
	}
	config, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": "1970-01-01T00:00:01Z",
		"config": map[string]any{}, "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs},
	})
	cfgName := digest.FromBytes(config).Encoded() + ".json"
	var members []string
	for _, l := range layers {
		members = append(members, l.diffID.Encoded()+"/layer.tar")
	}
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{tag}, "Layers": members}})
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	put := func(name string, size int64, r io.Reader) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, r); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[digest.Digest]bool{}
	for _, l := range layers {
		if seen[l.diffID] {
			continue
		}
		seen[l.diffID] = true
		lf, err := os.Open(l.file)
		if err != nil {
			t.Fatal(err)
		}
		put(l.diffID.Encoded()+"/layer.tar", l.size, lf)
		lf.Close()
	}
	put(cfgName, int64(len(config)), bytes.NewReader(config))
	put("manifest.json", int64(len(manifest)), bytes.NewReader(manifest))
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// fsEntry is what a root filesystem tar says of one name, hard links
// resolved to the file they share.
type fsEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	link     string // symlink target
	sum      string // sha256 of a file's contents
}

func (e fsEntry) String() string {
	return fmt.Sprintf("%c %o %d:%d %s %.12s", e.typ, e.mode, e.uid, e.gid, e.link, e.sum)
}

// readFS reads a root filesystem tar: names cleaned ("./a/", "/a" and "a"
// are "a"), hard links replaced by the entry of the file they name.
func readFS(t testing.TB, file string) map[string]fsEntry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fsEntry{}
	links := map[string]string{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := clean(h.Name)
		if name == "" {
			continue // the root
		}
		if _, dup := out[name]; dup {
			t.Errorf("%s: %q twice", file, name)
		}
		e := fsEntry{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid}
		switch h.Typeflag {
		case tar.TypeReg:
			s := sha256.New()
			if _, err := io.Copy(s, tr); err != nil {
				t.Fatal(err)
			}
			e.sum = hex.EncodeToString(s.Sum(nil))
		case tar.TypeSymlink:
			e.link = h.Linkname
		case tar.TypeLink:
			links[name] = clean(h.Linkname)
		}
		out[name] = e
	}
	for name, target := range links {
		e, ok := out[target]
		if !ok || e.typ == tar.TypeLink {
			t.Errorf("%s: hard link %q to %q, which is not a file of the tar", file, name, target)
			continue
		}
		out[name] = e
	}
	return out
}

func clean(name string) string {
	return strings.Trim(filepath.Clean("/"+name), "/")
}

// diffFS lists the differences between two root filesystems.
func diffFS(a, b map[string]fsEntry) []string {
	var d []string
	for n, e := range a {
		if f, ok := b[n]; !ok {
			d = append(d, fmt.Sprintf("%s: only in ours (%v)", n, e))
		} else if e != f {
			d = append(d, fmt.Sprintf("%s: ours %v, theirs %v", n, e, f))
		}
	}
	for n, f := range b {
		if _, ok := a[n]; !ok {
			d = append(d, fmt.Sprintf("%s: only in theirs (%v)", n, f))
		}
	}
	sort.Strings(d)
	return d
}

// deletions is an image of four layers whose upper three replace, delete
// (files and directories), re-add, empty a directory (opaque), chmod and
// chown, and link.
func deletions(t testing.TB) []layerFile {
	base := entsLayer(t,
		dir("bin/", 0o755), file("bin/sh", "#!shell", 0o755, 0, 0), hardlink("bin/sh-link", "bin/sh", 0o755),
		dir("etc/", 0o755), file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644, 0, 0),
		file("etc/group", "root:x:0:\n", 0o644, 0, 0), file("etc/motd", "hello\n", 0o644, 0, 0),
		dir("usr/", 0o755), dir("usr/lib/", 0o755), file("usr/lib/libc.so", "libc", 0o755, 0, 0),
		file("usr/lib/libm.so", "libm", 0o755, 0, 0), symlink("lib", "usr/lib"),
		dir("var/", 0o755), dir("var/cache/", 0o700), file("var/cache/a", "a", 0o600, 0, 0),
		dir("var/cache/sub/", 0o755), file("var/cache/sub/b", "b", 0o600, 0, 0),
		dir("home/", 0o755), dir("home/user/", 0o700), file("home/user/.profile", "x", 0o644, 1000, 100),
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
	)
	middle := entsLayer(t,
		dir("etc/", 0o750), file("etc/group", "root:x:0:\napp:x:100:\n", 0o644, 0, 0), whiteout("etc/motd"),
		dir("usr/", 0o755), dir("usr/lib/", 0o755), whiteout("usr/lib/libm.so"),
		dir("var/", 0o755), whiteout("var/cache"),
		dir("home/", 0o755), dir("home/user/", 0o750), file("home/user/.profile", "x", 0o600, 1000, 100),
		dir("opt/", 0o755), dir("opt/app/", 0o755), file("opt/app/run", "run", 0o755, 0, 0),
		hardlink("opt/app/run-again", "opt/app/run", 0o755), hardlink("opt/sh", "bin/sh", 0o755),
		whiteout("lib"),
	)
	upper := entsLayer(t,
		dir("var/", 0o755), dir("var/cache/", 0o755), file("var/cache/c", "c", 0o644, 0, 0),
		symlink("lib", "usr/lib64"),
		dir("usr/", 0o755), dir("usr/lib/", 0o755), whiteout("usr/lib/.wh..opq"), file("usr/lib/libz.so", "libz", 0o755, 0, 0),
		dir("etc/", 0o750), file("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:100::/home/user:/bin/sh\n", 0o644, 0, 0),
	)
	top := entsLayer(t,
		dir("home/", 0o755), dir("home/user/", 0o750), whiteout("home/user/.profile"),
		dir("srv/", 0o755), dir("srv/data/", 0o2775), file("srv/data/x", "x", 0o664, 33, 33),
	)
	return []layerFile{base, middle, upper, top}
}

// TestCompareWithCrane exports images with crane export and with
// export-image and compares the root filesystems: names, types, contents,
// modes, owners and link targets.
func TestCompareWithCrane(t *testing.T) {
	crane := testutil.Need(t, "crane")[0]
	work := t.TempDir()
	images := map[string][]layerFile{
		"deletions":          deletions(t),
		"one layer":          deletions(t)[:1],
		"empty layer on top": append(deletions(t)[:2], entsLayer(t)),
	}
	for name, layers := range images {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(work, strings.ReplaceAll(name, " ", "-")+".tar")
			writeArchive(t, archive, "test/export:1", layers...)
			in, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			theirs := archive + ".crane.tar"
			cmd := exec.Command(crane, "export", "-", theirs)
			cmd.Stdin = in
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("crane export: %v\n%s", err, out)
			}
			ours := archive + ".rootfs.tar"
			if r := runTool(t, work, nil, "-o", ours, archive); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			a, b := readFS(t, ours), readFS(t, theirs)
			if d := diffFS(a, b); len(d) > 0 {
				t.Errorf("export-image and crane export differ:\n\t%s", strings.Join(d, "\n\t"))
			}
			if len(a) < 3 {
				t.Errorf("only %d entries", len(a))
			}
		})
	}
}

// dockerCases is an image of what crane export gets wrong and docker
// gets right: a directory deleted and re-added in one layer (whiteout
// first, as docker writes layers), hard links whose first name is
// replaced or deleted above, files replaced by directories and back,
// hard link entries whose metadata is not their file's (docker applies
// it to the file).
func dockerCases(t testing.TB) []layerFile {
	base := entsLayer(t,
		dir("bin/", 0o755), file("bin/tool", "v1", 0o755, 0, 0), hardlink("bin/tool-alias", "bin/tool", 0o755),
		hardlink("bin/tool-alias2", "bin/tool", 0o755),
		dir("data/", 0o755), file("data/orig", "orig", 0o640, 5, 6), hardlink("data/keep", "data/orig", 0o600),
		dir("cache/", 0o755), file("cache/old", "old", 0o644, 0, 0), dir("cache/deep/", 0o700), file("cache/deep/x", "x", 0o644, 0, 0),
		dir("was-dir/", 0o755), file("was-dir/inner", "inner", 0o644, 0, 0), file("was-file", "file", 0o644, 0, 0),
		dir("op/", 0o755), file("op/lower", "lower", 0o644, 0, 0), dir("op/sub/", 0o755), file("op/sub/y", "y", 0o644, 0, 0),
	)
	upper := entsLayer(t,
		dir("bin/", 0o755), file("bin/tool", "v2", 0o700, 1, 1),
		dir("data/", 0o755), whiteout("data/orig"),
		whiteout("cache"), dir("cache/", 0o750), file("cache/new", "new", 0o644, 0, 0),
		file("was-dir", "now a file", 0o600, 0, 0), dir("was-file/", 0o711), file("was-file/inside", "in", 0o644, 0, 0),
		dir("op/", 0o755), whiteout("op/.wh..opq"), file("op/upper", "upper", 0o644, 0, 0),
		hardlink("data/upper-link", "data/keep", 0o644),
	)
	return []layerFile{base, upper}
}

// TestCompareWithDocker loads images into Docker and compares docker
// export of a container with export-image, leaving out what Docker adds
// to every container (/.dockerenv, /dev, /proc, /sys, /etc/hostname,
// /etc/hosts, /etc/resolv.conf, /etc/mtab). crane export differs from
// both on this image: it drops what a layer adds below its own whiteout,
// and leaves hard links to names that are gone.
func TestCompareWithDocker(t *testing.T) {
	docker := testutil.Docker(t)
	crane := testutil.Need(t, "crane")[0]
	work := t.TempDir()
	for name, layers := range map[string][]layerFile{"docker cases": dockerCases(t), "deletions": deletions(t)} {
		t.Run(name, func(t *testing.T) {
			archive := filepath.Join(work, strings.ReplaceAll(name, " ", "-")+".tar")
			tag := fmt.Sprintf("dockertools-i-export-test:%d", time.Now().UnixNano())
			writeArchive(t, archive, tag, layers...)
			testutil.Run(t, docker, "load", "-i", archive)
			t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })
			id := strings.TrimSpace(testutil.Run(t, docker, "create", "--network=none", tag, "/nothing"))
			t.Cleanup(func() { exec.Command(docker, "rm", "-f", id).Run() })
			theirs := archive + ".docker.tar"
			testutil.Run(t, docker, "export", "-o", theirs, id)
			ours := archive + ".rootfs.tar"
			if r := runTool(t, work, nil, "-o", ours, archive); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			a, b := readFS(t, ours), readFS(t, theirs)
			for n := range b {
				switch top, _, _ := strings.Cut(n, "/"); {
				case top == ".dockerenv" || top == "dev" || top == "proc" || top == "sys",
					n == "etc/hostname" || n == "etc/hosts" || n == "etc/resolv.conf" || n == "etc/mtab":
					delete(b, n)
				case n == "etc" && a[n] == (fsEntry{}):
					delete(b, n)
				}
			}
			if d := diffFS(a, b); len(d) > 0 {
				t.Errorf("export-image and docker export differ:\n\t%s", strings.Join(d, "\n\t"))
			}
			// GNU tar extracts it in one go: each hard link comes after
			// its file.
			gnuTar := testutil.Need(t, "tar")[0]
			testutil.Run(t, gnuTar, "-C", t.TempDir(), "-xf", ours)
			if name != "docker cases" {
				return
			}
			in, err := os.Open(archive)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			cranes := archive + ".crane.tar"
			cmd := exec.Command(crane, "export", "-", cranes)
			cmd.Stdin = in
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("crane export: %v\n%s", err, out)
			}
			if d := diffFS(a, readFSLoose(t, cranes)); len(d) == 0 {
				t.Errorf("crane export now agrees on this image: move it to TestCompareWithCrane")
			}
		})
	}
}

// readFSLoose is readFS for a tar whose hard links may name files it
// does not hold (crane's).
func readFSLoose(t *testing.T, file string) map[string]fsEntry {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]fsEntry{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if n := clean(h.Name); n != "" {
			out[n] = fsEntry{typ: h.Typeflag, mode: h.Mode & 0o7777, uid: h.Uid, gid: h.Gid, link: h.Linkname}
		}
	}
	return out
}

func TestUsage(t *testing.T) {
	work := t.TempDir()
	archive := filepath.Join(work, "a.tar")
	writeArchive(t, archive, "a:1", entsLayer(t, file("x", "1", 0o644, 0, 0)))
	for _, args := range [][]string{
		{},
		{archive, archive},
		{"--mtime", "yesterday", archive},
		{"--no-such-flag", archive},
	} {
		r := runTool(t, work, nil, args...)
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "export-image: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing, one line", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runTool(t, work, nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "export-image -o rootfs.tar") {
		t.Errorf("--help: exit %d, %q", r.code, r.stdout)
	}
	r = runTool(t, work, nil, "--version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "export-image version ") {
		t.Errorf("--version: exit %d, %q", r.code, r.stdout)
	}
}

// TestOutputs: -o FILE, stdout, stdin, a compressed archive, --tag and
// --mtime; the same image gives the same bytes every way.
func TestOutputs(t *testing.T) {
	work := t.TempDir()
	layers := deletions(t)
	plain := filepath.Join(work, "img.tar")
	writeArchive(t, plain, "app:1", layers...)
	r := runTool(t, work, nil, "-o", "rootfs.tar", plain)
	if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "exported "+plain+" (app:1), 4 layers, to rootfs.tar: ") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want, err := os.ReadFile(filepath.Join(work, "rootfs.tar"))
	if err != nil {
		t.Fatal(err)
	}
	r = runTool(t, work, nil, "-q", plain)
	if r.code != 0 || r.stderr != "" || r.stdout != string(want) {
		t.Errorf("to stdout: exit %d, stderr %q, %d bytes (want %d)", r.code, r.stderr, len(r.stdout), len(want))
	}
	f, err := os.Open(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r = runTool(t, work, f, "-q", "-o", "-", "-")
	if r.code != 0 || r.stdout != string(want) {
		t.Errorf("from stdin: exit %d, stderr %q, %d bytes (want %d)", r.code, r.stderr, len(r.stdout), len(want))
	}
	zst := filepath.Join(work, "img.tar.zst")
	compressFile(t, plain, zst, compress.Zstd)
	gz := filepath.Join(work, "img.tar.gz")
	compressFile(t, plain, gz, compress.Gzip)
	for _, in := range []string{zst, gz} {
		r = runTool(t, work, nil, "-q", "--tag", "app:1", in)
		if r.code != 0 || r.stdout != string(want) {
			t.Errorf("%s: exit %d, stderr %q, %d bytes (want %d)", in, r.code, r.stderr, len(r.stdout), len(want))
		}
	}
	r = runTool(t, work, nil, "--tag", "other:1", plain)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `has no image tagged "other:1"`) {
		t.Errorf("--tag other:1: exit %d, stdout %d bytes, stderr %q", r.code, len(r.stdout), r.stderr)
	}
	r = runTool(t, work, nil, "-q", "--mtime", "1980-01-01T00:00:00Z", plain)
	if r.code != 0 {
		t.Fatalf("--mtime: exit %d, %s", r.code, r.stderr)
	}
	tr := tar.NewReader(strings.NewReader(r.stdout))
	n := 0
	for ; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != 315532800 {
			t.Errorf("--mtime: %s has mtime %v", h.Name, h.ModTime)
		}
	}
	if n < 20 {
		t.Errorf("--mtime: %d entries", n)
	}
}

func compressFile(t testing.TB, from, to string, kind compress.Kind) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	zw, err := compress.NewWriter(out, kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput: hostile or broken images fail with one line naming the
// layer and entry, exit 1, and leave no output file (nor anything on
// stdout).
func TestBadInput(t *testing.T) {
	work := t.TempDir()
	good := entsLayer(t, dir("etc/", 0o755), file("etc/passwd", "root", 0o644, 0, 0), symlink("lib", "/usr/lib"))
	for _, tc := range []struct {
		name   string
		layers []layerFile
		want   string
	}{
		{"dot-dot", []layerFile{entsLayer(t, file("../../etc/cron.d/x", "boom", 0o644, 0, 0))},
			`entry "../../etc/cron.d/x" climbs out of the root with ".."`},
		{"through a symlink", []layerFile{good, entsLayer(t, file("lib/libc.so", "boom", 0o644, 0, 0))},
			`layer 2 of 2 (`},
		{"whiteout that escapes", []layerFile{good, entsLayer(t, file(".wh...", "", 0o644, 0, 0))},
			`entry ".wh..." is a whiteout of "..": it climbs out of the root`},
		{"whiteout through a symlink", []layerFile{good, entsLayer(t, whiteout("lib/libc.so"))},
			`entry "lib/.wh.libc.so" removes files through the symlink "lib": it could climb out of the root`},
		{"hard link out", []layerFile{good, entsLayer(t, hardlink("shadow", "../etc/shadow", 0o644))},
			`entry "shadow" is a hard link to "../etc/shadow", which climbs out of the root with ".."`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := filepath.Join(work, strings.ReplaceAll(tc.name, " ", "-")+".tar")
			writeArchive(t, archive, "bad:1", tc.layers...)
			out := filepath.Join(work, "out-"+filepath.Base(archive))
			for _, args := range [][]string{{"-o", out, archive}, {archive}} {
				r := runTool(t, work, nil, args...)
				if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
					!strings.HasPrefix(r.stderr, "export-image: ") || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("%v: exit %d, stdout %d bytes, stderr %q; want 1, nothing, one line with %q", args, r.code, len(r.stdout), r.stderr, tc.want)
				}
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("%s exists after the failure", out)
			}
			if left, _ := filepath.Glob(filepath.Join(work, ".out-*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
	// A layer that is not what its diff_id says.
	archive := filepath.Join(work, "mismatch.tar")
	l := entsLayer(t, file("x", "1", 0o644, 0, 0))
	l.diffID = digest.FromString("something else")
	writeArchive(t, archive, "bad:1", l)
	r := runTool(t, work, nil, "-o", "out.tar", archive)
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "sha256") {
		t.Errorf("diff_id mismatch: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(work, "out.tar")); !os.IsNotExist(err) {
		t.Errorf("out.tar exists after the failure")
	}
}

// TestMemory exports an image of about 300 MiB of layers and 125,000
// files, with whiteouts, opaque directories and replaced files, and
// checks the peak RSS stays under 64 MiB.
func TestMemory(t *testing.T) {
	work := t.TempDir()
	fill := make([]byte, 1<<16)
	for i := range fill {
		fill[i] = byte(i*7 + i>>8)
	}
	put := func(tw *tar.Writer, name string, size int, seed int) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(size), ModTime: time.Unix(1, 0)}); err != nil {
			return err
		}
		for size > 0 {
			n := min(size, len(fill)-seed%1024)
			if _, err := tw.Write(fill[seed%1024 : seed%1024+n]); err != nil {
				return err
			}
			size -= n
		}
		return nil
	}
	mkdir := func(tw *tar.Writer, name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(1, 0)})
	}
	base := writeLayer(t, func(tw *tar.Writer) error {
		for d := 0; d < 1000; d++ {
			if err := mkdir(tw, fmt.Sprintf("d%03d/", d)); err != nil {
				return err
			}
			for f := 0; f < 100; f++ {
				if err := put(tw, fmt.Sprintf("d%03d/f%03d", d, f), 1024, d*100+f); err != nil {
					return err
				}
			}
		}
		return nil
	})
	middle := writeLayer(t, func(tw *tar.Writer) error {
		for d := 0; d < 1000; d++ {
			switch {
			case d%5 == 0:
				if err := put(tw, fmt.Sprintf(".wh.d%03d", d), 0, 0); err != nil {
					return err
				}
			case d%5 == 1:
				if err := mkdir(tw, fmt.Sprintf("d%03d/", d)); err != nil {
					return err
				}
				if err := put(tw, fmt.Sprintf("d%03d/.wh..wh..opq", d), 0, 0); err != nil {
					return err
				}
			default:
				if err := mkdir(tw, fmt.Sprintf("d%03d/", d)); err != nil {
					return err
				}
			}
			if d%5 == 0 {
				continue
			}
			for f := 0; f < 100; f += 3 {
				if err := put(tw, fmt.Sprintf("d%03d/f%03d", d, f), 4096, f); err != nil {
					return err
				}
			}
		}
		return nil
	})
	top := writeLayer(t, func(tw *tar.Writer) error {
		if err := mkdir(tw, "big/"); err != nil {
			return err
		}
		for i := 0; i < 4; i++ {
			if err := put(tw, fmt.Sprintf("big/%d", i), 25<<20, i); err != nil {
				return err
			}
		}
		return nil
	})
	total := base.size + middle.size + top.size
	if total < 250<<20 {
		t.Fatalf("layers of %d bytes only", total)
	}
	archive := filepath.Join(work, "big.tar")
	writeArchive(t, archive, "big:1", base, middle, top)
	for _, l := range []layerFile{base, middle, top} {
		os.Remove(l.file)
	}
	out := filepath.Join(work, "rootfs.tar")
	start := time.Now()
	r := runTool(t, work, nil, "-o", out, archive)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	t.Logf("%d MiB of layers in %.1f s: peak RSS %.1f MiB; %s", total>>20, time.Since(start).Seconds(), float64(r.maxRSS)/(1<<20), strings.TrimSpace(r.stderr))
	if r.maxRSS == 0 || r.maxRSS >= 64<<20 {
		t.Errorf("peak RSS %d bytes, want under 64 MiB", r.maxRSS)
	}
	// 1000 directories; the 200 deleted hold nothing, the 200 opaque
	// only the 34 files of the middle layer, the others 100.
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, dirs := 0, 0
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			dirs++
		} else {
			files++
		}
	}
	if wantFiles, wantDirs := 200*34+600*100+4, 800+1; files != wantFiles || dirs != wantDirs {
		t.Errorf("%d files and %d directories, want %d and %d", files, dirs, wantFiles, wantDirs)
	}
}
