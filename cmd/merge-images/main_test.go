package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
	"github.com/go-dockertools/dockertools/lib/testutil"
	"github.com/opencontainers/go-digest"
)

// bin is the merge-images binary, built once by TestMain: the tests run
// the real command and look at its exit code, stdout, stderr, output
// files and memory.
var bin string

func TestMain(m *testing.M) {
	if b := os.Getenv("MERGE_IMAGES_TEST_SPAWN"); b != "" {
		os.Exit(spawn(b, os.Args[1:], os.Getenv("MERGE_IMAGES_TEST_RUSAGE")))
	}
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "merge-images") }))
}

type result struct {
	code           int
	stdout, stderr string
	maxRSS         int64 // bytes
}

// spawn runs the tool for runTool and writes its peak RSS to the file
// rusage. The test process starts the tool through this fresh copy of
// itself, because Linux counts the memory of the process that starts a
// program (vfork, then exec) in that program's peak RSS.
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

// runTool runs merge-images in dir.
func runTool(t *testing.T, dir string, args ...string) result {
	t.Helper()
	rusage := filepath.Join(t.TempDir(), "rusage")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MERGE_IMAGES_TEST_SPAWN="+bin, "MERGE_IMAGES_TEST_RUSAGE="+rusage)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("merge-images %s: %v", strings.Join(args, " "), err)
	}
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if b, err := os.ReadFile(rusage); err == nil {
		fmt.Sscan(string(b), &r.maxRSS)
	}
	return r
}

// good writes an ordinary archive of two layers into dir.
func good(t *testing.T, dir, name, tag string) (string, mergetest.Image) {
	t.Helper()
	im := mergetest.Image{Tags: []string{tag}, Layers: []mergetest.Layer{
		mergetest.RootLayer(t, map[string]string{"shared": "shared"}),
		mergetest.RootLayer(t, map[string]string{tag: tag}),
	}}
	f := filepath.Join(dir, name)
	mergetest.WriteArchive(t, f, compress.None, im)
	return f, im
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	a, _ := good(t, dir, "a.tar", "a:1")
	for _, args := range [][]string{
		{},
		{"--compress", "bzip2", a},
		{"--no-such-flag", a},
	} {
		r := runTool(t, dir, args...)
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "merge-images: ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2, nothing, one line", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestMergeToFileAndStdout(t *testing.T) {
	dir := t.TempDir()
	a, ia := good(t, dir, "a.tar", "a:1")
	b, ib := good(t, dir, "b.tar", "b:1")
	r := runTool(t, dir, "-o", "out.tar", a, b)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "merged 2 images (2 tags, 3 layers) from 2 archives into out.tar") {
		t.Errorf("stderr %q", r.stderr)
	}
	ar, err := dockerarchive.Open(filepath.Join(dir, "out.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	if len(ar.Images) != 2 || ar.Images[0].ConfigDigest != ia.ID() || ar.Images[1].ConfigDigest != ib.ID() {
		t.Errorf("images %+v", ar.Images)
	}
	// stdout gets the same bytes; -q silences the summary.
	r2 := runTool(t, dir, "-q", a, b)
	file, _ := os.ReadFile(filepath.Join(dir, "out.tar"))
	if r2.code != 0 || r2.stderr != "" || r2.stdout != string(file) {
		t.Errorf("stdout: exit %d, stderr %q, same bytes %v", r2.code, r2.stderr, r2.stdout == string(file))
	}
	// --compress zstd decompresses to the same bytes.
	r3 := runTool(t, dir, "-q", "--compress", "zstd", "-o", "out.tar.zst", a, b)
	if r3.code != 0 {
		t.Fatal(r3.stderr)
	}
	zf, _ := os.Open(filepath.Join(dir, "out.tar.zst"))
	defer zf.Close()
	zr, kind, err := compress.NewReader(zf)
	if err != nil || kind != compress.Zstd {
		t.Fatalf("%v %s", err, kind)
	}
	var plain bytes.Buffer
	plain.ReadFrom(zr)
	if !bytes.Equal(plain.Bytes(), file) {
		t.Error("zstd output differs from the plain one")
	}
}

func TestTagClashFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	a, _ := good(t, dir, "a.tar", "app:1")
	other := mergetest.Image{Tags: []string{"app:1"}, Layers: []mergetest.Layer{mergetest.RootLayer(t, map[string]string{"other": "x"})}}
	b := filepath.Join(dir, "b.tar.gz")
	mergetest.WriteArchive(t, b, compress.Gzip, other)
	r := runTool(t, dir, "-o", "out.tar", a, b)
	checkFailure(t, dir, r, "app:1", a, b, "two different images")
}

// checkFailure checks a failed run: exit 1, nothing on stdout, one line on
// stderr holding every want, and no output file (nor temporary file) in dir.
func checkFailure(t *testing.T, dir string, r result, want ...string) {
	t.Helper()
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "merge-images: ") {
		t.Errorf("exit %d, stdout %d bytes, stderr %q; want 1, nothing, one line", r.code, len(r.stdout), r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr %q does not hold %q", r.stderr, w)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "out") {
			t.Errorf("output %s left behind", e.Name())
		}
	}
}

