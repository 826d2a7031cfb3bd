package scripts

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// ownerCommands set owners and modes the way images need them: a home
// owned by 1000, a 0700 directory owned by nobody, a setuid file, a setgid
// directory of group 100, a symlink owned by 1000, in the root that
// --contents (a store path) and --extra-commands (etc/motd) made.
const ownerCommands = `mkdir -p home/app && chown 1000:1000 home/app
mkdir -m 0700 secret && echo key > secret/key && chown -R 65534:65534 secret
printf '#!/bin/sh\n' > suid && chmod 4755 suid
mkdir shared && chgrp 100 shared && chmod 2775 shared
ln -s /nowhere dangling && chown -h 1000:1000 dangling
chmod 0600 etc/motd && chown 0:100 etc/motd`

// entry of a customisation layer: what the tests look at.
type owned struct {
	typeflag byte
	mode     int64
	uid, gid int
	link     string
}

// lastLayer returns the diffID and the entries (by name, less "./") of
// the last layer of the single image of an archive.
func lastLayer(t *testing.T, archive string) (string, map[string]owned) {
	t.Helper()
	a, err := dockerarchive.Open(archive)
	must(t, err)
	defer a.Close()
	layers := a.Images[0].Layers
	l := layers[len(layers)-1]
	entries := map[string]owned{}
	tr := tar.NewReader(l.Open())
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/"), "/")
		entries[name] = owned{h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname}
	}
	return l.DiffID.String(), entries
}

// checkOwned checks entries of a layer.
func checkOwned(t *testing.T, entries map[string]owned, want map[string]owned) {
	t.Helper()
	for name, w := range want {
		got, ok := entries[name]
		if !ok {
			t.Errorf("the customisation layer has no %s", name)
			continue
		}
		if w.typeflag == 0 {
			w.typeflag = got.typeflag
		}
		if got != w {
			t.Errorf("%s: %c mode %o owner %d:%d %q, want %c mode %o owner %d:%d %q", name,
				got.typeflag, got.mode, got.uid, got.gid, got.link, w.typeflag, w.mode, w.uid, w.gid, w.link)
		}
	}
}

// TestFakeRootCommandsAreNixpkgs: --fake-root-commands give the
// customisation layer the owners and modes the commands set, with the
// bytes nixpkgs' own steps give: lndir into a directory made under umask
// 022, the extra commands run in it, then, in one fakeroot session, the
// fake-root commands and tar as nixpkgs runs it.
func TestFakeRootCommandsAreNixpkgs(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	tools := testutil.Need(t, "lndir", "fakeroot", "tar")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")
	extra := `mkdir -p etc && echo hi > etc/motd`

	dir := t.TempDir()
	root := filepath.Join(dir, "old_out")
	old := syscall.Umask(0o022)
	must(t, os.Mkdir(root, 0o777))
	if b, err := exec.Command(tools[0], "-silent", testutil.App, root).CombinedOutput(); err != nil {
		t.Fatalf("lndir: %v\n%s", err, b)
	}
	cmd := exec.Command("bash", "-c", extra)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extra commands: %v\n%s", err, b)
	}
	syscall.Umask(old)
	cmd = exec.Command(tools[1], "bash", "-e", "-c", `umask 022; cd old_out; eval "$fakeRootCommands"
		tar --sort name --numeric-owner --mtime "@$SOURCE_DATE_EPOCH" --hard-dereference -cf "$out/layer.tar" .`)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "fakeRootCommands="+ownerCommands, "SOURCE_DATE_EPOCH=315532800", "out="+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fakeroot: %v\n%s", err, b)
	}
	data, err := os.ReadFile(filepath.Join(dir, "layer.tar"))
	must(t, err)
	want := fmt.Sprintf("sha256:%x", sha256.Sum256(data))

	out := filepath.Join(dir, "image.tar")
	build(t, "build-layered-image", "-q", "--name", "dt-i-parity/fakeroot", "--graph", graph, "--contents", testutil.App,
		"--extra-commands", extra, "--fake-root-commands", ownerCommands, "-o", out, testutil.App)
	got, entries := lastLayer(t, out)
	if got != want {
		t.Errorf("customisation layer %s, nixpkgs' steps give %s\nours:\n  %s", got, want, strings.Join(customEntries(t, out), "\n  "))
	}
	checkOwned(t, entries, map[string]owned{
		"home/app":   {tar.TypeDir, 0o755, 1000, 1000, ""},
		"secret":     {tar.TypeDir, 0o700, 65534, 65534, ""},
		"secret/key": {tar.TypeReg, 0o644, 65534, 65534, ""},
		"suid":       {tar.TypeReg, 0o4755, 0, 0, ""},
		"shared":     {tar.TypeDir, 0o2775, 0, 100, ""},
		"dangling":   {tar.TypeSymlink, 0o777, 1000, 1000, "/nowhere"},
		"etc/motd":   {tar.TypeReg, 0o600, 0, 100, ""},
		"bin":        {tar.TypeDir, 0o755, 0, 0, ""},
		"bin/app":    {tar.TypeSymlink, 0o777, 0, 0, testutil.App + "/bin/app"},
	})
}

