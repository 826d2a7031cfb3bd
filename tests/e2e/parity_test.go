package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// ls runs hello ls in the image: uid, gid, mode and name of each path,
// as ls -ln shows them (the image has no ls).
func (e env) ls(t *testing.T, ref string, paths ...string) string {
	t.Helper()
	return e.dockerRun(t, append([]string{"--entrypoint", e.app + "/bin/hello", ref, "ls"}, paths...)...)
}

// TestFakeRootOwnersInDocker: the owners and modes --fake-root-commands
// set are what Docker's container sees; with --enable-fakechroot, a user
// useradd made in the image's /etc/passwd is one Docker resolves by name.
func TestFakeRootOwnersInDocker(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "fakeroot")
	out := filepath.Join(e.dir, "fakeroot.tar")
	r := e.script(t, "build-layered-image", "--name", "dt-e2e-parity/fakeroot", "--config", e.appConfig(t, nil),
		"--fake-root-commands", `mkdir -p home/app && chown 1000:1000 home/app
mkdir -m 0700 secret && chown 65534:65534 secret
cp `+e.app+`/bin/hello suid && chmod 4755 suid`, "-o", out, e.app)
	ref := "dt-e2e-parity/fakeroot:" + r.Tag
	e.load(t, out, ref)
	if got, want := e.ls(t, ref, "/home/app", "/secret", "/suid", "/nix/store"),
		"1000 1000 755 /home/app\n65534 65534 700 /secret\n0 0 4755 /suid\n0 0 755 /nix/store\n"; got != want {
		t.Errorf("hello ls:\n%s\nwant:\n%s", got, want)
	}
	if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("greet: %q", got)
	}

	testutil.Need(t, "proot", "useradd")
	out = filepath.Join(e.dir, "fakechroot.tar")
	r = e.script(t, "build-layered-image", "--name", "dt-e2e-parity/fakechroot",
		"--config", e.appConfig(t, map[string]any{"User": "app", "WorkingDir": "/home/app"}), "--fake-nss", "--enable-fakechroot",
		"--fake-root-commands", `groupadd -g 2000 app && useradd -u 1000 -g app -m -d /home/app app && mkdir -m 0750 /data && chown app:app /data`,
		"-o", out, e.app)
	ref = "dt-e2e-parity/fakechroot:" + r.Tag
	e.load(t, out, ref)
	if got := e.dockerRun(t, ref, "id"); got != "uid=1000 gid=2000\n" {
		t.Errorf("User app (from the image's /etc/passwd): %q", got)
	}
	if got, want := e.ls(t, ref, "/home/app", "/data"), "1000 2000 755 /home/app\n1000 2000 750 /data\n"; got != want {
		t.Errorf("hello ls:\n%s\nwant:\n%s", got, want)
	}
}