// member is one member of a hand-made archive.
type member struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) member {
	return member{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}, data}
}

// writeTar writes members with archive/tar (the headers as given).
func writeTar(t *testing.T, name string, ms ...member) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := m.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// layerTar is a small valid layer and its diffID.
func layerTar(t *testing.T) ([]byte, digest.Digest) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "hello", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	tw.Write([]byte("hello"))
	tw.Close()
	return buf.Bytes(), digest.FromBytes(buf.Bytes())
}

func config(diffIDs ...digest.Digest) []byte {
	var ids []string
	for _, d := range diffIDs {
		ids = append(ids, `"`+d.String()+`"`)
	}
	return []byte(`{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":[` + strings.Join(ids, ",") + `]},"history":[{"created_by":"test"}]}`)
}

func manifest(config string, layers ...string) []byte {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	var ls []string
	for _, l := range layers {
		ls = append(ls, q(l))
	}
	return []byte(`[{"Config":` + q(config) + `,"RepoTags":["evil:1"],"Layers":[` + strings.Join(ls, ",") + `]}]`)
}

// valid returns the members of a valid one-image archive, for the cases
// that spoil one of them.
func valid(t *testing.T) (layer member, cfg member, man member) {
	lt, diffID := layerTar(t)
	c := config(diffID)
	cname := digest.FromBytes(c).Encoded() + ".json"
	return file("l/layer.tar", lt), file(cname, c), file("manifest.json", manifest(cname, "l/layer.tar"))
}

func TestValidHandMadeArchive(t *testing.T) {
	dir := t.TempDir()
	l, c, m := valid(t)
	f := filepath.Join(dir, "valid.tar")
	writeTar(t, f, l, c, m)
	if r := runTool(t, dir, "-o", "out.tar", f); r.code != 0 {
		t.Fatalf("the valid base of the hostile cases is refused: %s", r.stderr)
	}
}

// docker save before version 25 stores a layer that two images hold at
// different depths once, and links the second place to it; the links are
// followed within the archive.
func TestLinkedLayersWithinTheArchive(t *testing.T) {
	l, c, m := valid(t)
	for _, tc := range []struct {
		name string
		link member
	}{
		{"symlink", member{tar.Header{Name: "l/layer.tar", Typeflag: tar.TypeSymlink, Linkname: "../real/layer.tar", Mode: 0o777}, nil}},
		{"hard link", member{tar.Header{Name: "l/layer.tar", Typeflag: tar.TypeLink, Linkname: "real/layer.tar", Mode: 0o644}, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "linked.tar")
			real := l
			real.hdr.Name = "real/layer.tar"
			writeTar(t, f, real, tc.link, c, m)
			in, err := dockerarchive.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			if l := in.Images[0].Layers[0]; l.Header.Typeflag != tc.link.hdr.Typeflag || l.Size() != real.hdr.Size || l.Verify() != nil {
				t.Errorf("linked layer: header type %c, size %d", l.Header.Typeflag, l.Size())
			}
			in.Close()
			if r := runTool(t, dir, "-o", "out.tar", f); r.code != 0 {
				t.Fatal(r.stderr)
			}
			ar, err := dockerarchive.Open(filepath.Join(dir, "out.tar"))
			if err != nil {
				t.Fatal(err)
			}
			defer ar.Close()
			ls := ar.Images[0].Layers
			if len(ls) != 1 || ls[0].Header.Typeflag != tar.TypeReg || ls[0].Verify() != nil {
				t.Errorf("layers %+v", ls)
			}
		})
	}
}