// TestFakechroot: --enable-fakechroot runs the commands with the image
// root as "/": useradd writes the image's /etc/passwd (never the host's),
// chown finds the user there, and the layer is packed as nixpkgs packs it
// under proot: no /dev, /proc, /sys or store directory, and the store
// directory's parent, which proot shows in "/", as a directory of its
// own.
func TestFakechroot(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	testutil.Need(t, "fakeroot", "proot", "useradd")
	hostPasswd, err := os.ReadFile("/etc/passwd")
	must(t, err)
	contents := filepath.Join(t.TempDir(), "contents")
	must(t, os.MkdirAll(filepath.Join(contents, "dev"), 0o755))
	must(t, os.MkdirAll(filepath.Join(contents, "nix", "store", "x"), 0o755))
	out := filepath.Join(t.TempDir(), "image.tar")
	r := build(t, "build-layered-image", "--name", "dt-i-parity/fakechroot", "--graph", graph, "--fake-nss",
		"--contents", contents, "--enable-fakechroot", "--fake-root-commands",
		`useradd -u 1000 -m -d /home/app app; mkdir -m 0700 /data; chown app:nobody /data; test -x `+testutil.App+`/bin/app; echo "pwd $PWD" >&2`,
		"-o", out, testutil.App)
	if b, _ := os.ReadFile("/etc/passwd"); string(b) != string(hostPasswd) {
		t.Fatal("the host's /etc/passwd changed")
	}
	if !strings.Contains(r.stderr, "pwd /\n") {
		t.Errorf("the commands' stderr %q does not show them in /", r.stderr)
	}
	_, entries := lastLayer(t, out)
	checkOwned(t, entries, map[string]owned{
		"home/app": {tar.TypeDir, 0o755, 1000, 100, ""},
		"data":     {tar.TypeDir, 0o700, 1000, 65534, ""},
		"nix":      {tar.TypeDir, 0o755, 0, 0, ""},
	})
	for _, gone := range []string{"dev", "proc", "sys", "nix/store", "nix/store/x", ".dockertools-host", "etc/.pwd.lock/x"} {
		if _, ok := entries[gone]; ok {
			t.Errorf("the customisation layer holds %s", gone)
		}
	}
	a, err := dockerarchive.Open(out)
	must(t, err)
	defer a.Close()
	layers := a.Images[0].Layers
	tr := tar.NewReader(layers[len(layers)-1].Open())
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("no etc/passwd in the customisation layer")
		}
		must(t, err)
		if h.Name == "./etc/passwd" {
			b, _ := io.ReadAll(tr)
			if !strings.Contains(string(b), "\napp:x:1000:100::/home/app:") && !strings.Contains(string(b), "\napp:!:1000:100::/home/app:") {
				t.Errorf("etc/passwd is %q, without the user useradd added", b)
			}
			break
		}
	}
}