// TestPermsInDocker: permission rules set owners and modes in the store
// layers and in the customisation layer (build-layered-image) and in the
// single layer of build-image, as Docker's container sees them.
func TestPermsInDocker(t *testing.T) {
	e := setup(t)
	perms := filepath.Join(e.dir, "perms.json")
	rules := `[{"path": "` + e.app + `/bin", "regex": "hello$", "mode": "4555", "uid": 1000, "gid": 1000},
		{"path": "` + e.data + `", "mode": "0500", "uid": 1000},
		{"path": "/home/app", "uid": 1000, "gid": 100, "mode": "0700"},
		{"path": "/tmp", "mode": "1777"}]`
	if err := os.WriteFile(perms, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	contents := filepath.Join(e.dir, "contents")
	if err := os.MkdirAll(filepath.Join(contents, "home", "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(contents, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := "1000 1000 4555 " + e.app + "/bin/hello\n0 0 555 " + e.app + "/bin\n1000 0 500 " + e.data +
		"\n1000 100 700 /home/app\n0 0 1777 /tmp\n"
	for _, script := range []string{"build-layered-image", "build-image"} {
		t.Run(script, func(t *testing.T) {
			out := filepath.Join(e.dir, script+".tar")
			name := "dt-e2e-parity/perms-" + script
			r := e.script(t, script, "--name", name, "--config", e.appConfig(t, nil), "--contents", contents,
				"--perms", perms, "-o", out, e.app)
			ref := name + ":" + r.Tag
			e.load(t, out, ref)
			if got := e.ls(t, ref, e.app+"/bin/hello", e.app+"/bin", e.data, "/home/app", "/tmp"); got != want {
				t.Errorf("hello ls:\n%s\nwant:\n%s", got, want)
			}
			// The data path is 0500 and owned by 1000: root reads it, and
			// so does 1000, nobody does not.
			if got := e.dockerRun(t, ref); got != "hello from a nix store path\n" {
				t.Errorf("greet: %q", got)
			}
			if got := e.dockerRun(t, "-u", "1000", ref); got != "hello from a nix store path\n" {
				t.Errorf("greet as 1000: %q", got)
			}
		})
	}
}

// TestNixDB: --include-nix-db gives an image whose database this
// machine's Nix accepts: unpacked into a directory, nix-store --verify
// --check-contents passes, and the references and hashes it gives are the
// host store's; two builds give the same image ID; a file changed after
// is caught (the check can fail).
func TestNixDB(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "nix-store", "sqlite3")
	for _, script := range []string{"build-layered-image", "build-image"} {
		t.Run(script, func(t *testing.T) {
			var ids []string
			var out string
			for i := 0; i < 2; i++ {
				out = filepath.Join(e.dir, script+"-db"+string(rune('0'+i))+".tar")
				r := e.script(t, script, "--name", "dt-e2e-parity/db-"+script+":1", "--include-nix-db",
					"--config", e.appConfig(t, nil), "-o", out, e.app)
				ids = append(ids, r.ImageID)
			}
			if ids[0] != ids[1] {
				t.Errorf("two builds: image IDs %s and %s", ids[0], ids[1])
			}
			dir := filepath.Join(e.dir, script+"-root")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			testutil.Run(t, "sh", "-c", `"$1" -q "$2" | tar -C "$3" -xf -`, "unpack", filepath.Join(e.bin, "export-image"), out, dir)
			store := "local?root=" + dir
			verify := exec.Command("nix-store", append(append([]string{}, testutil.NixOptions...), "--store", store, "--verify", "--check-contents")...)
			if b, err := verify.CombinedOutput(); err != nil || strings.Contains(string(b), "modified") || strings.Contains(string(b), "error") {
				t.Fatalf("nix-store --verify --check-contents: %v\n%s", err, b)
			}
			for _, q := range [][]string{{"--references", e.app}, {"--hash", e.app}, {"--hash", e.data}, {"--size", e.data}, {"--requisites", e.app}} {
				host := testutil.Run(t, "nix-store", append(append([]string{}, testutil.NixOptions...), append([]string{"-q"}, q...)...)...)
				image := testutil.Run(t, "nix-store", append(append([]string{}, testutil.NixOptions...), append([]string{"--store", store, "-q"}, q...)...)...)
				if host != image || host == "" {
					t.Errorf("nix-store -q %s: the image says %q, the host %q", strings.Join(q, " "), image, host)
				}
			}
			times := testutil.Run(t, "sqlite3", filepath.Join(dir, "nix/var/nix/db/db.sqlite"), "SELECT DISTINCT registrationTime FROM ValidPaths")
			if times != "315532800\n" {
				t.Errorf("registration times %q, want $SOURCE_DATE_EPOCH's default 315532800", times)
			}
			if target, err := os.Readlink(filepath.Join(dir, "nix/var/nix/gcroots/docker", filepath.Base(e.app))); err != nil || target != e.app {
				t.Errorf("gcroot of the app: %q, %v", target, err)
			}
			// A file changed after: --check-contents says so.
			greeting := filepath.Join(dir, e.data, "greeting")
			os.Chmod(filepath.Join(dir, e.data), 0o755)
			os.Chmod(greeting, 0o644)
			if err := os.WriteFile(greeting, []byte("tampered\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			verify = exec.Command("nix-store", append(append([]string{}, testutil.NixOptions...), "--store", store, "--verify", "--check-contents")...)
			if b, err := verify.CombinedOutput(); err == nil || !strings.Contains(string(b), "was modified") {
				t.Errorf("a changed file passed nix-store --verify --check-contents:\n%s", b)
			}

			ref := "dt-e2e-parity/db-" + script + ":1"
			e.load(t, out, ref)
			if got := e.ls(t, ref, "/nix/var/nix/db/db.sqlite", "/nix/var/nix/db"); got != "0 0 644 /nix/var/nix/db/db.sqlite\n0 0 755 /nix/var/nix/db\n" {
				t.Errorf("hello ls: %q", got)
			}
		})
	}
}

// TestNoStorePathsRunsWithHostStore: an image built with --no-store-paths
// holds the customisation layer only; it runs with the host's /nix/store
// mounted, and without it the program is not there.
func TestNoStorePathsRunsWithHostStore(t *testing.T) {
	e := setup(t)
	out := filepath.Join(e.dir, "nostore.tar")
	cfg := e.config(t, map[string]any{"Entrypoint": []string{"/bin/hello"}, "Cmd": []string{"greet"}})
	r := e.script(t, "build-layered-image", "--name", "dt-e2e-parity/nostore:1", "--config", cfg,
		"--contents", e.app, "--no-store-paths", "-o", out)
	if len(r.DiffIDs) != 1 {
		t.Fatalf("%d layers, want the customisation layer only", len(r.DiffIDs))
	}
	e.load(t, out, "dt-e2e-parity/nostore:1")
	if got := e.dockerRun(t, "-v", "/nix/store:/nix/store:ro", "dt-e2e-parity/nostore:1"); got != "hello from a nix store path\n" {
		t.Errorf("with the host's store: %q", got)
	}
	cmd := exec.Command(e.docker, "run", "--rm", "--network=none", "dt-e2e-parity/nostore:1")
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("ran without the host's store: %q", b)
	}
}