func TestHostileArchives(t *testing.T) {
	l, c, m := valid(t)
	lt, _ := layerTar(t)
	link := func(name, target string, typ byte) member {
		return member{tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}, nil}
	}
	cname := c.hdr.Name
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, f string)
		want  string
	}{
		{"absolute member name", func(t *testing.T, f string) {
			writeTar(t, f, l, c, m, file("/etc/passwd", []byte("x")))
		}, `"/etc/passwd" has an absolute name`},
		{"member climbing out", func(t *testing.T, f string) {
			writeTar(t, f, file("../x", []byte("x")), l, c, m)
		}, `"../x" climbs out`},
		{"member climbing out midway", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("a/../../x", []byte("x")), m)
		}, `climbs out`},
		{"manifest.json a symlink", func(t *testing.T, f string) {
			writeTar(t, f, l, c, link("manifest.json", "/etc/passwd", tar.TypeSymlink))
		}, `manifest "manifest.json" is a link`},
		{"manifest.json a hard link", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("m", m.data), link("manifest.json", "m", tar.TypeLink))
		}, `manifest "manifest.json" is a link`},
		{"config a symlink", func(t *testing.T, f string) {
			writeTar(t, f, l, link(cname, "/etc/passwd", tar.TypeSymlink), m)
		}, "is a link"},
		{"layer a symlink out of the archive", func(t *testing.T, f string) {
			writeTar(t, f, link("l/layer.tar", "../../../etc/passwd", tar.TypeSymlink), c, m)
		}, `layer "l/layer.tar" is a link to "../../../etc/passwd", outside the archive`},
		{"layer an absolute symlink", func(t *testing.T, f string) {
			writeTar(t, f, link("l/layer.tar", "/etc/passwd", tar.TypeSymlink), c, m)
		}, `layer "l/layer.tar" is a link to "/etc/passwd", outside the archive`},
		{"layer a hard link out of the archive", func(t *testing.T, f string) {
			writeTar(t, f, link("l/layer.tar", "/etc/passwd", tar.TypeLink), c, m)
		}, `layer "l/layer.tar" is a link to "/etc/passwd", outside the archive`},
		{"layer a hard link climbing out", func(t *testing.T, f string) {
			writeTar(t, f, link("l/layer.tar", "../etc/passwd", tar.TypeLink), c, m)
		}, "outside the archive"},
		{"layer a symlink to a symlink", func(t *testing.T, f string) {
			writeTar(t, f, file("real/layer.tar", lt), link("x/layer.tar", "../real/layer.tar", tar.TypeSymlink),
				link("l/layer.tar", "../x/layer.tar", tar.TypeSymlink), c, m)
		}, `layer "x/layer.tar" is a link, not a file`},
		{"layer a symlink to nothing", func(t *testing.T, f string) {
			writeTar(t, f, link("l/layer.tar", "../x/layer.tar", tar.TypeSymlink), c, m)
		}, `layer "x/layer.tar" is not in the archive`},
		{"layer a symlink to a member that does not match", func(t *testing.T, f string) {
			writeTar(t, f, file("x/layer.tar", []byte("something else")), link("l/layer.tar", "../x/layer.tar", tar.TypeSymlink), c, m)
		}, "does not match its diff_id"},
		{"layer a directory", func(t *testing.T, f string) {
			writeTar(t, f, member{tar.Header{Name: "l/layer.tar/", Typeflag: tar.TypeDir, Mode: 0o755}, nil}, c, m)
		}, "not a regular file"},
		{"manifest names a missing layer", func(t *testing.T, f string) {
			writeTar(t, f, c, file("manifest.json", manifest(cname, "l/layer.tar")))
		}, `layer "l/layer.tar" is not in the archive`},
		{"manifest names a missing config", func(t *testing.T, f string) {
			writeTar(t, f, l, m)
		}, `config "` + cname + `" is not in the archive`},
		{"manifest names a config by an absolute name", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("manifest.json", manifest("/etc/passwd", "l/layer.tar")))
		}, "absolute name"},
		{"manifest names a layer outside", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("manifest.json", manifest(cname, "../../etc/passwd")))
		}, "climbs out"},
		{"no manifest", func(t *testing.T, f string) {
			writeTar(t, f, l, c)
		}, "no manifest.json"},
		{"layer not matching its diff_id", func(t *testing.T, f string) {
			bad := append([]byte(nil), lt...)
			bad[512] = 'j' // "jello"
			writeTar(t, f, file("l/layer.tar", bad), c, m)
		}, "does not match its diff_id"},
		{"diff_id not a digest", func(t *testing.T, f string) {
			cf := []byte(`{"rootfs":{"type":"layers","diff_ids":["sha256:xyz"]}}`)
			writeTar(t, f, l, file("c.json", cf), file("manifest.json", manifest("c.json", "l/layer.tar")))
		}, "not a sha256 digest"},
		{"fewer diff_ids than layers", func(t *testing.T, f string) {
			writeTar(t, f, l, file("c.json", config()), file("manifest.json", manifest("c.json", "l/layer.tar")))
		}, "0 diff_ids for 1 layers"},
		{"header claiming an absurd size", func(t *testing.T, f string) {
			writeTar(t, f, l, c, m)
			absurdSize(t, f, "l/layer.tar", 1<<40)
		}, "claims 1099511627776 bytes"},
		{"manifest.json bigger than MaxJSONSize", func(t *testing.T, f string) {
			big := append(manifest(cname, "l/layer.tar"), bytes.Repeat([]byte(" "), dockerarchive.MaxJSONSize)...)
			writeTar(t, f, l, c, file("manifest.json", big))
		}, "more than the 16777216"},
		{"deeply nested JSON", func(t *testing.T, f string) {
			deep := append(bytes.Repeat([]byte("["), 1<<20), bytes.Repeat([]byte("]"), 1<<20)...)
			writeTar(t, f, l, c, file("manifest.json", deep))
		}, "manifest.json"},
		{"manifest not JSON", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("manifest.json", []byte("<xml/>")))
		}, "manifest.json"},
		{"manifest with trailing data", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("manifest.json", append(m.data, "[]"...)))
		}, "trailing data"},
		{"empty manifest", func(t *testing.T, f string) {
			writeTar(t, f, l, c, file("manifest.json", []byte("[]")))
		}, "no image"},
		{"not a tar at all", func(t *testing.T, f string) {
			os.WriteFile(f, bytes.Repeat([]byte("not a tar archive, just text\n"), 100), 0o644)
		}, "not a tar archive"},
		{"empty file", func(t *testing.T, f string) {
			os.WriteFile(f, nil, 0o644)
		}, "empty"},
		{"truncated tar", func(t *testing.T, f string) {
			writeTar(t, f, l, c, m)
			data, _ := os.ReadFile(f)
			os.WriteFile(f, data[:700], 0o644)
		}, ""},
		{"truncated gzip", func(t *testing.T, f string) {
			writeTar(t, f, l, c, m)
			data, _ := os.ReadFile(f)
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(data)
			zw.Close()
			os.WriteFile(f, gz.Bytes()[:gz.Len()/2], 0o644)
		}, "gzip"},
		{"truncated zstd", func(t *testing.T, f string) {
			writeTar(t, f, l, c, m)
			data, _ := os.ReadFile(f)
			var zs bytes.Buffer
			zw, _ := compress.NewWriter(&zs, compress.Zstd)
			zw.Write(data)
			zw.Close()
			os.WriteFile(f, zs.Bytes()[:zs.Len()/2], 0o644)
		}, "zstd"},
		{"a directory", func(t *testing.T, f string) {
			os.Mkdir(f, 0o755)
		}, "directory"},
		{"missing file", func(t *testing.T, f string) {}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			work := filepath.Join(dir, "work")
			os.Mkdir(work, 0o755)
			okFile, _ := good(t, work, "ok.tar", "ok:1")
			f := filepath.Join(work, "hostile.tar")
			tc.write(t, f)
			before := listTree(t, dir)
			r := runTool(t, work, "-o", "out.tar", okFile, f)
			t.Log(r.stderr)
			checkFailure(t, work, r, f, tc.want)
			if after := listTree(t, dir); after != before {
				t.Errorf("files changed:\n%s\nwas:\n%s", after, before)
			}
		})
	}
}

