// Package e2e runs the scripts end to end against real components, as
// nixpkgs' NixOS test nixos/tests/docker-tools.nix does for dockerTools: a
// closure built by nix-build becomes images that a Docker engine loads and
// runs, that skopeo pushes to and pulls from a local registry. Components
// missing fail the tests under CI=true and skip them elsewhere; the suite
// starts dockerd and the registry itself when none answers.
package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// env is what every test shares: the tools, the closure, a scratch dir.
type env struct {
	bin     string // the toolkit's binaries
	scripts string
	app     string // the app store path (references the data path)
	data    string
	docker  string
	dir     string
}

var (
	setupOnce sync.Once
	shared    env
	setupErr  error
)

func setup(t *testing.T) env {
	t.Helper()
	testutil.Need(t, "nix-build", "nix")
	docker := testutil.Docker(t)
	bin := testutil.Binaries(t)
	setupOnce.Do(func() {
		root := testutil.RepoRoot()
		dir, err := os.MkdirTemp("", "dockertools-e2e-")
		if err != nil {
			setupErr = err
			return
		}
		hello := filepath.Join(dir, "hello")
		build := exec.Command("go", "build", "-trimpath", "-o", hello, "./examples/hello")
		build.Dir = root
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("building the example program: %v\n%s", err, out)
			return
		}
		nb := testutil.NixBuild("--arg", "hello", hello,
			filepath.Join(root, "examples/hello/default.nix"), "-o", filepath.Join(dir, "result"))
		var stderr bytes.Buffer
		nb.Stderr = &stderr
		out, err := nb.Output()
		if err != nil {
			setupErr = fmt.Errorf("nix-build: %v\n%s", err, stderr.String())
			return
		}
		app := strings.TrimSpace(string(out))
		ref, err := os.ReadFile(filepath.Join(app, "share", "data-path"))
		if err != nil {
			setupErr = err
			return
		}
		shared = env{bin: bin, scripts: filepath.Join(root, "scripts"), app: app, data: strings.TrimSpace(string(ref)), docker: docker, dir: dir}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	e := shared
	e.dir = t.TempDir()
	return e
}

// result is the JSON line the scripts print with -o FILE.
type result struct {
	Name    string   `json:"name"`
	Tag     string   `json:"tag"`
	ImageID string   `json:"imageID"`
	DiffIDs []string `json:"diffIDs"`
}

// script runs scripts/NAME with args and returns its result line.
func (e env) script(t *testing.T, name string, args ...string) result {
	t.Helper()
	out := e.run(t, filepath.Join(e.scripts, name), args...)
	var r result
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("%s printed %q, not a result line: %v", name, out, err)
	}
	return r
}

func (e env) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DOCKERTOOLS_BIN="+e.bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// fails runs a command that must fail, and returns its stderr.
func (e env) fails(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "DOCKERTOOLS_BIN="+e.bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("%s %s succeeded, want a failure", filepath.Base(name), strings.Join(args, " "))
	}
	return stderr.String()
}

