package robustness

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

var (
	helloOnce     sync.Once
	helloApp      string
	helloData     string
	helloBuildErr error
)

// helloClosure nix-builds examples/hello with a greeting of this test's
// own, so that its store paths are not the ones other tests use, and
// returns the app and data store paths.
func helloClosure(t *testing.T) (string, string) {
	t.Helper()
	testutil.Need(t, "nix-build", "nix")
	helloOnce.Do(func() {
		root := testutil.RepoRoot()
		dir := filepath.Join(scratch, "hello")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			helloBuildErr = err
			return
		}
		build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hello"), "./examples/hello")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			helloBuildErr = fmt.Errorf("building the example program: %v\n%s", err, out)
			return
		}
		nb := testutil.NixBuild("--arg", "hello", filepath.Join(dir, "hello"), "--argstr", "greeting", "hello from the reproducibility test",
			filepath.Join(root, "examples/hello/default.nix"), "--no-out-link")
		var stderr bytes.Buffer
		nb.Stderr = &stderr
		out, err := nb.Output()
		if err != nil {
			helloBuildErr = fmt.Errorf("nix-build: %v\n%s", err, stderr.String())
			return
		}
		helloApp = strings.TrimSpace(string(out))
		ref, err := os.ReadFile(filepath.Join(helloApp, "share", "data-path"))
		if err != nil {
			helloBuildErr = err
			return
		}
		helloData = strings.TrimSpace(string(ref))
	})
	if helloBuildErr != nil {
		t.Fatal(helloBuildErr)
	}
	return helloApp, helloData
}

// conditions are what must not change an image's bytes.
type conditions struct {
	umask      string
	gomaxprocs string
	jobs       string
	cwd        string
	env        []string // TZ, LANG, LC_ALL
}

// impurify gives every file below the roots a random owner and mtime
// (modes kept: chown clears setuid bits) and one more hard link (in a
// directory on the same file system), and returns the function that
// puts owners and times back and removes the links.
func impurify(t *testing.T, rng *rand.Rand, linkDirs map[string]string, roots ...string) func() {
	t.Helper()
	type saved struct {
		uid, gid int
		mtime    time.Time
		mode     fs.FileMode
	}
	old := map[string]saved{}
	var links []string
	for _, root := range roots {
		linkDir := linkDirs[root]
		must(t, filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			old[p] = saved{int(st.Uid), int(st.Gid), fi.ModTime(), fi.Mode()}
			if fi.Mode()&fs.ModeSymlink != 0 {
				return os.Lchown(p, 1000+rng.IntN(5000), 1000+rng.IntN(5000))
			}
			ts := time.Unix(rng.Int64N(1<<31), 0)
			if err := os.Lchown(p, 1000+rng.IntN(5000), 1000+rng.IntN(5000)); err != nil {
				return err
			}
			if err := os.Chmod(p, fi.Mode().Perm()|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
			if err := os.Chtimes(p, ts, ts); err != nil {
				return err
			}
			if fi.Mode().IsRegular() {
				l := filepath.Join(linkDir, fmt.Sprint(len(links)))
				links = append(links, l)
				return os.Link(p, l)
			}
			return nil
		}))
	}
	return func() {
		for _, l := range links {
			os.Remove(l)
		}
		for p, s := range old {
			os.Lchown(p, s.uid, s.gid)
			if s.mode&fs.ModeSymlink == 0 {
				os.Chmod(p, s.mode.Perm()|s.mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
				os.Chtimes(p, s.mtime, s.mtime)
			}
		}
	}
}

// TestReproducibleBuilds builds the same layered image of a Nix closure
// (examples/hello, with a customisation layer from --contents, fake NSS,
// /tmp and --extra-commands) twice with scripts/build-layered-image,
// the second time with other owners and mtimes on every store and
// contents file, an extra hard link to each, umask 077 instead of 022,
// GOMAXPROCS 1 instead of 4, --jobs 1 instead of 4, another working
// directory, and another TZ, LANG and LC_ALL: the archives must be the
// same bytes.
func TestReproducibleBuilds(t *testing.T) {
	testutil.NeedRoot(t)
	app, data := helloClosure(t)
	dir := t.TempDir()
	contents := filepath.Join(dir, "contents")
	writeFile(t, filepath.Join(contents, "etc", "app.conf"), []byte("greeting = hi\n"), 0o644)
	writeFile(t, filepath.Join(contents, "srv", "www", "index.html"), []byte("<p>hi</p>\n"), 0o644)
	writeFile(t, filepath.Join(contents, "usr", "bin", "tool"), []byte("#!/bin/sh\n"), 0o755)
	must(t, os.Symlink("../srv/www", filepath.Join(contents, "usr", "www")))
	config := filepath.Join(dir, "config.json")
	writeFile(t, config, []byte(`{"Entrypoint": ["`+app+`/bin/hello"], "Cmd": ["greet"], "Env": ["A=1"]}`), 0o644)

	build := func(c conditions) (string, []byte) {
		t.Helper()
		must(t, os.MkdirAll(c.cwd, 0o755))
		must(t, os.MkdirAll(filepath.Join(c.cwd, "tmp"), 0o755))
		args := []string{"-c", `umask "$0"; exec "$@"`, c.umask, script("build-layered-image"), "-q",
			"--name", "repro", "--config", config, "--contents", contents, "--fake-nss", "--tmp",
			"--extra-commands", `mkdir -p var/lib/app && echo state > var/lib/app/state && ln -s /tmp var/tmp`,
			"--jobs", c.jobs, "-o", "out.tar", app}
		env := append([]string{"GOMAXPROCS=" + c.gomaxprocs, "TMPDIR=" + filepath.Join(c.cwd, "tmp")}, c.env...)
		line := mustRun(t, c.cwd, env, "sh", args...)
		out, err := os.ReadFile(filepath.Join(c.cwd, "out.tar"))
		must(t, err)
		return line, out
	}

	lineA, a := build(conditions{umask: "022", gomaxprocs: "4", jobs: "4", cwd: filepath.Join(dir, "a"),
		env: []string{"TZ=UTC", "LANG=C.UTF-8", "LC_ALL="}})

	linkDir, err := os.MkdirTemp("/nix", ".dockertools-robustness-links-")
	must(t, err)
	defer os.RemoveAll(linkDir)
	contentLinks := filepath.Join(dir, "links")
	must(t, os.Mkdir(contentLinks, 0o755))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	restore := impurify(t, rng, map[string]string{app: linkDir, data: linkDir, contents: contentLinks}, app, data, contents)
	defer restore()

	lineB, b := build(conditions{umask: "077", gomaxprocs: "1", jobs: "1", cwd: filepath.Join(dir, "elsewhere", "b"),
		env: []string{"TZ=Asia/Kathmandu", "LANG=de_DE.UTF-8", "LC_ALL=tr_TR.UTF-8"}})
	if lineA != lineB {
		t.Errorf("result lines differ:\n%s%s", lineA, lineB)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the archives differ (%d and %d bytes): %s", len(a), len(b),
			archiveDiff(t, filepath.Join(dir, "a", "out.tar"), filepath.Join(dir, "elsewhere", "b", "out.tar")))
	}
}

