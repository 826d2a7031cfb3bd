package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// bin is the fake-nss binary, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "fake-nss") }))
}

type result struct {
	code           int
	stdout, stderr string
}

func runTool(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	r := testutil.Exec(t, dir, env, nil, bin, args...)
	return result{r.Code, r.Stdout, r.Stderr}
}

type entry struct {
	hdr  *tar.Header
	data string
}

func readTar(t *testing.T, data []byte) map[string]entry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	m := map[string]entry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return m
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		m[h.Name] = entry{h, string(b)}
	}
}

// The conformance text of nixpkgs' fakeNss (testdata/conformance/README.md).
const (
	confPasswd = "root:x:0:0:root user:/var/empty:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n"
	confGroup  = "root:x:0:\nnobody:x:65534:\n"
)

func TestDefaultLayerOnStdout(t *testing.T) {
	dir := t.TempDir()
	r := runTool(t, dir, []string{"SOURCE_DATE_EPOCH="})
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	m := readTar(t, []byte(r.stdout))
	for name, want := range map[string]string{"/etc/passwd": confPasswd, "/etc/group": confGroup, "/etc/nsswitch.conf": "hosts: files dns\n"} {
		if m[name].data != want {
			t.Errorf("%s = %q, want %q", name, m[name].data, want)
		}
	}
	if e, ok := m["/var/empty/"]; !ok || e.hdr.Typeflag != tar.TypeDir || e.hdr.Mode != 0o555 {
		t.Errorf("/var/empty/: %+v", e.hdr)
	}
	if len(m) != 6 {
		t.Errorf("%d entries: %v", len(m), m)
	}
	for name, e := range m {
		if e.hdr.ModTime.Unix() != 1 || e.hdr.Uid != 0 || e.hdr.Uname != "root" {
			t.Errorf("%s: mtime %v, owner %d %s", name, e.hdr.ModTime, e.hdr.Uid, e.hdr.Uname)
		}
	}
	// SOURCE_DATE_EPOCH sets the times; -o writes the same bytes to a file.
	r2 := runTool(t, dir, []string{"SOURCE_DATE_EPOCH=1000000000"}, "-o", "nss.tar")
	if r2.code != 0 || r2.stdout != "" || r2.stderr != "" {
		t.Fatalf("-o: exit %d, stdout %q, stderr %q", r2.code, r2.stdout, r2.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "nss.tar"))
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range readTar(t, data) {
		if e.hdr.ModTime.Unix() != 1000000000 {
			t.Errorf("%s: mtime %v with SOURCE_DATE_EPOCH=1000000000", name, e.hdr.ModTime)
		}
	}
	r3 := runTool(t, dir, []string{"SOURCE_DATE_EPOCH=1000000000"})
	if r3.stdout != string(data) {
		t.Error("stdout and -o differ")
	}
}

