package nix

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// registry starts a docker-registry on a free loopback port (plain HTTP)
// for the test and returns its address.
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
	conf := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: %s\n", dir, addr)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(reg, "serve", cfg)
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
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

// TestPullImage: an image pushed to a local registry comes back through
// pullImage, a fixed-output derivation pinned by digest and hash, named
// as asked, and runs. The image is new in each run (the salted closure),
// so the pull happens.
func TestPullImage(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "skopeo")
	addr := registry(t)
	f := e.expr(t, `{
  archive = dt.buildLayeredImage {
    name = "dt-i-nix/pushed"; tag = "1"; compressor = "none";
    contents = [ t.app ]; config.Cmd = [ "/bin/hello" "greet" ];
  };
}`)
	archive := mustBuild(t, e, f, "archive")
	digest := strings.TrimSpace(testutil.Run(t, filepath.Join(e.repo, "scripts", "push-image"), "--quiet", "--tls-verify=false", archive, addr+"/dt-i-nix/pushed:1"))
	// The archive's hash, as a user finds it: pull once, hash the file.
	probe := filepath.Join(e.dir, "probe.tar")
	testutil.Run(t, filepath.Join(e.repo, "scripts", "pull-image"), "--quiet", "--image", addr+"/dt-i-nix/pushed",
		"--digest", digest, "--final-name", "dt-i-nix/pulled", "--final-tag", "1", "--tls-verify=false", "-o", probe)
	b, err := os.ReadFile(probe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	hash := "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	pull := e.expr(t, fmt.Sprintf(`{
  pulled = dt.pullImage {
    imageName = "%s/dt-i-nix/pushed"; imageDigest = "%s"; hash = "%s";
    finalImageName = "dt-i-nix/pulled"; finalImageTag = "1"; tlsVerify = false;
  };
  tag = (dt.pullImage { imageName = "x"; imageDigest = "%s"; sha256 = "%x"; finalImageTag = "7"; }).imageTag;
}`, addr, digest, hash, digest, sum))
	out, stderr := e.build(t, pull, "pulled")
	if !contains(built(stderr), "docker-image-dt-i-nix-pulled-1.tar") {
		t.Errorf("nix-build built %v: want the pull (docker-image-dt-i-nix-pulled-1.tar)", built(stderr))
	}
	if fileSHA(t, out) != fmt.Sprintf("%x", sum) {
		t.Errorf("%s is not the archive the probe pulled", out)
	}
	d.loadFile(t, out, "dt-i-nix/pulled:1")
	if got := d.run(t, "dt-i-nix/pulled:1"); got != "hello from a nix store path\n" {
		t.Errorf("docker run: %q", got)
	}
	var tag string
	e.eval(t, pull, "tag", &tag)
	if tag != "7" {
		t.Errorf("imageTag %q, want finalImageTag 7", tag)
	}
}