// absurdSize rewrites the size field of member name in the tar file f.
func absurdSize(t *testing.T, f, name string, size int64) {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, mergetest.WithMemberSize(t, data, name, size), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listTree lists the files below dir and their sizes.
func listTree(t *testing.T, dir string) string {
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			lines = append(lines, fmt.Sprintf("%s %d", p, fi.Size()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestHostileArchivesMemory runs the archives built to make a reader
// allocate far more than their size, and checks the peak RSS of the
// process.
func TestHostileArchivesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes archives of tens of MiB")
	}
	const limit = 200 << 20
	l, c, _ := valid(t)
	_, diffID := layerTar(t)
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, f string)
		want  string
	}{
		{"a million manifest entries", func(t *testing.T, f string) {
			var b bytes.Buffer
			b.WriteString("[")
			for i := 0; i < 1_000_000; i++ {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`{}`)
			}
			b.WriteString("]")
			writeTar(t, f, l, c, file("manifest.json", b.Bytes()))
		}, "more than 10000 images"},
		{"one 16 MiB config named by 9999 images", func(t *testing.T, f string) {
			big := []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"pad":"` + strings.Repeat("x", dockerarchive.MaxJSONSize-100) + `"}`)
			var b bytes.Buffer
			b.WriteString("[")
			for i := 0; i < dockerarchive.MaxImages-1; i++ {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"Config":"big.json","RepoTags":["evil:%d"],"Layers":[]}`, i)
			}
			b.WriteString(`,{"Config":"missing.json"}]`) // fails after reading the rest
			writeTar(t, f, file("big.json", big), file("manifest.json", b.Bytes()))
		}, `config "missing.json" is not in the archive`},
		{"more members than MaxMembers", func(t *testing.T, f string) {
			out, err := os.Create(f)
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			tw := tar.NewWriter(out)
			for i := 0; i <= dockerarchive.MaxMembers; i++ {
				tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("m%07d", i), Typeflag: tar.TypeReg, Mode: 0o644})
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
		}, fmt.Sprintf("more than %d members", dockerarchive.MaxMembers)},
		{"configs adding up to more than MaxConfigBytes", func(t *testing.T, f string) {
			ms := []member{l}
			var entries []string
			for i := 0; i*(dockerarchive.MaxJSONSize-100) <= dockerarchive.MaxConfigBytes; i++ {
				cfg := []byte(fmt.Sprintf(`{"rootfs":{"type":"layers","diff_ids":[%q]},"pad":"%s"}`, diffID, strings.Repeat("x", dockerarchive.MaxJSONSize-200)))
				name := fmt.Sprintf("c%d.json", i)
				ms = append(ms, file(name, cfg))
				entries = append(entries, fmt.Sprintf(`{"Config":%q,"Layers":["l/layer.tar"]}`, name))
			}
			ms = append(ms, file("manifest.json", []byte("["+strings.Join(entries, ",")+"]")))
			writeTar(t, f, ms...)
		}, "configs add up to more than"},
		{"millions of layer references", func(t *testing.T, f string) {
			ids := make([]digest.Digest, dockerarchive.MaxLayers)
			for i := range ids {
				ids[i] = diffID
			}
			cfg := config(ids...)
			var b bytes.Buffer
			b.WriteString("[")
			for i := 0; b.Len() < dockerarchive.MaxJSONSize-8000; i++ {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(`{"Config":"c.json","Layers":["l"` + strings.Repeat(`,"l"`, dockerarchive.MaxLayers-1) + `]}`)
			}
			b.WriteString("]")
			writeTar(t, f, file("l", l.data), file("c.json", cfg), file("manifest.json", b.Bytes()))
		}, "layers in all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "hostile.tar")
			tc.write(t, f)
			r := runTool(t, dir, "-o", "out.tar", f)
			t.Logf("peak RSS %d MiB: %s", r.maxRSS>>20, r.stderr)
			checkFailure(t, dir, r, f, tc.want)
			if r.maxRSS > limit {
				t.Errorf("peak RSS %d MiB, more than %d MiB", r.maxRSS>>20, limit>>20)
			}
		})
	}
}

