package nix

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// The options of nixpkgs' dockerTools that run commands under fakeroot
// (fakeRootCommands, enableFakechroot) or put a Nix database in the image
// (includeNixDB, buildLayeredImageWithNixDb, buildImageWithNixDb), and
// nix2container's perms, through the Nix functions: built with nix-build,
// loaded into Docker, and looked at from inside a container with
// examples/hello's ls (uid gid mode name, as ls -ln).

// parityHeader binds, for the expressions of these tests, dts: nix/ whose
// builds also see the host's sbin directories (useradd, groupadd), as
// fakeRootCommands under enableFakechroot need them; and data, the app's
// data store path.
const parityHeader = `let
  dts = import (repo + "/nix") { inherit toolkit; hostPath = "/usr/bin:/bin:/usr/sbin:/sbin"; };
  data = builtins.replaceStrings [ "\n" ] [ "" ] (builtins.readFile "${app}/share/data-path");
in
`

// checkCheck rebuilds each attribute with nix-build --check: a build that
// writes other bytes the second time fails it.
func checkCheck(t *testing.T, e env, f string, attrs ...string) {
	t.Helper()
	for _, attr := range attrs {
		if _, stderr, ok := nix(t, "nix-build", append(e.args(), f, "-A", attr, "--check", "--no-out-link")...); !ok {
			t.Errorf("nix-build --check -A %s: a second build differs:\n%s", attr, stderr)
		}
	}
}

// TestFakeRootCommands: the owners and modes fakeRootCommands set are the
// image's, as Docker's container sees them; the stream is
// buildLayeredImage's archive; with enableFakechroot, useradd writes the
// image's /etc/passwd, so Docker resolves User = "app"; a second build of
// the customisation layer gives the same bytes.
func TestFakeRootCommands(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "fakeroot")
	f := e.expr(t, parityHeader+`rec {
  args = {
    name = "dt-i-nix2/fakeroot"; tag = "1"; contents = [ app ];
    config.Entrypoint = [ "/bin/hello" ];
    extraCommands = "mkdir -p home/app";
    fakeRootCommands = ''
      chown 1000:1000 home/app
      mkdir -m 0700 secret && chown 65534:65534 secret
      cp ${app}/bin/hello suid && chmod 4755 suid
    '';
  };
  stream = dt.streamLayeredImage args;
  archive = dt.buildLayeredImage (args // { compressor = "none"; });
  custom = stream.customisationLayer;
  chroot = dts.streamLayeredImage {
    name = "dt-i-nix2/fakechroot"; tag = "1"; contents = [ app ];
    config = { Entrypoint = [ "/bin/hello" ]; User = "app"; WorkingDir = "/home/app"; };
    enableFakechroot = true;
    # nixpkgs' shadowSetup's files: contents' /etc files would be links
    # into the store, which useradd cannot write.
    fakeRootCommands = ''
      mkdir -p /etc
      echo root:x:0:0::/root:/bin/sh >/etc/passwd
      echo root:x:0: >/etc/group
      groupadd -g 2000 app
      useradd -u 1000 -g app -m -d /home/app app
      mkdir -m 0750 /data && chown app:app /data
    '';
  };
  chrootCustom = chroot.customisationLayer;
}`)
	got := stream(t, mustBuild(t, e, f, "stream"))
	ref := "dt-i-nix2/fakeroot:1"
	d.load(t, got, ref)
	if out, want := d.run(t, ref, "ls", "/home/app", "/secret", "/suid", "/nix/store"),
		"1000 1000 755 /home/app\n65534 65534 700 /secret\n0 0 4755 /suid\n0 0 755 /nix/store\n"; out != want {
		t.Errorf("fakeRootCommands: hello ls:\n%s\nwant:\n%s", out, want)
	}
	if out := d.run(t, ref, "greet"); out != "hello from a nix store path\n" {
		t.Errorf("fakeRootCommands: greet: %q", out)
	}
	if archive := readFile(t, mustBuild(t, e, f, "archive")); !bytes.Equal(archive, got) {
		t.Error("fakeRootCommands: buildLayeredImage's archive is not the stream's bytes")
	}
	checkCheck(t, e, f, "custom")

	testutil.Need(t, "proot", "useradd", "groupadd", "ldd")
	ref = "dt-i-nix2/fakechroot:1"
	d.load(t, stream(t, mustBuild(t, e, f, "chroot")), ref)
	if out := d.run(t, ref, "id"); out != "uid=1000 gid=2000\n" {
		t.Errorf("enableFakechroot: User app (from the image's /etc/passwd): %q", out)
	}
	if out, want := d.run(t, ref, "ls", "/home/app", "/data", "/etc/passwd"),
		"1000 2000 755 /home/app\n1000 2000 750 /data\n0 0 644 /etc/passwd\n"; out != want {
		t.Errorf("enableFakechroot: hello ls:\n%s\nwant:\n%s", out, want)
	}
	if out := d.run(t, ref, "pwd"); out != "/home/app\n" {
		t.Errorf("enableFakechroot: WorkingDir: %q", out)
	}
	checkCheck(t, e, f, "chrootCustom")
}

