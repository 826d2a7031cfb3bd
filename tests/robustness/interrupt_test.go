package robustness

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// job is a command that takes a while and writes one output file, out
// (and a descriptor, desc, when not ""), in the directory it runs in.
type job struct {
	name      string
	args      []string
	argsFn    func(t *testing.T) []string // args made in the subtest
	out, desc string
	// script: a shell pipeline whose work directory goes under TMPDIR
	// (the run directory's tmp/), and whose whole process group is
	// signalled, as a CI runner or a terminal does.
	script bool
}

// prepare makes the arguments that need the subtest's t.
func (j job) prepare(t *testing.T) job {
	t.Helper()
	if j.argsFn != nil {
		j.args = j.argsFn(t)
	}
	return j
}

// jobs are the commands the interruption tests run on the large store.
func jobs(t *testing.T, b *big) []job {
	js := []job{
		{name: "path-to-layer", out: "out.tar", desc: "out.json",
			args: append([]string{tool("path-to-layer"), "-q", "--store-dir", b.store, "--tarsum", "-o", "out.tar", "--descriptor", "out.json"}, b.paths...)},
		{name: "assemble-image", out: "out.tar",
			args: append([]string{tool("assemble-image"), "-q", "--tag", "big:1", "-o", "out.tar"}, b.descs...)},
		{name: "assemble-image --nixpkgs-conf", out: "out.tar", argsFn: func(t *testing.T) []string {
			return []string{tool("assemble-image"), "-q", "--nixpkgs-conf", nixpkgsConf(t, b), "-o", "out.tar"}
		}},
		{name: "merge-images", out: "out.tar",
			args: []string{tool("merge-images"), "-q", "-o", "out.tar", b.a, b.b}},
		{name: "build-layered-image", out: "out.tar", script: true,
			args: []string{script("build-layered-image"), "-q", "--name", "big:1", "--graph", b.graph, "--store-dir", b.store,
				"--jobs", "2", "--fake-nss", "-o", "out.tar", b.paths[0]}},
	}
	return js
}

// nixpkgsConf is the conformance fixture's case a conf.json with the
// large store's paths as its store layers (and its customisation layer
// kept).
func nixpkgsConf(t *testing.T, b *big) string {
	t.Helper()
	fx := testutil.ConformanceFixture(t)
	data, err := os.ReadFile(filepath.Join(fx.Dir, "out", "a.conf.json"))
	must(t, err)
	var conf map[string]any
	must(t, json.Unmarshal(data, &conf))
	conf["store_dir"] = b.store
	conf["store_layers"] = [][]string{{b.paths[0]}, {b.paths[1]}, {b.paths[2], b.paths[3]}}
	data, _ = json.Marshal(conf)
	p := filepath.Join(t.TempDir(), "conf.json")
	writeFile(t, p, data, 0o644)
	return p
}