func TestExtraLinesUsersAndShadow(t *testing.T) {
	dir := t.TempDir()
	r := runTool(t, dir, nil,
		"--passwd-line", "www:x:33:33:Web Server,Room 1,,:/var/www:/usr/sbin/nologin",
		"--group-line", "www:x:33:",
		"--user", "app:1000:1000",
		"--user", "ops:1001:33:/home/ops:/bin/bash",
		"--shadow", "--dir", "root")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	want := map[string]string{
		"etc/passwd":  "root:x:0:0:root user:/var/empty:/bin/sh\nwww:x:33:33:Web Server,Room 1,,:/var/www:/usr/sbin/nologin\napp:x:1000:1000:app:/var/empty:/bin/sh\nops:x:1001:33:ops:/home/ops:/bin/bash\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n",
		"etc/group":   "root:x:0:\nwww:x:33:\napp:x:1000:\nnobody:x:65534:\n",
		"etc/shadow":  "root:!x:::::::\nwww:!x:::::::\napp:!x:::::::\nops:!x:::::::\nnobody:!x:::::::\n",
		"etc/gshadow": "root:!::\nwww:!::\napp:!::\nnobody:!::\n",
	}
	for name, w := range want {
		b, err := os.ReadFile(filepath.Join(dir, "root", name))
		if err != nil || string(b) != w {
			t.Errorf("%s = %q (%v), want %q", name, b, err, w)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "root/etc/shadow")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("shadow: %v %v", fi, err)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--passwd-line", "a:x:1:1::/"}, `passwd line "a:x:1:1::/" has 6 fields, not 7`},
		{[]string{"--group-line", "g:x:1:a:b"}, `group line "g:x:1:a:b" has 5 fields, not 4`},
		{[]string{"--passwd-line", "a:x:1:1::/:/bin/sh", "--passwd-line", "a:x:2:2::/:/bin/sh"}, `name "a" is taken`},
		{[]string{"--passwd-line", "a:x:0:1::/:/bin/sh"}, `uid 0 is taken already by "root:x:0:0:root user:/var/empty:/bin/sh"`},
		{[]string{"--passwd-line", "a:x:1e3:1::/:/bin/sh"}, `uid "1e3" is not a number`},
		{[]string{"--user", "app:x:1"}, `--user "app:x:1": uid "x" is not a number`},
		{[]string{"--user", "app:1000"}, `--user "app:1000": want NAME:UID:GID`},
		{[]string{"--user", "nobody:7:7"}, `name "nobody" is taken`},
		{[]string{"-o", "out.tar", "--dir", "root"}, "give one"},
		{[]string{"extra-argument"}, "unexpected argument"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			r := runTool(t, dir, nil, append(tc.args, "-o", "out.tar")...)
			if tc.args[0] == "-o" {
				r = runTool(t, dir, nil, tc.args...)
			}
			if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "fake-nss: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing, one line holding %q", r.code, r.stdout, r.stderr, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

func TestDirRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "root/etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "root/etc/passwd"), []byte("mine\n"), 0o644)
	r := runTool(t, dir, nil, "--dir", "root")
	if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "root/etc/passwd exists with other contents") {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "root/etc")); len(ents) != 1 {
		t.Errorf("etc holds %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "root/var")); err == nil {
		t.Error("var was created")
	}
}

func TestOutputFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	r := runTool(t, dir, nil, "-o", "no/such/dir/nss.tar")
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "no/such/dir/nss.tar") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestDockerRunsAsNobody builds an image from a static program's store
// layer and fake-nss's layer, and runs the program as -u nobody (which
// docker resolves through the image's /etc/passwd) and as a --user.
func TestDockerRunsAsNobody(t *testing.T) {
	docker := testutil.Docker(t)
	dir := t.TempDir()
	hello := mergetest.Hello(t)
	r := runTool(t, dir, nil, "--user", "app:1000:1000:/srv/app", "-o", "nss.tar")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	tag := fmt.Sprintf("dt-fake-nss-test:%d", os.Getpid())
	im := mergetest.Image{
		Tags:   []string{tag},
		Layers: []mergetest.Layer{mergetest.StoreLayer(t, hello), mergetest.TarLayer(t, filepath.Join(dir, "nss.tar"))},
		Cmd:    []string{hello + "/bin/hello"},
	}
	archive := filepath.Join(dir, "image.tar")
	mergetest.WriteArchive(t, archive, compress.None, im)
	testutil.Run(t, docker, "load", "-i", archive)
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })
	for _, tc := range []struct{ user, want string }{
		{"nobody", "hello uid=65534 gid=65534 user=nobody home=/var/empty\n"},
		{"app", "hello uid=1000 gid=1000 user=app home=/srv/app\n"},
		{"root", "hello uid=0 gid=0 user=root home=/var/empty\n"},
	} {
		out := testutil.Run(t, docker, "run", "--rm", "--network=none", "-u", tc.user, tag)
		if out != tc.want {
			t.Errorf("-u %s: %q, want %q", tc.user, out, tc.want)
		}
	}
}