// TestSameBytesAsNobody: a build gives the same image run as root and as
// nobody (setpriv), whatever sets the owners: --fake-root-commands,
// --enable-fakechroot, --perms; and --no-store-paths.
func TestSameBytesAsNobody(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	setpriv := testutil.Need(t, "setpriv", "fakeroot", "proot", "useradd")[0]
	// Everything nobody reads must be readable by it.
	must(t, os.Chmod(binDir, 0o755))
	shared, err := os.MkdirTemp("", "dt-parity-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(shared) })
	must(t, os.Chmod(shared, 0o755))
	graph := filepath.Join(shared, "graph.json")
	b, err := os.ReadFile(filepath.Join(fx.Dir, "graph.json"))
	must(t, err)
	must(t, os.WriteFile(graph, b, 0o644))
	perms := filepath.Join(shared, "perms.json")
	must(t, os.WriteFile(perms, []byte(`[{"path": "/home", "uid": 1000, "gid": 1000}, {"path": "`+testutil.Libfoo+`", "regex": "lib", "mode": "0750"}]`), 0o644))
	contents := filepath.Join(shared, "contents")
	must(t, os.MkdirAll(filepath.Join(contents, "home", "app"), 0o755))
	must(t, os.WriteFile(filepath.Join(contents, "home", "app", "x"), []byte("x\n"), 0o644))
	scripts := filepath.Join(testutil.RepoRoot(), "scripts")

	for _, c := range []struct {
		name string
		args []string
	}{
		{"fake-root commands", []string{"--contents", contents, "--fake-root-commands", ownerCommands, "--extra-commands", "mkdir -p etc && echo hi > etc/motd"}},
		{"fakechroot", []string{"--fake-nss", "--enable-fakechroot", "--fake-root-commands", "useradd -u 1000 -m app && mkdir -m 0700 /data && chown app /data && touch /suid && chmod 4755 /suid"}},
		{"perms", []string{"--contents", contents, "--perms", perms}},
		{"no store paths", []string{"--contents", contents, "--contents", testutil.App, "--no-store-paths"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"-q", "--name", "dt-i-parity/nobody", "--graph", graph}, c.args...)
			args = append(args, testutil.App)
			var ids []string
			for _, nobody := range []bool{false, true} {
				dir, err := os.MkdirTemp(shared, "run-")
				must(t, err)
				must(t, os.Chown(dir, 65534, 65534))
				out := filepath.Join(dir, "image.tar")
				name, a := filepath.Join(scripts, "build-layered-image"), append(args, "-o", out)
				if nobody {
					name, a = setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", name}, a...)
				}
				r := testutil.Exec(t, dir, []string{"DOCKERTOOLS_BIN=" + binDir, "TMPDIR=" + dir, "HOME=" + dir}, nil, name, a...)
				if r.Code != 0 {
					t.Fatalf("nobody=%v: exit %d\n%s", nobody, r.Code, r.Stderr)
				}
				ids = append(ids, r.Stdout)
			}
			if ids[0] != ids[1] {
				t.Errorf("as root:\n%s\nas nobody:\n%s", ids[0], ids[1])
			}
		})
	}
}