// start starts j in dir, in a process group of its own.
func (j job) start(t *testing.T, dir string) (*exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(j.args[0], j.args[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKERTOOLS_BIN="+binDir, "TMPDIR="+filepath.Join(dir, "tmp"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, os.MkdirAll(filepath.Join(dir, "tmp"), 0o755))
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, done
}

// reference runs j to the end in a fresh directory and returns how long
// it took and the sha256 of its outputs.
func (j job) reference(t *testing.T) (time.Duration, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	begin := time.Now()
	cmd, done := j.start(t, dir)
	if err := <-done; err != nil {
		t.Fatalf("%s: %v\n%s", j.name, err, cmd.Stderr)
	}
	took := time.Since(begin)
	sums := map[string]string{j.out: fileSHA(t, filepath.Join(dir, j.out))}
	if j.desc != "" {
		sums[j.desc] = fileSHA(t, filepath.Join(dir, j.desc))
	}
	return took, sums
}

// TestKilledAtRandomPoints kills each job with SIGKILL (its whole process
// group) after a random delay, several times: the output is then absent
// or complete and equal to a reference run's, byte for byte, and nothing
// else that looks finished is left; a descriptor never exists without its
// complete layer.
func TestKilledAtRandomPoints(t *testing.T) {
	b := bigStore(t)
	trials := 4
	if testing.Short() {
		trials = 2
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for _, j := range jobs(t, b) {
		t.Run(j.name, func(t *testing.T) {
			j := j.prepare(t)
			took, want := j.reference(t)
			var outcomes []string
			for trial := 0; trial < trials; trial++ {
				dir := t.TempDir()
				delay := time.Duration(rng.Int64N(int64(took) * 6 / 5))
				cmd, done := j.start(t, dir)
				time.Sleep(delay)
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-done
				outcome := "absent"
				for _, name := range names(t, dir) {
					switch {
					case name == "tmp" || isTemp(name):
						// A temporary name no consumer looks for.
					case name == j.out || name == j.desc:
						if got := fileSHA(t, filepath.Join(dir, name)); got != want[name] {
							t.Errorf("trial %d, killed after %v: %s is there with sha256 %s, not the complete %s", trial, delay, name, got, want[name])
						}
						if name == j.out {
							outcome = "complete"
						} else if _, err := os.Stat(filepath.Join(dir, j.out)); err != nil {
							t.Errorf("trial %d, killed after %v: %s without %s", trial, delay, j.desc, j.out)
						}
					default:
						t.Errorf("trial %d, killed after %v: %s left behind", trial, delay, name)
					}
				}
				outcomes = append(outcomes, fmt.Sprintf("%v:%s", delay.Round(time.Millisecond), outcome))
			}
			t.Logf("reference run %v; killed after %s", took.Round(time.Millisecond), strings.Join(outcomes, " "))
		})
	}
}

// TestInterrupted sends SIGINT and SIGTERM to each job while it writes
// its output (a temporary file is there): it exits with 130 or 143 and
// leaves no file, temporary or final. The script is also interrupted
// while its layers are built, and its work directory must go too.
func TestInterrupted(t *testing.T) {
	b := bigStore(t)
	for _, j := range jobs(t, b) {
		stages := []string{"output"}
		if j.script {
			stages = append(stages, "layers")
		}
		for _, stage := range stages {
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
				t.Run(fmt.Sprintf("%s/%s/%v", j.name, stage, sig), func(t *testing.T) {
					j := j.prepare(t)
					dir := t.TempDir()
					cmd, done := j.start(t, dir)
					// Wait for the stage: a temporary output file in dir,
					// or a layer being written in the script's work dir.
					writing := func() bool {
						if stage == "output" {
							return len(tempFiles(t, dir)) > 0
						}
						ls, _ := filepath.Glob(filepath.Join(dir, "tmp", "*", "layers", ".*.tmp-*"))
						return len(ls) > 0
					}
					var err error
					finished := false
					for !finished && !writing() {
						select {
						case err = <-done:
							finished = true
						case <-time.After(2 * time.Millisecond):
						}
					}
					if finished {
						t.Fatalf("finished (%v) before it was seen writing: the input is too small for this machine", err)
					}
					if j.script {
						syscall.Kill(-cmd.Process.Pid, sig)
					} else {
						cmd.Process.Signal(sig)
					}
					select {
					case err = <-done:
					case <-time.After(30 * time.Second):
						syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
						t.Fatalf("still running 30 s after %v", sig)
					}
					if code := exitCode(err, cmd.ProcessState); code != 128+int(sig) {
						t.Errorf("exit %d (%v), want %d\n%s", code, err, 128+int(sig), cmd.Stderr)
					}
					if left := slices.DeleteFunc(names(t, dir), func(n string) bool { return n == "tmp" }); len(left) > 0 {
						t.Errorf("left behind: %q", left)
					}
					if left := names(t, filepath.Join(dir, "tmp")); len(left) > 0 {
						t.Errorf("work directories left behind in TMPDIR: %q", left)
					}
					if stderr := cmd.Stderr.(*bytes.Buffer).String(); strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
						t.Errorf("stderr: %s", stderr)
					}
				})
			}
		}
	}
}
