package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// bin is the tarsum binary, built once by TestMain: the tests run the
// real command and look at its exit code, stdout and stderr.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "tarsum") }))
}

type result struct {
	code           int
	stdout, stderr string
}

func runTool(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = []byte{}
	}
	r := testutil.Exec(t, t.TempDir(), nil, stdin, bin, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

// anotherTxt is the archive of conformance/README.md's another.txt, with
// its known dev sum.
func anotherTxt(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := tw.WriteHeader(&tar.Header{
		Name: "another.txt", Uid: 1000, Gid: 1000, Uname: "slartibartfast", Gname: "users",
		Size: 4, Typeflag: tar.TypeReg,
	})
	if err == nil {
		_, err = tw.Write([]byte("test"))
	}
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	devSum = "tarsum.dev+sha256:862964db95e0fa7e42836ae4caab3576ab1df8d275720a45bdd01a5a3730cc63"
	// The v1 and v0 sums of the same archive: v1 hashes what dev hashes.
	v1Sum    = "tarsum.v1+sha256:862964db95e0fa7e42836ae4caab3576ab1df8d275720a45bdd01a5a3730cc63"
	emptyHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gzipped(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw, err := compress.NewWriter(&buf, compress.Zstd)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatal("not zstd")
	}
	return buf.Bytes()
}

func libSum(t *testing.T, archive []byte, v tarsum.Version, extra []byte) string {
	t.Helper()
	s, err := tarsum.Archive(bytes.NewReader(archive), v, "sha256", extra)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSums(t *testing.T) {
	dir := t.TempDir()
	archive := anotherTxt(t)
	plain := write(t, dir, "layer.tar", archive)
	gz := write(t, dir, "layer.tar.gz", gzipped(t, archive))
	zst := write(t, dir, "layer.tar.zst", zstded(t, archive))
	notGzName := write(t, dir, "gz-looking.tar.gz", archive) // the name does not matter
	extra := write(t, dir, "json", []byte(`{"id":"x"}`))
	empty := write(t, dir, "empty", nil)

	v0 := libSum(t, archive, tarsum.Version0, nil)
	withExtra := libSum(t, archive, tarsum.Version1, []byte(`{"id":"x"}`))

	cases := []struct {
		name  string
		stdin []byte
		args  []string
		want  string
	}{
		{"FILE", nil, []string{plain}, v1Sum},
		{"stdin", archive, nil, v1Sum},
		{"-", archive, []string{"-"}, v1Sum},
		{"gzip FILE", nil, []string{gz}, v1Sum},
		{"gzip stdin", gzipped(t, archive), nil, v1Sum},
		{"zstd FILE", nil, []string{zst}, v1Sum},
		{"zstd stdin", zstded(t, archive), []string{"-"}, v1Sum},
		{"name is not what counts", nil, []string{notGzName}, v1Sum},
		{"--version v1", nil, []string{"--version", "v1", plain}, v1Sum},
		{"--version dev", nil, []string{"--version", "dev", plain}, devSum},
		{"--version=dev", nil, []string{"--version=dev", plain}, devSum},
		{"--tarsum-version tarsum.dev", nil, []string{"--tarsum-version", "tarsum.dev", plain}, devSum},
		{"-v dev, stdin", archive, []string{"-v", "dev"}, devSum},
		{"--version v0", archive, []string{"--version", "v0", "-"}, v0},
		{"--extra", nil, []string{"--extra", extra, gz}, withExtra},
		{"empty input", nil, nil, "tarsum.v1+sha256:" + emptyHex},
		{"empty FILE, dev", nil, []string{"--version", "dev", empty}, "tarsum.dev+sha256:" + emptyHex},
		{"-- FILE", nil, []string{"--", plain}, v1Sum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runTool(t, c.stdin, c.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != c.want+"\n" {
				t.Errorf("stdout %q, want %q", r.stdout, c.want+"\n")
			}
		})
	}

	t.Run("--hash sha512", func(t *testing.T) {
		r := runTool(t, archive, "--hash", "sha512")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "tarsum.v1+sha512:") || len(r.stdout) != len("tarsum.v1+sha512:")+128+1 {
			t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("--version alone", func(t *testing.T) {
		for _, args := range [][]string{{"--version"}, {"-v"}, {"--version", "--hash", "sha256"}} {
			r := runTool(t, nil, args...)
			if r.code != 0 || r.stdout != "tarsum version "+cmdrun.Version+"\n" || r.stderr != "" {
				t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
			}
		}
	})
}

// An archive that holds a name twice, adjacent: moby keeps the two
// members' sums in archive order (see lib/tarsum's TestDuplicateNames,
// whose "twice, adjacent" case this is and whose doc says how moby's
// digests were computed), plain or compressed.
func TestDuplicateNames(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, name := range []string{"a", "a", "b"} {
		data := []byte("contents " + strconv.Itoa(i))
		err := tw.WriteHeader(&tar.Header{
			Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg,
			ModTime: time.Unix(int64(1e9+i), 0),
		})
		if err == nil {
			_, err = tw.Write(data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive := buf.Bytes()
	dir := t.TempDir()
	inputs := map[string]string{
		"plain": write(t, dir, "dup.tar", archive),
		"gzip":  write(t, dir, "dup.tar.gz", gzipped(t, archive)),
		"zstd":  write(t, dir, "dup.tar.zst", zstded(t, archive)),
	}
	const v1Hex = "bd50d51bb3aa3d48f935a0a949f3a4d78f1214e6d496ae708bf3cd6544c57f50"
	for version, want := range map[string]string{
		"v0":  "tarsum+sha256:0838e24fd9b9ce3f77704d6d91ddf40739034f7eda923f900b90b02c690cf5bb",
		"v1":  "tarsum.v1+sha256:" + v1Hex,
		"dev": "tarsum.dev+sha256:" + v1Hex,
	} {
		for kind, file := range inputs {
			r := runTool(t, nil, "--version", version, file)
			if r.code != 0 || r.stderr != "" || r.stdout != want+"\n" {
				t.Errorf("%s, %s: exit %d, stdout %q, stderr %q; want %s", version, kind, r.code, r.stdout, r.stderr, want)
			}
		}
	}
	if r := runTool(t, gzipped(t, archive)); r.stdout != "tarsum.v1+sha256:"+v1Hex+"\n" {
		t.Errorf("gzip stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	archive := anotherTxt(t)
	plain := write(t, dir, "layer.tar", archive)
	truncated := write(t, dir, "truncated.tar", archive[:514])
	text := write(t, dir, "notes.txt", []byte("just some text\n"))
	gz := gzipped(t, archive)
	zst := zstded(t, archive)
	corrupt := append([]byte(nil), gz...)
	corrupt[len(corrupt)-8] ^= 1 // the CRC-32 of the data
	cases := []struct {
		name  string
		stdin []byte
		args  []string
		code  int
		want  string // the stderr line, whole
	}{
		{"not a tar", nil, []string{text}, 1, "tarsum: " + text + ": not a tar archive"},
		{"not a tar, stdin", []byte("hello"), nil, 1, "tarsum: stdin: not a tar archive"},
		{"truncated", nil, []string{truncated}, 1, "tarsum: " + truncated + `: truncated tar archive (member "another.txt")`},
		{"truncated gzip", gz[:len(gz)/2], nil, 1, "tarsum: stdin: gzip: unexpected EOF"},
		{"truncated zstd", zst[:len(zst)-3], nil, 1, "tarsum: stdin: zstd: unexpected EOF"},
		{"corrupt gzip", corrupt, nil, 1, "tarsum: stdin: gzip: invalid checksum"},
		{"gzip of text", gzipped(t, []byte("hello, world, this is not tar\n")), nil, 1, "tarsum: stdin: not a tar archive"},
		{"missing file", nil, []string{filepath.Join(dir, "missing.tar")}, 1, "tarsum: open " + filepath.Join(dir, "missing.tar") + ": no such file or directory"},
		{"a directory", nil, []string{dir}, 1, ""},
		{"missing --extra", nil, []string{"--extra", filepath.Join(dir, "nope"), plain}, 1, ""},
		{"unknown version", nil, []string{"--version", "v9", plain}, 2, `tarsum: unknown TarSum version "v9" (want v0, v1 or dev)`},
		{"unknown version=", nil, []string{"--version=2", plain}, 2, `tarsum: unknown TarSum version "2" (want v0, v1 or dev)`},
		{"unknown hash", nil, []string{"--hash", "md5", plain}, 2, `tarsum: --hash: unknown hash "md5" (want sha256 or sha512)`},
		{"two FILEs", nil, []string{plain, plain}, 2, "tarsum: one archive at a time (got 2)"},
		{"unknown flag", nil, []string{"--frobnicate", plain}, 2, ""},
		{"--extra without value", nil, []string{"--extra"}, 2, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runTool(t, c.stdin, c.args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "tarsum: ") || !strings.HasSuffix(r.stderr, "\n") || strings.Count(r.stderr, "\n") != 1 {
				t.Errorf("stderr %q, want one line starting with \"tarsum: \"", r.stderr)
			}
			if c.want != "" && r.stderr != c.want+"\n" {
				t.Errorf("stderr %q, want %q", r.stderr, c.want+"\n")
			}
		})
	}
}

// A closed stdout is an error, not a signal.
func TestClosedStdout(t *testing.T) {
	cmd := exec.Command(bin)
	cmd.Stdin = bytes.NewReader(anotherTxt(t))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	if cmd.ProcessState.ExitCode() != 1 || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("run: %v, exit %d, stderr %q", err, cmd.ProcessState.ExitCode(), stderr.String())
	}
}

func TestVersionArgs(t *testing.T) {
	cases := []struct{ in, want []string }{
		{[]string{"tarsum"}, []string{"tarsum"}},
		{[]string{"tarsum", "--version"}, []string{"tarsum", "--version"}},
		{[]string{"tarsum", "--version", "v0", "f"}, []string{"tarsum", "--tarsum-version", "v0", "f"}},
		{[]string{"tarsum", "-v", "dev"}, []string{"tarsum", "--tarsum-version", "dev"}},
		{[]string{"tarsum", "--version", "nonsense"}, []string{"tarsum", "--tarsum-version", "nonsense"}},
		{[]string{"tarsum", "--version", "--hash", "sha512"}, []string{"tarsum", "--version", "--hash", "sha512"}},
		{[]string{"tarsum", "--version", "-"}, []string{"tarsum", "--version", "-"}},
		{[]string{"tarsum", "--version=dev"}, []string{"tarsum", "--tarsum-version=dev"}},
		{[]string{"tarsum", "--", "--version", "dev"}, []string{"tarsum", "--", "--version", "dev"}},
		{[]string{"tarsum", "f", "--version"}, []string{"tarsum", "f", "--version"}},
	}
	for _, c := range cases {
		if got := versionArgs(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("versionArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