// TestParityOptionsFail: a failing fake-root script (with or without
// fakechroot), bad permission rules and a database of paths this
// machine's Nix does not know stop the build with one line saying why
// (after what the script printed on its stdout, which goes to stderr as
// it comes), and leave no output, nothing on stdout and nothing in
// TMPDIR.
func TestParityOptionsFail(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	dir := t.TempDir()
	badJSON := filepath.Join(dir, "bad.json")
	must(t, os.WriteFile(badJSON, []byte(`[{"path": "/", "mode": "0755"`), 0o644))
	badMode := filepath.Join(dir, "mode.json")
	must(t, os.WriteFile(badMode, []byte(`[{"path": "/etc"}, {"path": "/", "mode": "u+s"}]`), 0o644))
	badRegex := filepath.Join(dir, "regex.json")
	must(t, os.WriteFile(badRegex, []byte(`[{"path": "/", "regex": "*.so"}]`), 0o644))
	// What it prints on stdout is not its stderr's tail.
	failing := `echo starting; echo first >&2; echo second >&2; echo "the last words" >&2; echo "on stdout"; exit 7`
	for _, c := range []struct {
		name   string
		script string
		need   []string
		args   []string
		code   int
		want   string
	}{
		{"fake-root script", "build-layered-image", []string{"fakeroot"}, []string{"--fake-root-commands", failing}, 1,
			"starting\non stdout\nbuild-layered-image: --fake-root-commands failed with exit status 7: first | second | the last words\n"},
		{"fake-root script, a command failing", "build-layered-image", []string{"fakeroot"}, []string{"--fake-root-commands", "chown 1000 /nonexistent-here; echo not reached"}, 1,
			"build-layered-image: --fake-root-commands failed with exit status 1: chown: cannot access '/nonexistent-here': No such file or directory\n"},
		{"fakechroot script", "build-layered-image", []string{"fakeroot", "proot"}, []string{"--enable-fakechroot", "--fake-root-commands", failing}, 1,
			"starting\non stdout\nbuild-layered-image: --fake-root-commands failed with exit status 7: first | second | the last words\n"},
		{"fakechroot, no /etc/passwd", "build-layered-image", []string{"fakeroot", "proot", "useradd"}, []string{"--enable-fakechroot", "--fake-root-commands", "useradd app"}, 1,
			"build-layered-image: --fake-root-commands failed with exit status 1: useradd: cannot lock /etc/passwd; try again later.\n"},
		{"perms not JSON", "build-layered-image", nil, []string{"--perms", badJSON}, 1,
			"build-layered-image: --perms " + badJSON + ": not a JSON list of permission rules: unexpected EOF\n"},
		{"perms bad mode", "build-layered-image", nil, []string{"--perms", badMode}, 1,
			"build-layered-image: --perms " + badMode + `: rule 2: mode "u+s": not an octal mode from 0 to 7777` + "\n"},
		{"perms bad regex", "build-image", nil, []string{"--perms", badRegex}, 1,
			"build-image: --perms " + badRegex + ": rule 1: regex \"*.so\": error parsing regexp: missing argument to repetition operator: `*`\n"},
		{"perms and fake-root commands", "build-layered-image", nil, []string{"--perms", badMode, "--fake-root-commands", "true"}, 2,
			"build-layered-image: --perms and --fake-root-commands (or --enable-fakechroot) both set the customisation layer's owners: give one (try --help)\n"},
		{"database of unknown paths", "build-layered-image", []string{"nix-store", "sqlite3"}, []string{"--include-nix-db"}, 1,
			"build-layered-image: --include-nix-db: nix-store --dump-db: path '" + testutil.Libc + "' is not valid (the database registers the image's store paths as this machine's Nix store has them)\n"},
		{"database of unknown paths, one layer", "build-image", []string{"nix-store", "sqlite3"}, []string{"--include-nix-db"}, 1,
			"build-image: --include-nix-db: nix-store --dump-db: path '" + testutil.Libc + "' is not valid (the database registers the image's store paths as this machine's Nix store has them)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testutil.Need(t, c.need...)
			work := t.TempDir()
			out := filepath.Join(work, "out.tar")
			tmp := t.TempDir()
			args := append(append([]string{"-q", "--name", "dt-i-parity/fail:1", "--graph", graph}, c.args...), "-o", out, testutil.App)
			r := runScript(t, work, []string{"DOCKERTOOLS_BIN=" + binDir, "TMPDIR=" + tmp}, filepath.Join(testutil.RepoRoot(), "scripts", c.script), args...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d", r.code, c.code)
			}
			if r.stderr != c.want {
				t.Errorf("stderr:\n%q\nwant:\n%q", r.stderr, c.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if _, err := os.Lstat(out); err == nil {
				t.Error("the output file was written")
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}

// TestNoStorePaths: --no-store-paths builds the customisation layer only
// (on the base image's layers, if any): links into a store the image
// does not carry, without asking Nix for a closure.
func TestNoStorePaths(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	base := filepath.Join(t.TempDir(), "base.tar")
	build(t, "build-layered-image", "-q", "--name", "dt-i-parity/base:1", "--graph", graph, "-o", base, testutil.Single)
	baseLayers := len(readImage(t, base))
	// nix fails if called: the closure is not needed.
	bin, path := fakeBin(t, fault{name: "nix"})
	env := []string{"DOCKERTOOLS_BIN=" + bin, "PATH=" + path + ":" + os.Getenv("PATH")}
	for _, c := range []struct {
		name   string
		script string
		args   []string
		layers int
	}{
		{"layered", "build-layered-image", nil, 1},
		{"layered on a base image", "build-layered-image", []string{"--from-image", base}, baseLayers + 1},
		{"one layer", "build-image", nil, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.tar")
			args := append(append([]string{"-q", "--name", "dt-i-parity/nostore:1", "--no-store-paths", "--contents", testutil.App,
				"--config", writeConfig(t, `{"Cmd": ["`+testutil.Libfoo+`/bin/x"]}`)}, c.args...), "-o", out, testutil.Link)
			r := runScript(t, t.TempDir(), env, filepath.Join(testutil.RepoRoot(), "scripts", c.script), args...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			layers := readImage(t, out)
			if len(layers) != c.layers {
				t.Fatalf("%d layers, want %d", len(layers), c.layers)
			}
			top := layers[len(layers)-1]
			if len(top.paths) != 0 {
				t.Errorf("the image's own layer holds store paths %v", top.paths)
			}
			found := false
			for _, e := range top.entries {
				if strings.HasPrefix(e.name, "nix/") {
					t.Errorf("the layer holds %s", e.name)
				}
				if strings.TrimSuffix(e.name, "/") == "bin/app" {
					found = true
					if c.script == "build-layered-image" && (e.typeflag != tar.TypeSymlink || e.link != testutil.App+"/bin/app") {
						t.Errorf("bin/app: type %c -> %q, want a link into the store", e.typeflag, e.link)
					}
				}
			}
			if !found {
				t.Error("the layer has no bin/app from the contents")
			}
		})
	}
}

func writeConfig(t *testing.T, js string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	must(t, os.WriteFile(p, []byte(js), 0o644))
	return p
}