// permsRules are the rules of TestPerms: on the app's binary and the data
// path (store layers), on /home/app and /tmp (the image root).
const permsRules = `[
    { path = app; regex = "hello$"; mode = "4555"; uid = 1000; gid = 1000; }
    { path = data; mode = "0500"; uid = 1000; }
    { path = "/home/app"; uid = 1000; gid = 100; mode = "0700"; }
    { path = /tmp; mode = "1777"; }
  ]`

// TestPerms: nix2container's perms set modes and owners in the store
// layers and the customisation layer (streamLayeredImage, with one
// derivation per layer or not), in buildImage's layer and in a buildLayer;
// the descriptors record the rules, so the stream writes the layers again
// with them; a second build gives the same bytes.
func TestPerms(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	f := e.expr(t, parityHeader+`rec {
  perms = `+permsRules+`;
  args = {
    name = "dt-i-nix2/perms"; tag = "stream"; contents = [ app ];
    config.Entrypoint = [ "/bin/hello" ];
    extraCommands = "mkdir -p home/app tmp";
    inherit perms;
  };
  stream = dt.streamLayeredImage args;
  ifd = dt.streamLayeredImage (args // { tag = "ifd"; layerDerivations = true; });
  layers = stream.conf;
  image = dt.buildImage {
    name = "dt-i-nix2/perms"; tag = "image"; copyToRoot = [ app ]; compressor = "none";
    config.Entrypoint = [ "/bin/hello" ];
    extraCommands = "mkdir -p home/app tmp";
    inherit perms;
  };
  explicit = dt.buildLayer { deps = [ app ]; inherit perms; };
  onLayer = dt.streamLayeredImage {
    name = "dt-i-nix2/perms"; tag = "layer"; layers = [ explicit ];
    config.Entrypoint = [ "${app}/bin/hello" ];
  };
  inherit app data;
}`)
	var app, data string
	e.eval(t, f, "app.outPath", &app)
	e.eval(t, f, "data", &data)
	store := "1000 1000 4555 " + app + "/bin/hello\n0 0 555 " + app + "/bin\n1000 0 500 " + data + "\n"
	root := "1000 100 700 /home/app\n0 0 1777 /tmp\n"
	paths := []string{app + "/bin/hello", app + "/bin", data}

	s := mustBuild(t, e, f, "stream")
	d.load(t, stream(t, s), "dt-i-nix2/perms:stream")
	d.load(t, stream(t, mustBuild(t, e, f, "ifd")), "dt-i-nix2/perms:ifd")
	for _, tag := range []string{"stream", "ifd"} {
		ref := "dt-i-nix2/perms:" + tag
		if out := d.run(t, append(append([]string{ref, "ls"}, paths...), "/home/app", "/tmp")...); out != store+root {
			t.Errorf("%s: hello ls:\n%s\nwant:\n%s", tag, out, store+root)
		}
		// The data path is 0500, owned by 1000: 1000 reads it.
		if out := d.run(t, "-u", "1000", ref, "greet"); out != "hello from a nix store path\n" {
			t.Errorf("%s: greet as 1000: %q", tag, out)
		}
	}
	if d.imageID(t, "dt-i-nix2/perms:ifd") != d.imageID(t, "dt-i-nix2/perms:stream") {
		t.Error("perms with a derivation per layer: another image")
	}
	var c conf
	if err := json.Unmarshal(readFile(t, mustBuild(t, e, f, "layers")), &c); err != nil {
		t.Fatal(err)
	}
	for _, l := range c.Layers {
		for _, desc := range readDescriptors(t, l) {
			if len(desc.Perms) != 4 {
				t.Errorf("descriptor of %v: %d rules, want the 4 given", desc.Paths, len(desc.Perms))
			}
		}
	}

	img := mustBuild(t, e, f, "image")
	d.loadFile(t, img, "dt-i-nix2/perms:image")
	// copyToRoot's /bin/hello is a copy, which no rule names: 555.
	if out, want := d.run(t, "dt-i-nix2/perms:image", "ls", data, "/bin/hello", "/home/app", "/tmp"),
		"1000 0 500 "+data+"\n0 0 555 /bin/hello\n"+root; out != want {
		t.Errorf("buildImage: hello ls:\n%s\nwant:\n%s", out, want)
	}

	d.load(t, stream(t, mustBuild(t, e, f, "onLayer")), "dt-i-nix2/perms:layer")
	if out := d.run(t, append([]string{"dt-i-nix2/perms:layer", "ls"}, paths...)...); out != store {
		t.Errorf("buildLayer: hello ls:\n%s\nwant:\n%s", out, store)
	}
	checkCheck(t, e, f, "image", "explicit", "stream.customisationLayer")
}