// loadAndCheck loads archive into the engine and checks that every image
// is there under every tag with its ID; it returns the tags, to remove.
func loadAndCheck(t *testing.T, docker, archive string, images ...mergetest.Image) []string {
	t.Helper()
	out := testutil.Run(t, docker, "load", "-i", archive)
	var tags []string
	for _, im := range images {
		for _, tag := range im.Tags {
			tags = append(tags, tag)
			if !strings.Contains(out, "Loaded image: "+tag+"\n") {
				t.Errorf("docker load did not load %s:\n%s", tag, out)
			}
			id := strings.TrimSpace(testutil.Run(t, docker, "image", "inspect", "--format", "{{.Id}}", tag))
			if id != im.ID().String() {
				t.Errorf("%s is image %s, want %s", tag, id, im.ID())
			}
		}
	}
	return tags
}

func rmi(docker string, tags []string) {
	exec.Command(docker, append([]string{"rmi", "-f"}, tags...)...).Run()
}

// TestDockerLoadsMergedImages merges three images (b shares a's five
// layers and adds two, like conformance cases a and b; c runs a program),
// given plain, gzip and zstd compressed, loads the result into a real
// Docker engine and runs c. Then it merges what docker save writes for a
// and b (Docker 20.10 symlinks the layer they share at different depths)
// with c again, and loads that.
func TestDockerLoadsMergedImages(t *testing.T) {
	docker := testutil.Docker(t)
	dir := t.TempDir()
	hello := mergetest.Hello(t)
	helloLayer := mergetest.StoreLayer(t, hello)
	var ls []mergetest.Layer
	for i := 0; i < 6; i++ {
		ls = append(ls, mergetest.RootLayer(t, map[string]string{fmt.Sprintf("etc/layer%d", i): fmt.Sprint(i)}))
	}
	repo := fmt.Sprintf("dt-merge-test-%d", os.Getpid())
	cmd := []string{hello + "/bin/hello"}
	a := mergetest.Image{Tags: []string{repo + "/app:a"}, Layers: []mergetest.Layer{helloLayer, ls[0], ls[1], ls[2], ls[3]}, Cmd: cmd}
	b := mergetest.Image{Tags: []string{"localhost:5000/" + repo + "/app:b"}, Layers: append(append([]mergetest.Layer{}, a.Layers...), ls[4], ls[5]), Cmd: cmd}
	c := mergetest.Image{Tags: []string{repo + "/hello:1", repo + "/hello:latest"}, Layers: []mergetest.Layer{helloLayer}, Cmd: cmd}
	mergetest.WriteArchive(t, filepath.Join(dir, "a.tar"), compress.None, a)
	mergetest.WriteArchive(t, filepath.Join(dir, "b.tar.gz"), compress.Gzip, b)
	mergetest.WriteArchive(t, filepath.Join(dir, "c.tar.zst"), compress.Zstd, c)

	r := runTool(t, dir, "-o", "merged.tar", "a.tar", "b.tar.gz", "c.tar.zst")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	ar, err := dockerarchive.Open(filepath.Join(dir, "merged.tar"))
	if err != nil {
		t.Fatal(err)
	}
	layerMembers := 0
	for _, name := range tarNames(t, filepath.Join(dir, "merged.tar")) {
		if strings.HasSuffix(name, "/layer.tar") {
			layerMembers++
		}
	}
	ar.Close()
	if layerMembers != 7 {
		t.Errorf("%d layer members, want 7 (the shared ones once)", layerMembers)
	}

	tags := loadAndCheck(t, docker, filepath.Join(dir, "merged.tar"), a, b, c)
	t.Cleanup(func() { rmi(docker, tags) })
	if out := testutil.Run(t, docker, "run", "--rm", "--network=none", c.Tags[0]); !strings.HasPrefix(out, "hello uid=0 gid=0") {
		t.Errorf("docker run: %q", out)
	}

	// docker save's own archive of a and b, merged with c.
	testutil.Run(t, docker, "save", "-o", filepath.Join(dir, "saved.tar"), a.Tags[0], b.Tags[0])
	rmi(docker, tags)
	links := 0
	f, err := os.Open(filepath.Join(dir, "saved.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for tr := tar.NewReader(f); ; {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeSymlink && strings.HasSuffix(h.Name, "/layer.tar") {
			links++
		}
	}
	t.Logf("docker save wrote %d symlinked layers", links) // Docker 20.10: 1; 25+: none
	r = runTool(t, dir, "-o", "merged2.tar", "saved.tar", "c.tar.zst")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	loadAndCheck(t, docker, filepath.Join(dir, "merged2.tar"), a, b, c)
	if out := testutil.Run(t, docker, "run", "--rm", "--network=none", b.Tags[0]); !strings.HasPrefix(out, "hello uid=0 gid=0") {
		t.Errorf("docker run: %q", out)
	}
}

func tarNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			return names
		}
		names = append(names, h.Name)
	}
}

// TestConformanceArchives merges the archives of conformance cases a and
// b (b holds a's five layers, and its customisation layer is a's fifth
// again) with a third image, given plain, gzip and zstd compressed: every
// layer is stored once, and a Docker engine loads all three images from
// the result and runs the third. The archives come from assemble-image
// --nixpkgs-conf.
func TestConformanceArchives(t *testing.T) {
	tools := t.TempDir()
	assemble := filepath.Join(tools, "assemble-image")
	build := exec.Command("go", "build", "-o", assemble, "./cmd/assemble-image")
	build.Dir = testutil.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building assemble-image: %v\n%s", err, out)
	}
	fx := testutil.ConformanceFixture(t)
	dir := fx.Dir
	for _, c := range []struct{ name, sum string }{
		{"a", "sha256:336425739690350f22697dc691c1ae569a499b3af2ec54d2579a256a39e3c342"},
		{"b", "sha256:a27b6a30d4c1b0c781c2ad70d911d1e3b2672617c197306e3f41ccb49c7ab8d9"},
	} {
		out := filepath.Join(dir, "out", c.name+".tar")
		testutil.Run(t, assemble, "-q", "--nixpkgs-conf", filepath.Join(dir, "out", c.name+".conf.json"), "-o", out)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(data).String(); got != c.sum {
			t.Fatalf("case %s: archive %s, conformance says %s", c.name, got, c.sum)
		}
	}
	hello := mergetest.Hello(t)
	third := mergetest.Image{
		Tags:   []string{fmt.Sprintf("dt-merge-conformance-%d/hello:1", os.Getpid())},
		Layers: []mergetest.Layer{mergetest.StoreLayer(t, hello)},
		Cmd:    []string{hello + "/bin/hello"},
	}
	mergetest.WriteArchive(t, filepath.Join(dir, "c.tar.zst"), compress.Zstd, third)
	bgz := mergetest.Compressed(t, filepath.Join(dir, "out", "b.tar"), compress.Gzip)

	r := runTool(t, dir, "-o", "merged.tar", filepath.Join("out", "a.tar"), bgz, "c.tar.zst")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var layers []string
	for _, name := range tarNames(t, filepath.Join(dir, "merged.tar")) {
		if strings.HasSuffix(name, "/layer.tar") {
			layers = append(layers, strings.TrimSuffix(name, "/layer.tar"))
		}
	}
	want := []string{ // a's five, b's two new ones, the third image's
		"d5a5363a4f9124f1271ab1247c7278352a8b8b148f900c60408253c58be9eac4",
		"7cbc8bdbc4c17bd9ad8009aa0bf0810eb1862faa389ba3c1db5454ed02a5111a",
		"080780f18ab3e58ef14c7d45aa8909a4081b82495ce262fb9dc5291b035aabff",
		"4e5f57a5581304b80d5f87669e7b5a2559d45ebc43e4f4c12f30c58d8ce3404d",
		"3e3d644cb5129a4b0ad6fc11f34394bbd1292557f240ae230bfd119db3faecf4",
		"5ba6bc179939637cdc61456b724d34e8bef466bfe9279d10554b119c5c27a694",
		"8c3fe7b3641776d10ea2f52cbfded3499a8b0bf74e4ce120754c361cfa57a234",
		third.Layers[0].DiffID.Encoded(),
	}
	if strings.Join(layers, " ") != strings.Join(want, " ") {
		t.Errorf("layer members:\n%v\nwant:\n%v", layers, want)
	}

	docker := testutil.Docker(t)
	out := testutil.Run(t, docker, "load", "-i", filepath.Join(dir, "merged.tar"))
	tags := []string{"fixture/app:a", "registry.example.com:5000/fixture/app:b", third.Tags[0]}
	t.Cleanup(func() { rmi(docker, tags) })
	ids := []string{
		"sha256:eed154d28377592d300fb77efc38d97433e8bc73dd9a05ed35dfbf577a42a22a",
		"sha256:a265d0c0728a5ccf991d7f22c3bfda116e44b160dabaf534fd0991a53011af22",
		third.ID().String(),
	}
	for i, tag := range tags {
		if !strings.Contains(out, "Loaded image: "+tag+"\n") {
			t.Errorf("docker load did not load %s:\n%s", tag, out)
		}
		if id := strings.TrimSpace(testutil.Run(t, docker, "image", "inspect", "--format", "{{.Id}}", tag)); id != ids[i] {
			t.Errorf("%s is %s, want %s", tag, id, ids[i])
		}
	}
	if out := testutil.Run(t, docker, "run", "--rm", "--network=none", third.Tags[0]); !strings.HasPrefix(out, "hello uid=0 gid=0") {
		t.Errorf("docker run: %q", out)
	}
}

