package testutil

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	dockerOnce sync.Once
	dockerErr  string
)

// Docker returns the docker client's path once a Docker engine answers,
// starting one (dockerd with the vfs storage driver, no iptables, no
// bridge; its log in $TMPDIR/dockerd.log) when none does and the test runs
// as root. Without an engine the test fails in CI and is skipped elsewhere.
func Docker(t testing.TB) string {
	t.Helper()
	docker := Need(t, "docker")[0]
	dockerOnce.Do(func() {
		if exec.Command(docker, "info").Run() == nil {
			return
		}
		dockerd, err := exec.LookPath("dockerd")
		if err != nil {
			dockerErr = "no Docker engine answers and dockerd is not installed"
			return
		}
		if os.Geteuid() != 0 {
			dockerErr = "no Docker engine answers and starting dockerd needs root"
			return
		}
		logf, err := os.Create(os.TempDir() + "/dockerd.log")
		if err != nil {
			dockerErr = err.Error()
			return
		}
		cmd := exec.Command(dockerd, "--storage-driver=vfs", "--iptables=false", "--bridge=none")
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			dockerErr = "starting dockerd: " + err.Error()
			return
		}
		go cmd.Wait() // the engine outlives the test process's interest in it
		for i := 0; i < 60; i++ {
			if exec.Command(docker, "info").Run() == nil {
				return
			}
			time.Sleep(time.Second)
		}
		dockerErr = "dockerd started but did not answer within 60 s (see " + logf.Name() + ")"
	})
	if dockerErr != "" {
		Missing(t, "%s", dockerErr)
	}
	return docker
}

// Run runs a command and returns its stdout, failing the test with its
// stderr when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
