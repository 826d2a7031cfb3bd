package main

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// progSource is a static program that reports what the container gave
// it: arguments, user, directory, some variables and a file's contents.
const progSource = `package main

import (
	"encoding/json"
	"os"
)

func main() {
	cwd, _ := os.Getwd()
	motd, _ := os.ReadFile("/etc/motd")
	env := map[string]string{}
	for _, k := range []string{"GREETING", "PATH", "EXTRA", "HOME", "FROM_BASE"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"args": os.Args, "uid": os.Getuid(), "gid": os.Getgid(), "cwd": cwd, "env": env, "motd": string(motd),
	})
}
`

// report is what the program prints.
type report struct {
	Args []string          `json:"args"`
	UID  int               `json:"uid"`
	GID  int               `json:"gid"`
	Cwd  string            `json:"cwd"`
	Env  map[string]string `json:"env"`
	Motd string            `json:"motd"`
}

const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

// randomHash is a store path hash: 32 nix-base32 characters.
func randomHash(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	must(t, err)
	for i := range b {
		b[i] = nixBase32[int(b[i])%len(nixBase32)]
	}
	return string(b)
}

// storeProgram compiles progSource into a store path of its own under
// /nix/store, removed when the test ends.
func storeProgram(t *testing.T) string {
	t.Helper()
	testutil.NeedRoot(t)
	src := t.TempDir()
	write(t, src, "go.mod", []byte("module prog\n\ngo 1.21\n"))
	write(t, src, "main.go", []byte(progSource))
	sp := "/nix/store/" + randomHash(t) + "-dt-assemble-test"
	t.Cleanup(func() { os.RemoveAll(sp) })
	cmd := exec.Command("go", "build", "-trimpath", "-o", sp+"/bin/prog", ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return sp
}

// crane finds crane on PATH or in $(go env GOPATH)/bin.
func crane(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("crane"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "crane")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	testutil.Missing(t, "crane is not installed (go install github.com/google/go-containerregistry/cmd/crane@v0.22.1)")
	return ""
}

// mustTool runs a built command and returns its stdout, failing on error.
func mustTool(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	r := runTool(t, dir, nil, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// dockerLoad loads an archive and removes the image when the test ends.
func dockerLoad(t *testing.T, docker, archive, ref string) {
	t.Helper()
	out := testutil.Run(t, docker, "load", "-i", archive)
	if !strings.Contains(out, "Loaded image: "+ref) {
		t.Fatalf("docker load -i %s: %q, want it to load %s", archive, out, ref)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", ref).Run() })
}

// dockerRun runs an image without network and decodes the program's
// report.
func dockerRun(t *testing.T, docker, ref string, args ...string) report {
	t.Helper()
	out := testutil.Run(t, docker, append([]string{"run", "--rm", "--network=none", ref}, args...)...)
	var r report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("docker run %s: %q: %v", ref, out, err)
	}
	return r
}

// TestEndToEnd builds an image natively from path-to-layer's layers of a
// store path holding a static program and of an image root, loads it into
// a real Docker engine and runs it: Entrypoint, Cmd, Env, User and
// WorkingDir are honoured. Then an image on top of what docker save wrote
// of it (plain and gzip), which inherits the config and merges Env; crane
// validates the archives, and skopeo copies the native one to an OCI
// layout that umoci unpacks with the program and /etc/passwd in place.
func TestEndToEnd(t *testing.T) {
	docker := testutil.Docker(t)
	sp := storeProgram(t)
	prog := sp + "/bin/prog"
	w := t.TempDir()
	suffix := strings.ToLower(randomHash(t)[:12])
	name := "dt-assemble-e2e-" + suffix

	must(t, os.MkdirAll(w+"/layers", 0o755))
	write(t, w, "layers/0.json", []byte(mustTool(t, w, "path-to-layer", "-q", "--index", "0", "-o", "layers/0.tar", sp)))
	root := filepath.Join(w, "root")
	write(t, root, "etc/passwd", []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/work:/bin/false\n"))
	write(t, root, "etc/group", []byte("root:x:0:\napp:x:1001:\n"))
	must(t, os.MkdirAll(root+"/work", 0o755))
	write(t, w, "layers/1.json", []byte(mustTool(t, w, "path-to-layer", "-q", "--index", "1", "--root", root, "-o", "layers/1.tar")))
	write(t, w, "config.json", []byte(`{"Entrypoint": ["`+prog+`", "fixed"], "Cmd": ["default-arg"],
		"Env": ["GREETING=hello", "PATH=/bin"], "User": "1000", "WorkingDir": "/work"}`))

	ref := name + ":1"
	mustTool(t, w, "assemble-image", "-q", "--tag", ref, "--config", "config.json", "-o", "image.tar", "layers/1.json", "layers/0.json")
	dockerLoad(t, docker, filepath.Join(w, "image.tar"), ref)
	got := dockerRun(t, docker, ref)
	want := report{
		Args: []string{prog, "fixed", "default-arg"}, UID: 1000, GID: 1001, Cwd: "/work",
		Env: map[string]string{"GREETING": "hello", "PATH": "/bin", "HOME": "/work"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docker run %s:\n got %+v\nwant %+v", ref, got, want)
	}
	if got := dockerRun(t, docker, ref, "given"); !reflect.DeepEqual(got.Args, []string{prog, "fixed", "given"}) {
		t.Errorf("docker run %s given: args %q", ref, got.Args)
	}

	cr := crane(t)
	testutil.Run(t, cr, "validate", "--tarball", filepath.Join(w, "image.tar"))

	// On top of a base image in docker save's own format.
	testutil.Run(t, docker, "save", "-o", filepath.Join(w, "saved.tar"), ref)
	saved, err := os.ReadFile(filepath.Join(w, "saved.tar"))
	must(t, err)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(saved)
	must(t, zw.Close())
	write(t, w, "saved.tar.gz", gz.Bytes())
	top := filepath.Join(w, "top")
	write(t, top, "etc/motd", []byte("on top\n"))
	write(t, w, "layers/2.json", []byte(mustTool(t, w, "path-to-layer", "-q", "--root", top, "-o", "layers/2.tar")))
	write(t, w, "top.json", []byte(`{"Cmd": ["on-top"], "Env": ["EXTRA=1", "GREETING=bonjour"]}`))
	var outs [][]byte
	for _, base := range []string{"saved.tar", "saved.tar.gz"} {
		mustTool(t, w, "assemble-image", "-q", "--tag", name+":top", "--config", "top.json", "--from-image", base, "-o", "top.tar", "layers/2.json")
		b, err := os.ReadFile(filepath.Join(w, "top.tar"))
		must(t, err)
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("a gzip-compressed base gives other bytes than the plain one")
	}
	dockerLoad(t, docker, filepath.Join(w, "top.tar"), name+":top")
	got = dockerRun(t, docker, name+":top")
	want = report{
		Args: []string{prog, "fixed", "on-top"}, UID: 1000, GID: 1001, Cwd: "/work", Motd: "on top\n",
		Env: map[string]string{"GREETING": "bonjour", "PATH": "/bin", "EXTRA": "1", "HOME": "/work"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docker run %s:top:\n got %+v\nwant %+v", name, got, want)
	}
	// Env keeps one entry per variable, in first-appearance order.
	env := testutil.Run(t, docker, "image", "inspect", "-f", "{{json .Config.Env}}", name+":top")
	if strings.TrimSpace(env) != `["GREETING=bonjour","PATH=/bin","EXTRA=1"]` {
		t.Errorf("Env of %s:top: %s", name, env)
	}
	testutil.Run(t, cr, "validate", "--tarball", filepath.Join(w, "top.tar"))

	// The drop-in mode over docker save's archive writes what the Python
	// reading of stream_layered_image.py (lib/assemble/testdata) writes.
	custom := filepath.Join(w, randomHash(t)+"-customisation-layer")
	l1, err := os.ReadFile(filepath.Join(w, "layers/1.tar"))
	must(t, err)
	write(t, custom, "layer.tar", l1)
	write(t, custom, "checksum", []byte(sha256Hex(l1)))
	conf, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "store_dir": "/nix/store", "from_image": filepath.Join(w, "saved.tar"),
		"uid": "0", "gid": "0", "uname": "root", "gname": "root", "repo_tag": name + ":conf",
		"created": "2024-01-01T00:00:00Z", "mtime": "2024-01-01T00:00:00Z",
		"config": map[string]any{"Entrypoint": []string{prog}, "Cmd": []string{"conf"}, "Env": []string{"FROM_BASE=no"}}, "store_layers": [][]string{{sp}}, "customisation_layer": custom,
	})
	write(t, w, "conf.json", conf)
	oracle := filepath.Join(testutil.RepoRoot(), "lib/assemble/testdata/oracle.py")
	py := testutil.Need(t, "python3")[0]
	if exec.Command(py, "-c", "import sys; sys.exit(sys.version_info < (3, 11))").Run() == nil {
		want := testutil.Run(t, py, oracle, filepath.Join(w, "conf.json"))
		if got := mustTool(t, w, "assemble-image", "-q", "--nixpkgs-conf", "conf.json"); got != want {
			t.Errorf("--nixpkgs-conf over docker save's archive: %d bytes (sha256 %s), the oracle's %d (sha256 %s)",
				len(got), sha256Hex([]byte(got)), len(want), sha256Hex([]byte(want)))
		}
	}
	mustTool(t, w, "assemble-image", "-q", "--nixpkgs-conf", "conf.json", "-o", "conf.tar")
	dockerLoad(t, docker, filepath.Join(w, "conf.tar"), name+":conf")
	got = dockerRun(t, docker, name+":conf")
	// The script takes only Env from the base image's config.
	want = report{
		Args: []string{prog, "conf"}, UID: 0, GID: 0, Cwd: "/",
		Env: map[string]string{"GREETING": "hello", "PATH": "/bin", "FROM_BASE": "no", "HOME": "/root"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("docker run %s:conf:\n got %+v\nwant %+v", name, got, want)
	}

	// skopeo to an OCI layout, umoci unpacks it.
	sk, um := testutil.Need(t, "skopeo")[0], testutil.Need(t, "umoci")[0]
	testutil.Run(t, sk, "copy", "--quiet", "docker-archive:"+filepath.Join(w, "image.tar"), "oci:"+filepath.Join(w, "oci")+":e2e")
	bundle := filepath.Join(w, "bundle")
	testutil.Run(t, um, "unpack", "--image", filepath.Join(w, "oci")+":e2e", bundle)
	fi, err := os.Stat(filepath.Join(bundle, "rootfs", prog))
	if err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("the unpacked rootfs lacks an executable %s: %v", prog, err)
	}
	if b, err := os.ReadFile(filepath.Join(bundle, "rootfs/etc/passwd")); err != nil || !strings.Contains(string(b), "app:x:1000:1001") {
		t.Errorf("unpacked /etc/passwd: %q, %v", b, err)
	}
	var rt struct {
		Process struct {
			Args []string `json:"args"`
			Cwd  string   `json:"cwd"`
			User struct {
				UID int `json:"uid"`
			} `json:"user"`
		} `json:"process"`
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &rt))
	if !reflect.DeepEqual(rt.Process.Args, []string{prog, "fixed", "default-arg"}) || rt.Process.Cwd != "/work" || rt.Process.User.UID != 1000 {
		t.Errorf("umoci's runtime config: %+v", rt.Process)
	}
}

// TestEndToEndNixpkgsConf: the drop-in mode's case a archive of the
// conformance fixture passes crane validate and loads into Docker.
func TestEndToEndNixpkgsConf(t *testing.T) {
	cr := crane(t)
	fx := testutil.ConformanceFixture(t)
	out := filepath.Join(fx.Dir, "out")
	a := filepath.Join(out, "a.tar")
	mustTool(t, out, "assemble-image", "-q", "--nixpkgs-conf", "a.conf.json", "-o", a)
	testutil.Run(t, cr, "validate", "--tarball", a)
	docker := testutil.Docker(t)
	ref := "dt-assemble-e2e-" + strings.ToLower(randomHash(t)[:12]) + ":a"
	mustTool(t, out, "assemble-image", "-q", "--nixpkgs-conf", "a.conf.json", "-t", ref, "-o", a)
	dockerLoad(t, docker, a, ref)
	env := testutil.Run(t, docker, "image", "inspect", "-f", "{{json .Config.Env}}", ref)
	if strings.TrimSpace(env) != `["PATH=/bin","A=1","LANG=C.UTF-8"]` {
		t.Errorf("Env of case a: %s", env)
	}
}
