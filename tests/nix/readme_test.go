package nix

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeQuickStart: README.md's default.nix, in a directory beside a
// "clone" (a link to this repository), built by nix-build with the
// stand-in as <nixpkgs> (its hello prints what GNU hello prints), loads
// and prints what README.md says it prints.
func TestReadmeQuickStart(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	readme := string(readFile(t, filepath.Join(e.repo, "README.md")))
	m := regexp.MustCompile("(?s)```nix\n(# default.nix[^\n]*\n.*?)```\n+```console\n(.*?)```").FindStringSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no ```nix block starting with # default.nix, followed by a ```console block")
	}
	expr, console := m[1], m[2]
	const name = "dt-i-nix/readme-hello"
	if !strings.Contains(expr, `name = "hello";`) {
		t.Fatalf("README.md's default.nix does not name the image hello:\n%s", expr)
	}
	expr = strings.Replace(expr, `name = "hello";`, `name = "`+name+`";`, 1)

	// GNU hello's output, from a static program.
	src := filepath.Join(e.dir, "hello-world")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"Hello, world!\") }\n"), 0o644)
	program := filepath.Join(e.dir, "hello-world-bin")
	build := exec.Command("go", "build", "-o", program, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	nixpkgs := filepath.Join(e.dir, "nixpkgs")
	os.MkdirAll(nixpkgs, 0o755)
	os.WriteFile(filepath.Join(nixpkgs, "default.nix"), []byte("args: import "+
		filepath.Join(e.repo, "tests", "nix", "testdata", "standin")+" ({ toolkit = "+e.toolkit+"; program = "+program+"; } // args)\n"), 0o644)

	user := filepath.Join(e.dir, "user")
	os.MkdirAll(user, 0o755)
	if err := os.Symlink(e.repo, filepath.Join(user, "dockertools")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(user, "default.nix"), []byte(expr), 0o644)
	out, stderr, ok := nix(t, "nix-build", "-I", "nixpkgs="+nixpkgs, filepath.Join(user, "default.nix"), "-o", filepath.Join(user, "result"))
	if !ok {
		t.Fatalf("nix-build of README.md's default.nix:\n%s", stderr)
	}
	out = strings.TrimSpace(out)

	// What README.md says each command prints.
	said := map[string]string{}
	var cmd string
	for _, l := range strings.Split(console, "\n") {
		if strings.HasPrefix(l, "$ ") {
			cmd = strings.TrimPrefix(l, "$ ")
		} else if l != "" {
			said[cmd] += l + "\n"
		}
	}
	if want := said["nix-build"]; !regexp.MustCompile(`^/nix/store/.*-hello\.tar\.gz\n$`).MatchString(want) ||
		!strings.HasSuffix(out, "-"+filepath.Base(name)+".tar.gz") {
		t.Errorf("nix-build printed %s; README.md says %q", out, want)
	}
	loaded := d.loadFile(t, out, name+":latest")
	if want := strings.Replace(said["docker load < result"], "hello:latest", name+":latest", 1); !strings.Contains(loaded, strings.TrimSpace(want)) {
		t.Errorf("docker load printed %q; README.md says %q", loaded, want)
	}
	if got, want := d.run(t, name+":latest"), said["docker run --rm hello:latest"]; got != want {
		t.Errorf("docker run printed %q; README.md says %q", got, want)
	}
}