func TestStdinInput(t *testing.T) {
	dir := t.TempDir()
	a, _ := good(t, dir, "a.tar", "a:1")
	gz := mergetest.Compressed(t, a, compress.Gzip)
	b, _ := good(t, dir, "b.tar", "b:1")
	in, err := os.Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(bin, "-q", "-o", "viastdin.tar", "-", b)
	cmd.Dir, cmd.Stdin = dir, in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	r := runTool(t, dir, "-q", "-o", "direct.tar", a, b)
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	x, _ := os.ReadFile(filepath.Join(dir, "viastdin.tar"))
	y, _ := os.ReadFile(filepath.Join(dir, "direct.tar"))
	if !bytes.Equal(x, y) {
		t.Error("reading an input from stdin gave other bytes")
	}
}

// TestMemoryDoesNotGrowWithTheArchive merges an archive holding a 256 MiB
// layer, plain and gzip compressed, and checks the peak RSS stays far
// below the layer's size.
func TestMemoryDoesNotGrowWithTheArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("writes archives of 256 MiB")
	}
	dir := t.TempDir()
	lf, err := os.Create(filepath.Join(dir, "big-layer.tar"))
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	tw := tar.NewWriter(lf)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for n := 0; n < size; n += len(chunk) {
		if _, err := tw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	big := mergetest.TarLayer(t, lf.Name())
	small, _ := good(t, dir, "small.tar", "small:1")
	mergetest.WriteArchive(t, filepath.Join(dir, "big.tar"), compress.None, mergetest.Image{Tags: []string{"big:1"}, Layers: []mergetest.Layer{big}})
	os.Remove(lf.Name())
	gz := mergetest.Compressed(t, filepath.Join(dir, "big.tar"), compress.Gzip)
	for _, in := range []string{"big.tar", gz} {
		r := runTool(t, dir, "-q", "-o", "out.tar", small, in)
		if r.code != 0 {
			t.Fatal(r.stderr)
		}
		t.Logf("%s: peak RSS %d MiB", filepath.Base(in), r.maxRSS>>20)
		if r.maxRSS > 100<<20 {
			t.Errorf("%s: peak RSS %d MiB for a %d MiB layer", in, r.maxRSS>>20, size>>20)
		}
		if fi, err := os.Stat(filepath.Join(dir, "out.tar")); err != nil || fi.Size() < size {
			t.Errorf("output: %v %v", fi, err)
		}
	}
}