// TestNixDB: includeNixDB (streamLayeredImage, buildLayeredImageWithNixDb,
// buildImageWithNixDb) gives an image whose database this machine's Nix
// accepts: unpacked, nix-store --verify --check-contents passes, and the
// references and hashes it gives are the host store's; registration times
// are SOURCE_DATE_EPOCH's; gcroots link to the contents; a second build
// gives the same bytes; a file changed after is caught (the check can
// fail).
func TestNixDB(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "nix-store", "sqlite3", "tar")
	f := e.expr(t, parityHeader+`rec {
  stream = dt.streamLayeredImage { name = "dt-i-nix2/db"; tag = "stream"; contents = [ app ]; includeNixDB = true; config.Entrypoint = [ "/bin/hello" ]; };
  layered = dt.buildLayeredImageWithNixDb { name = "dt-i-nix2/db"; tag = "layered"; contents = [ app ]; config.Entrypoint = [ "/bin/hello" ]; };
  image = dt.buildImageWithNixDb { name = "dt-i-nix2/db"; tag = "image"; copyToRoot = [ app ]; config.Entrypoint = [ "/bin/hello" ]; };
  custom = layered.stream.customisationLayer;
  inherit app data;
}`)
	var app, data string
	e.eval(t, f, "app.outPath", &app)
	e.eval(t, f, "data", &data)
	exportImage := filepath.Join(e.toolkit, "bin", "export-image")
	verify := func(store string) ([]byte, error) {
		return exec.Command("nix-store", append(append([]string{}, testutil.NixOptions...), "--store", store, "--verify", "--check-contents")...).CombinedOutput()
	}
	for _, attr := range []string{"stream", "layered", "image"} {
		t.Run(attr, func(t *testing.T) {
			out := mustBuild(t, e, f, attr)
			archive := out
			if attr == "stream" {
				archive = filepath.Join(e.dir, "db-stream.tar")
				if err := os.WriteFile(archive, stream(t, out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(e.dir, attr+"-root")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			testutil.Run(t, "sh", "-c", `"$1" -q "$2" | tar -C "$3" -xf -`, "unpack", exportImage, archive, dir)
			store := "local?root=" + dir
			if b, err := verify(store); err != nil || strings.Contains(string(b), "modified") || strings.Contains(string(b), "error") {
				t.Fatalf("nix-store --verify --check-contents: %v\n%s", err, b)
			}
			for _, q := range [][]string{{"--references", app}, {"--hash", app}, {"--hash", data}, {"--size", data}, {"--requisites", app}} {
				host := testutil.Run(t, "nix-store", append(append([]string{}, testutil.NixOptions...), append([]string{"-q"}, q...)...)...)
				image := testutil.Run(t, "nix-store", append(append([]string{}, testutil.NixOptions...), append([]string{"--store", store, "-q"}, q...)...)...)
				if host != image || host == "" {
					t.Errorf("nix-store -q %s: the image says %q, the host %q", strings.Join(q, " "), image, host)
				}
			}
			if times := testutil.Run(t, "sqlite3", filepath.Join(dir, "nix/var/nix/db/db.sqlite"), "SELECT DISTINCT registrationTime FROM ValidPaths"); times != "315532800\n" {
				t.Errorf("registration times %q, want SOURCE_DATE_EPOCH's 315532800", times)
			}
			if target, err := os.Readlink(filepath.Join(dir, "nix/var/nix/gcroots/docker", filepath.Base(app))); err != nil || target != app {
				t.Errorf("gcroot of the app: %q, %v", target, err)
			}
			greeting := filepath.Join(dir, data, "greeting")
			if err := os.WriteFile(greeting, []byte("tampered\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if b, err := verify(store); err == nil || !strings.Contains(string(b), "was modified") {
				t.Errorf("a changed file passed nix-store --verify --check-contents:\n%s", b)
			}

			ref := "dt-i-nix2/db:" + attr
			d.loadFile(t, archive, ref)
			if got := d.run(t, ref, "ls", "/nix/var/nix/db/db.sqlite", "/nix/var/nix/db"); got != "0 0 644 /nix/var/nix/db/db.sqlite\n0 0 755 /nix/var/nix/db\n" {
				t.Errorf("hello ls: %q", got)
			}
			if got := d.run(t, ref, "greet"); got != "hello from a nix store path\n" {
				t.Errorf("greet: %q", got)
			}
		})
	}
	checkCheck(t, e, f, "custom", "image")
}

// TestParityBuildErrors: what only the build can tell (a rule's regex or
// mode, commands that fail) fails it with one line in the user's terms.
func TestParityBuildErrors(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "fakeroot")
	f := e.expr(t, `{
  regex = dt.streamLayeredImage { name = "dt-i-nix2/errors"; contents = [ app ]; perms = [ { path = "/"; regex = "(("; } ]; };
  mode = dt.buildLayer { deps = [ app ]; perms = [ { path = app; } { path = app; mode = "999"; } ]; };
  relative = dt.buildImage { name = "dt-i-nix2/errors"; perms = [ { path = "etc"; mode = "0600"; } ]; };
  commands = dt.streamLayeredImage { name = "dt-i-nix2/errors"; fakeRootCommands = "echo going wrong >&2; exit 3"; };
}`)
	cases := []struct{ attr, want string }{
		{"regex", "dockertools: perms: rule 1: regex \"((\": error parsing regexp: missing closing ): `((`"},
		{"mode", "dockertools: perms: rule 2: mode \"999\": not an octal mode from 0 to 7777"},
		{"relative", "dockertools: perms: rule 1: path \"etc\": not an absolute path"},
		{"commands", "dockertools: fakeRootCommands failed with exit status 3: going wrong"},
	}
	for _, c := range cases {
		if stderr := e.buildFails(t, f, c.attr); !strings.Contains(stderr, c.want) {
			t.Errorf("%s: nix-build's error lacks %q:\n%s", c.attr, c.want, stderr)
		}
	}
}