func (e env) config(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(cfg)
	p := filepath.Join(e.dir, fmt.Sprintf("config-%d.json", time.Now().UnixNano()))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// load loads an archive into Docker and removes its images when the test
// ends. Docker engines before 23 cannot read zstd archives: those are
// decompressed on the way in.
func (e env) load(t *testing.T, archive string, refs ...string) {
	t.Helper()
	if strings.HasSuffix(archive, ".zst") {
		testutil.Run(t, "sh", "-c", `zstd -dc "$1" | "$2" load`, "load", archive, e.docker)
	} else {
		testutil.Run(t, e.docker, "load", "-i", archive)
	}
	t.Cleanup(func() {
		for _, r := range refs {
			exec.Command(e.docker, "rmi", "-f", r).Run()
		}
	})
}

func (e env) dockerRun(t *testing.T, args ...string) string {
	t.Helper()
	return testutil.Run(t, e.docker, append([]string{"run", "--rm", "--network=none"}, args...)...)
}

type inspect struct {
	Created string
	Config  struct {
		Env        []string
		User       string
		WorkingDir string
	}
	RootFS struct{ Layers []string }
}

func (e env) inspect(t *testing.T, ref string) inspect {
	t.Helper()
	var out []inspect
	if err := json.Unmarshal([]byte(testutil.Run(t, e.docker, "image", "inspect", ref)), &out); err != nil || len(out) != 1 {
		t.Fatalf("docker image inspect %s: %v", ref, err)
	}
	return out[0]
}

func (e env) appConfig(t *testing.T, extra map[string]any) string {
	cfg := map[string]any{
		"Entrypoint": []string{e.app + "/bin/hello"},
		"Cmd":        []string{"greet"},
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return e.config(t, cfg)
}

func TestLayeredImageRuns(t *testing.T) {
	e := setup(t)
	out := filepath.Join(e.dir, "app.tar")
	cfg := e.appConfig(t, map[string]any{
		"Env": []string{"A=1", "B=two"}, "User": "1000:100", "WorkingDir": "/work",
	})
	r := e.script(t, "build-layered-image", "--name", "dt-e2e/app", "--config", cfg, "--fake-nss", "--tmp",
		"--extra-commands", `mkdir -p work && printf '%s\n' "it's \$HOME" > work/note`, "-o", out, e.app)
	if len(r.Tag) != 32 {
		t.Errorf("tag %q: want a 32-character content hash", r.Tag)
	}
	ref := "dt-e2e/app:" + r.Tag
	e.load(t, out, ref)

	if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("Cmd greet printed %q", got)
	}
	if got := e.dockerRun(t, ref, "id"); got != "uid=1000 gid=100\n" {
		t.Errorf("User: %q", got)
	}
	if got := e.dockerRun(t, ref, "pwd"); got != "/work\n" {
		t.Errorf("WorkingDir: %q", got)
	}
	if got := e.dockerRun(t, ref, "env", "A", "B"); !strings.HasPrefix(got, "A=1\nB=two\n") {
		t.Errorf("Env: %q", got)
	}
	if got := e.dockerRun(t, "-u", "nobody", ref, "id"); got != "uid=65534 gid=65534\n" {
		t.Errorf("-u nobody with --fake-nss: %q", got)
	}
	if got := e.dockerRun(t, ref, "stat", "/nix", "/nix/store", "/tmp"); got != "/nix 755\n/nix/store 755\n/tmp 777\n" {
		t.Errorf("modes: %q", got)
	}
	if got := e.dockerRun(t, "--entrypoint", e.app+"/bin/hello", ref, "args", "x"); got != "x\n" {
		t.Errorf("entrypoint override: %q", got)
	}
	in := e.inspect(t, ref)
	if in.Created != "1970-01-01T00:00:01Z" {
		t.Errorf("created %q, want 1970-01-01T00:00:01Z", in.Created)
	}
	if len(in.RootFS.Layers) != len(r.DiffIDs) || strings.Join(in.RootFS.Layers, " ") != strings.Join(r.DiffIDs, " ") {
		t.Errorf("Docker's layers %v, the script reported %v", in.RootFS.Layers, r.DiffIDs)
	}
	// The note made by --extra-commands kept its quotes and its "$".
	note := e.dockerRun(t, "--entrypoint", e.app+"/bin/hello", ref, "stat", "/work/note")
	if note != "/work/note 644\n" {
		t.Errorf("--extra-commands file: %q", note)
	}
}

// TestContentsStorePathRuns builds an image whose only input is a store
// path given as --contents (through a ./result symlink), as nixpkgs'
// contents = [ app ]: its customisation layer holds /bin/hello as a
// symlink into the store, not a copy, the store layers hold the closure,
// and Docker runs /bin/hello.
func TestContentsStorePathRuns(t *testing.T) {
	e := setup(t)
	result := filepath.Join(e.dir, "result")
	if err := os.Symlink(e.app, result); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(e.dir, "contents.tar")
	cfg := e.config(t, map[string]any{"Entrypoint": []string{"/bin/hello"}, "Cmd": []string{"greet"}})
	r := e.script(t, "build-layered-image", "--name", "dt-e2e/contents:1", "--config", cfg, "--contents", result, "-o", out)
	a, err := dockerarchive.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	layers := a.Images[0].Layers
	custom := map[string]*tar.Header{}
	tr := tar.NewReader(layers[len(layers)-1].Open())
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		custom[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = h
	}
	if h := custom["bin/hello"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != e.app+"/bin/hello" {
		t.Errorf("customisation layer's bin/hello: %+v, want a symlink to %s/bin/hello", h, e.app)
	}
	for name, h := range custom {
		if h.Typeflag == tar.TypeReg {
			t.Errorf("customisation layer holds the file %s: the store path's files were copied", name)
		}
	}
	e.load(t, out, "dt-e2e/contents:1")
	if got := e.dockerRun(t, "dt-e2e/contents:1"); got != "hello from a nix store path\n" {
		t.Errorf("/bin/hello greet: %q (%d layers)", got, len(r.DiffIDs))
	}
}

func TestCreatedNowAndNames(t *testing.T) {
	e := setup(t)
	out := filepath.Join(e.dir, "now.tar")
	before := time.Now().Add(-time.Minute)
	r := e.script(t, "build-layered-image", "--name", "localhost:5000/dt-e2e/named:v1", "--created", "now",
		"--config", e.appConfig(t, nil), "-o", out, e.app)
	if r.Name != "localhost:5000/dt-e2e/named" || r.Tag != "v1" {
		t.Errorf("result %s:%s", r.Name, r.Tag)
	}
	e.load(t, out, "localhost:5000/dt-e2e/named:v1")
	created, err := time.Parse(time.RFC3339Nano, e.inspect(t, "localhost:5000/dt-e2e/named:v1").Created)
	if err != nil || created.Before(before) {
		t.Errorf("created %v with --created now, want about now", created)
	}
	bad := filepath.Join(e.dir, "bad.tar")
	msg := e.fails(t, filepath.Join(e.scripts, "build-layered-image"), "--name", "Dt-E2E/Upper", "-o", bad, e.app)
	if !strings.Contains(msg, "lowercase") {
		t.Errorf("uppercase name: %q", msg)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("an output file was left after a refused name")
	}
}

func TestMaxLayers(t *testing.T) {
	e := setup(t)
	out := filepath.Join(e.dir, "two.tar")
	r := e.script(t, "build-layered-image", "--name", "dt-e2e/two", "--max-layers", "2",
		"--config", e.appConfig(t, nil), "-o", out, e.app)
	if len(r.DiffIDs) != 2 {
		t.Fatalf("%d layers with --max-layers 2", len(r.DiffIDs))
	}
	ref := "dt-e2e/two:" + r.Tag
	e.load(t, out, ref)
	if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("greet: %q", got)
	}
	msg := e.fails(t, filepath.Join(e.scripts, "build-layered-image"), "--name", "x", "--max-layers", "1", "--fake-nss",
		"-o", filepath.Join(e.dir, "none.tar"), e.app)
	if !strings.Contains(msg, "max-layers") {
		t.Errorf("--max-layers 1 with a customisation layer: %q", msg)
	}
}

func TestLayeredOnLayeredBase(t *testing.T) {
	e := setup(t)
	base := filepath.Join(e.dir, "base.tar")
	rb := e.script(t, "build-layered-image", "--name", "dt-e2e/base:1", "--fake-nss",
		"--config", e.config(t, map[string]any{"Env": []string{"PATH=/bin", "A=base", "KEEP=yes"}}), "-o", base, e.data)
	out := filepath.Join(e.dir, "derived.tar")
	r := e.script(t, "build-layered-image", "--name", "dt-e2e/derived:1", "--from-image", base,
		"--config", e.appConfig(t, map[string]any{"Env": []string{"A=derived", "PATH=/bin:/usr/bin", "NEW=1"}}), "-o", out, e.app)
	// The data path, the app path and the customisation layer (empty).
	if len(r.DiffIDs) != len(rb.DiffIDs)+3 {
		t.Errorf("%d layers on a base of %d, want %d", len(r.DiffIDs), len(rb.DiffIDs), len(rb.DiffIDs)+3)
	}
	if strings.Join(r.DiffIDs[:len(rb.DiffIDs)], " ") != strings.Join(rb.DiffIDs, " ") {
		t.Error("the base image's layers are not at the bottom, in order")
	}
	e.load(t, out, "dt-e2e/derived:1")
	env := e.inspect(t, "dt-e2e/derived:1").Config.Env
	if strings.Join(env, " ") != "PATH=/bin:/usr/bin A=derived KEEP=yes NEW=1" {
		t.Errorf("Env %q: want one entry per variable, base order, new values", env)
	}
	if got := e.dockerRun(t, "-u", "nobody", "dt-e2e/derived:1", "id"); got != "uid=65534 gid=65534\n" {
		t.Errorf("-u nobody from the base's fake NSS: %q", got)
	}
}

func TestSharedLayersAndCompression(t *testing.T) {
	e := setup(t)
	var results []result
	for _, c := range []string{"none", "gzip", "zstd"} {
		out := filepath.Join(e.dir, "c-"+c+".tar")
		if c == "zstd" {
			out += ".zst"
		}
		cfg := e.appConfig(t, map[string]any{"Env": []string{"COMPRESSION=" + c}})
		r := e.script(t, "build-layered-image", "--name", "dt-e2e/compressed:"+c, "--compress", c, "--config", cfg, "-o", out, e.app)
		results = append(results, r)
		e.load(t, out, "dt-e2e/compressed:"+c)
		if got := e.dockerRun(t, "dt-e2e/compressed:"+c, "env", "COMPRESSION"); !strings.HasPrefix(got, "COMPRESSION="+c+"\n") {
			t.Errorf("%s: %q", c, got)
		}
	}
	// Different configs, the same store layers.
	for _, r := range results[1:] {
		if strings.Join(r.DiffIDs, " ") != strings.Join(results[0].DiffIDs, " ") {
			t.Errorf("images of the same closure do not share their layers: %v vs %v", r.DiffIDs, results[0].DiffIDs)
		}
		if r.ImageID == results[0].ImageID {
			t.Error("different configs gave the same image ID")
		}
	}
}

func TestJobsAndMerge(t *testing.T) {
	e := setup(t)
	var archives []string
	var sums []string
	for _, jobs := range []string{"1", "4"} {
		out := filepath.Join(e.dir, "jobs-"+jobs+".tar")
		e.script(t, "build-layered-image", "--name", "dt-e2e/jobs:1", "--jobs", jobs, "--max-layers", "10",
			"--config", e.appConfig(t, nil), "--fake-nss", "-o", out, e.app, e.data)
		sum := testutil.Run(t, "sha256sum", out)
		sums = append(sums, strings.Fields(sum)[0])
		archives = append(archives, out)
	}
	if sums[0] != sums[1] {
		t.Errorf("--jobs 1 and --jobs 4 differ: %s %s", sums[0], sums[1])
	}
	other := filepath.Join(e.dir, "other.tar.zst")
	e.script(t, "build-layered-image", "--name", "dt-e2e/other:2", "--compress", "zstd",
		"--config", e.appConfig(t, map[string]any{"Cmd": []string{"id"}}), "-o", other, e.app)
	merged := filepath.Join(e.dir, "merged.tar")
	e.run(t, filepath.Join(e.bin, "merge-images"), "-o", merged, archives[0], other)
	e.load(t, merged, "dt-e2e/jobs:1", "dt-e2e/other:2")
	if got := e.dockerRun(t, "dt-e2e/jobs:1"); got != "hello from a nix store path\n" {
		t.Errorf("merged image 1: %q", got)
	}
	if got := e.dockerRun(t, "dt-e2e/other:2"); got != "uid=0 gid=0\n" {
		t.Errorf("merged image 2: %q", got)
	}
}

func TestBuildImage(t *testing.T) {
	e := setup(t)
	base := filepath.Join(e.dir, "base.tar")
	e.script(t, "build-image", "--name", "dt-e2e/single-base:1", "--fake-nss", "-o", base, e.data)
	contents := filepath.Join(e.dir, "contents")
	os.MkdirAll(filepath.Join(contents, "etc"), 0o755)
	os.WriteFile(filepath.Join(contents, "etc", "motd"), []byte("hi\n"), 0o644)
	out := filepath.Join(e.dir, "single.tar")
	r := e.script(t, "build-image", "--name", "dt-e2e/single:1", "--from-image", base, "--contents", contents,
		"--config", e.appConfig(t, nil), "-o", out, e.app)
	if len(r.DiffIDs) != 2 {
		t.Fatalf("buildImage on a base: %d layers, want 2", len(r.DiffIDs))
	}
	// The new layer leaves out the data path the base has.
	layer := filepath.Join(e.dir, "layer-members")
	list := testutil.Run(t, filepath.Join(e.bin, "merge-images"), "--list", "--store-paths", out)
	_ = layer
	if !strings.Contains(list, e.app) || strings.Count(list, e.data) != 1 {
		t.Errorf("store paths of the image: %s", list)
	}
	e.load(t, out, "dt-e2e/single:1")
	if got := e.dockerRun(t, "dt-e2e/single:1"); got != "hello from a nix store path\n" {
		t.Errorf("greet: %q", got)
	}
	if got := e.dockerRun(t, "dt-e2e/single:1", "stat", "/etc/motd"); got != "/etc/motd 644\n" {
		t.Errorf("contents: %q", got)
	}
}

// registry starts a docker-registry on a free loopback port.
func registry(t *testing.T) string {
	t.Helper()
	reg := testutil.Need(t, "docker-registry")[0]
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s/data
http:
  addr: %s
`, dir, addr)), 0o644)
	cmd := exec.Command(reg, "serve", cfg)
	logf, _ := os.Create(filepath.Join(dir, "registry.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
	t.Fatalf("docker-registry did not listen on %s:\n%s", addr, log)
	return ""
}

func TestPushPull(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "skopeo")
	addr := registry(t)
	out := filepath.Join(e.dir, "push.tar.gz")
	e.script(t, "build-layered-image", "--name", "dt-e2e/push:1", "--compress", "gzip", "--fake-nss",
		"--config", e.appConfig(t, nil), "-o", out, e.app)
	digest := strings.TrimSpace(e.run(t, filepath.Join(e.scripts, "push-image"), "--tls-verify=false", out, addr+"/dt-e2e/push:1"))
	if !strings.HasPrefix(digest, "sha256:") || len(digest) != 71 {
		t.Fatalf("push-image printed %q, want a digest", digest)
	}
	pulled := filepath.Join(e.dir, "pulled.tar")
	e.run(t, filepath.Join(e.scripts, "pull-image"), "--image", addr+"/dt-e2e/push", "--digest", digest,
		"--final-name", "dt-e2e/pulled", "--final-tag", "7", "--tls-verify=false", "-o", pulled)
	e.load(t, pulled, "dt-e2e/pulled:7")
	if got := e.dockerRun(t, "dt-e2e/pulled:7"); got != "hello from a nix store path\n" {
		t.Errorf("pulled image: %q", got)
	}
	// A wrong digest, or no registry: no output file.
	wrong := filepath.Join(e.dir, "wrong.tar")
	e.fails(t, filepath.Join(e.scripts, "pull-image"), "--image", addr+"/dt-e2e/push",
		"--digest", "sha256:"+strings.Repeat("0", 64), "--tls-verify=false", "-o", wrong)
	e.fails(t, filepath.Join(e.scripts, "pull-image"), "--image", "127.0.0.1:1/dt-e2e/push",
		"--digest", digest, "--tls-verify=false", "-o", wrong)
	if _, err := os.Stat(wrong); err == nil {
		t.Error("a failed pull left its output file")
	}
	// The pulled image as a base image.
	derived := filepath.Join(e.dir, "derived.tar")
	r := e.script(t, "build-layered-image", "--name", "dt-e2e/on-pulled:1", "--from-image", pulled,
		"--config", e.config(t, map[string]any{"Cmd": []string{"id"}}), "-o", derived, e.data)
	e.load(t, derived, "dt-e2e/on-pulled:1")
	if got := e.dockerRun(t, "-u", "nobody", "dt-e2e/on-pulled:1"); got != "uid=65534 gid=65534\n" {
		t.Errorf("image on the pulled base (%d layers): %q", len(r.DiffIDs), got)
	}
}

// TestExamples runs what README.md and examples/ tell users to run:
// scripts/example (make example) and the examples Makefile.
func TestExamples(t *testing.T) {
	e := setup(t)
	out := filepath.Join(e.dir, "example.tar")
	got := e.run(t, filepath.Join(e.scripts, "example"), out)
	if !strings.Contains(got, "hello from a nix store path") {
		t.Errorf("scripts/example printed %q, want the greeting from the container", got)
	}
	var r result
	json.Unmarshal([]byte(strings.SplitN(got, "\n", 2)[0]), &r)
	t.Cleanup(func() { exec.Command(e.docker, "rmi", "-f", "example-hello:"+r.Tag).Run() })

	mk := filepath.Join(e.dir, "make")
	e.run(t, "make", "-s", "-C", filepath.Join(testutil.RepoRoot(), "examples"), "-j2", "BIN="+e.bin, "OUT="+mk)
	e.load(t, filepath.Join(mk, "release.tar"), "example/greeter:1", "example/whoami:1")
	if got := e.dockerRun(t, "example/greeter:1"); got != "hello from a nix store path\n" {
		t.Errorf("example/greeter: %q", got)
	}
	if got := e.dockerRun(t, "example/whoami:1"); got != "uid=65534 gid=65534\n" {
		t.Errorf("example/whoami: %q", got)
	}
}

// helpExamples returns the command lines of the Example section of a
// script's --help.
func (e env) helpExamples(t *testing.T, script string) []string {
	t.Helper()
	help := e.run(t, filepath.Join(e.scripts, script), "--help")
	_, section, ok := strings.Cut(help, "\nExample:\n")
	if !ok {
		t.Fatalf("%s --help has no Example section:\n%s", script, help)
	}
	var lines []string
	for _, l := range strings.Split(section, "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	if len(lines) == 0 {
		t.Fatalf("%s --help: an empty Example section", script)
	}
	return lines
}

// TestHelpExamples runs the examples that the scripts' --help shows, as
// written, in a directory holding what they name (./result, config.json,
// base.tar, ./rootfs); only the image names get a prefix of this suite's,
// the registry is a local one on another port, and pull-image's digest
// is the one push-image printed. The images they make run.
func TestHelpExamples(t *testing.T) {
	e := setup(t)
	dir := e.dir
	if err := os.Symlink(e.app, filepath.Join(dir, "result")); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(e.appConfig(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs", "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rootfs", "etc", "motd"), []byte("from rootfs\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.script(t, "build-layered-image", "--name", "dt-e2e-help/base:1", "--fake-nss", "-o", filepath.Join(dir, "base.tar"), e.data)

	names := strings.NewReplacer("--name hello ", "--name dt-e2e-help/hello ", "--name app:1 ", "--name dt-e2e-help/app:1 ")
	// sh runs example lines in dir with the scripts on PATH.
	sh := func(t *testing.T, script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKERTOOLS_BIN="+e.bin, "PATH="+e.scripts+":"+os.Getenv("PATH"))
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		return stdout.String()
	}
	tagOf := func(t *testing.T, out string) string {
		t.Helper()
		var r result
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &r); err != nil {
			t.Fatalf("no result line in %q", out)
		}
		t.Cleanup(func() { exec.Command(e.docker, "rmi", "-f", r.Name+":"+r.Tag).Run() })
		return r.Name + ":" + r.Tag
	}

	t.Run("build-layered-image", func(t *testing.T) {
		lines := e.helpExamples(t, "build-layered-image")
		ref := tagOf(t, sh(t, names.Replace(strings.Join(lines, "\n"))))
		if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
			t.Errorf("%s: %q", ref, got)
		}
	})
	t.Run("build-image, push-image, pull-image", func(t *testing.T) {
		lines := e.helpExamples(t, "build-image")
		ref := tagOf(t, sh(t, names.Replace(strings.Join(lines, "\n"))))
		e.load(t, filepath.Join(dir, "app.tar"), ref)
		if got := e.dockerRun(t, ref, "stat", "/etc/motd"); got != "/etc/motd 644\n" {
			t.Errorf("%s: the file of ./rootfs: %q", ref, got)
		}
		if got := e.dockerRun(t, "-u", "nobody", ref, "id"); got != "uid=65534 gid=65534\n" {
			t.Errorf("%s: -u nobody with the base image's fake NSS: %q", ref, got)
		}
		if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
			t.Errorf("%s: %q", ref, got)
		}

		testutil.Need(t, "skopeo")
		addr := registry(t)
		push := e.helpExamples(t, "push-image")
		pull := e.helpExamples(t, "pull-image")
		registryNames := strings.NewReplacer("localhost:5000/app", addr+"/dt-e2e-help/app", "sha256:...", `"$digest"`)
		sh(t, registryNames.Replace(strings.Join(append(push, pull...), "\n")))
		e.load(t, filepath.Join(dir, "app.tar"), addr+"/dt-e2e-help/app:1")
		if got := e.dockerRun(t, addr+"/dt-e2e-help/app:1"); got != "hello from a nix store path\n" {
			t.Errorf("the pulled image: %q", got)
		}
	})
}