// TestList: --list describes each image, --store-paths names the store
// paths in its layers, --tag picks one; it writes no archive.
func TestList(t *testing.T) {
	dir := t.TempDir()
	a, ia := good(t, dir, "a.tar", "a:1")
	store := mergetest.Image{Tags: []string{"s:1"}, Layers: []mergetest.Layer{
		mergetest.RootLayer(t, map[string]string{
			"nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-one/bin/x": "x",
			"nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-two":       "file",
			"etc/passwd": "root:x:0:0::/:/bin/sh\n",
		}),
	}}
	s := filepath.Join(dir, "s.tar.gz")
	mergetest.WriteArchive(t, s, compress.Gzip, store)

	r := runTool(t, dir, "--list", a, s)
	var got []imagefile.Summary
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var sum imagefile.Summary
		if err := json.Unmarshal([]byte(line), &sum); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, sum)
	}
	if r.code != 0 || len(got) != 2 || got[0].ImageID != ia.ID() || got[0].Layers != 2 || len(got[0].DiffIDs) != 2 ||
		got[0].Tags[0] != "a:1" || got[1].File != s || got[0].StorePaths != nil {
		t.Fatalf("exit %d, %+v, stderr %q", r.code, got, r.stderr)
	}

	r = runTool(t, dir, "--list", "--store-paths", "--tag", "s:1", a, s)
	want := `"storePaths":["/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-one","/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-two"]`
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, want) {
		t.Errorf("--store-paths --tag: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runTool(t, dir, "--list", "--tag", "nope:1", a)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, `no image tagged "nope:1"`) {
		t.Errorf("unknown tag: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = runTool(t, dir, "--store-paths", a)
	if r.code != 2 {
		t.Errorf("--store-paths without --list: exit %d", r.code)
	}
}

// TestListTagSpellings: --tag finds an image whatever spelling of its name
// the archive and the user chose, as docker does: app, app:latest,
// docker.io/library/app:latest and index.docker.io/library/app are one
// name; localhost:5000/app is another. A name docker would refuse is a
// usage error naming it.
func TestListTagSpellings(t *testing.T) {
	dir := t.TempDir()
	long, il := good(t, dir, "long.tar", "docker.io/library/app:latest")
	short, is := good(t, dir, "short.tar", "web:1")
	other, ir := good(t, dir, "other.tar", "localhost:5000/app")
	for _, c := range []struct {
		tag  string
		want digest.Digest // "": no image
	}{
		{"app:latest", il.ID()},
		{"app", il.ID()},
		{"docker.io/app", il.ID()},
		{"index.docker.io/library/app:latest", il.ID()},
		{"docker.io/library/app:latest", il.ID()},
		{"web:1", is.ID()},
		{"docker.io/library/web:1", is.ID()},
		{"index.docker.io/library/web:1", is.ID()},
		{"localhost:5000/app:latest", ir.ID()},
		{"localhost:5000/app", ir.ID()},
		{"app:1", ""},
		{"web", ""},
		{"library/app:latest", il.ID()},
		{"other/app", ""},
	} {
		r := runTool(t, dir, "--list", "--tag", c.tag, long, short, other)
		if c.want == "" {
			if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, fmt.Sprintf("no image tagged %q", c.tag)) {
				t.Errorf("--tag %s: exit %d, stdout %q, stderr %q; want no image", c.tag, r.code, r.stdout, r.stderr)
			}
			continue
		}
		var sum imagefile.Summary
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || json.Unmarshal([]byte(r.stdout), &sum) != nil || sum.ImageID != c.want {
			t.Errorf("--tag %s: exit %d, stdout %q, stderr %q; want image %s", c.tag, r.code, r.stdout, r.stderr, c.want)
		}
	}
	for _, tag := range []string{"App:1", "app:-x", "app@sha256:" + strings.Repeat("0", 64)} {
		r := runTool(t, dir, "--list", "--tag", tag, long)
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, strconv.Quote(tag)) {
			t.Errorf("--tag %s: exit %d, stdout %q, stderr %q; want a usage error naming it", tag, r.code, r.stdout, r.stderr)
		}
	}
}