// archiveDiff says which images, configs and layers of two archives
// differ.
func archiveDiff(t *testing.T, fa, fb string) string {
	t.Helper()
	a, err := dockerarchive.Open(fa)
	must(t, err)
	defer a.Close()
	b, err := dockerarchive.Open(fb)
	must(t, err)
	defer b.Close()
	if len(a.Images) != 1 || len(b.Images) != 1 {
		return fmt.Sprintf("%d and %d images", len(a.Images), len(b.Images))
	}
	ia, ib := a.Images[0], b.Images[0]
	var diffs []string
	if ia.ConfigDigest != ib.ConfigDigest {
		diffs = append(diffs, fmt.Sprintf("config\n%s\nvs\n%s", ia.Config, ib.Config))
	}
	for i := range min(len(ia.Layers), len(ib.Layers)) {
		la, lb := ia.Layers[i], ib.Layers[i]
		if la.DiffID == lb.DiffID {
			continue
		}
		ea, eb := entries(t, la.Open()), entries(t, lb.Open())
		for j := range max(len(ea), len(eb)) {
			var x, y string
			if j < len(ea) {
				x = ea[j]
			}
			if j < len(eb) {
				y = eb[j]
			}
			if x != y {
				diffs = append(diffs, fmt.Sprintf("layer %d entry %d: %q vs %q", i+1, j, x, y))
			}
		}
	}
	return strings.Join(diffs, "\n")
}

// entries lists a layer's entries: name, type, mode, owner, time, size
// and sha256 of the contents.
func entries(t *testing.T, r io.Reader) []string {
	t.Helper()
	tr := tar.NewReader(r)
	var es []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es
		}
		must(t, err)
		hash := sha256.New()
		io.Copy(hash, tr)
		es = append(es, fmt.Sprintf("%s %c %o %d:%d %s:%s %d %d %x %s", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname,
			h.ModTime.Unix(), h.Size, hash.Sum(nil)[:8], h.Linkname))
	}
}

// TestCompressionIndependentOfGOMAXPROCS: assemble-image and
// merge-images write the same gzip and zstd bytes with GOMAXPROCS 1 and 4.
func TestCompressionIndependentOfGOMAXPROCS(t *testing.T) {
	dir := t.TempDir()
	store, paths := mediumStore(t, dir)
	var descs []string
	for i := 0; i < 4; i++ {
		d := filepath.Join(dir, fmt.Sprint(i, ".json"))
		mustRun(t, dir, nil, tool("path-to-layer"), "-q", "--store-dir", store, "--index", fmt.Sprint(i),
			"-o", fmt.Sprint(i, ".tar"), "--descriptor", d, paths[3*i], paths[3*i+1], paths[3*i+2])
		descs = append(descs, d)
	}
	mustRun(t, dir, nil, tool("assemble-image"), append([]string{"-q", "--tag", "x:1", "-o", "x.tar"}, descs[:2]...)...)
	for _, kind := range []string{"gzip", "zstd"} {
		var outs []string
		for _, procs := range []string{"1", "4"} {
			env := []string{"GOMAXPROCS=" + procs}
			img := fmt.Sprintf("img-%s-%s.tar", kind, procs)
			mustRun(t, dir, env, tool("assemble-image"), append([]string{"-q", "--tag", "c:1", "--compress", kind, "-o", img}, descs...)...)
			merged := fmt.Sprintf("merged-%s-%s.tar", kind, procs)
			mustRun(t, dir, env, tool("merge-images"), "-q", "--compress", kind, "-o", merged, img, "x.tar")
			outs = append(outs, fileSHA(t, filepath.Join(dir, img)), fileSHA(t, filepath.Join(dir, merged)))
		}
		if outs[0] != outs[2] {
			t.Errorf("assemble-image --compress %s: GOMAXPROCS 1 gives %s, 4 gives %s", kind, outs[0], outs[2])
		}
		if outs[1] != outs[3] {
			t.Errorf("merge-images --compress %s: GOMAXPROCS 1 gives %s, 4 gives %s", kind, outs[1], outs[3])
		}
	}
}
