package nix

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// The tests here run nix/ over testdata/standin, a stand-in with nixpkgs'
// attribute shapes (see its header): they check this repository's Nix code
// (the overlay's logic, the pkgs route of nix/default.nix, flake.nix's
// outputs), not nixpkgs.

// standin is the expression binding pkgs to the stand-in (with the
// overlay when overlaid) and original to the stand-in without it.
const standin = `let
  standin = overlays: import (repo + "/tests/nix/testdata/standin") { inherit toolkit overlays; program = hello; };
  original = standin [ ];
  pkgs = standin [ (import (repo + "/nix/overlay.nix")) ];
in
`

// TestOverlay: the overlay keeps the stand-in's streamLayeredImage (its
// conf.json, its tag, its passthru) and streams it with assemble-image
// --nixpkgs-conf; the image loads and runs; buildLayeredImage compresses
// that stream as nixpkgs does.
func TestOverlay(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	// The stand-in puts its conf.json together with jq, as nixpkgs does;
	// the overlay's buildLayeredImage compresses with pigz.
	testutil.Need(t, "jq", "pigz", "gzip")
	f := e.expr(t, standin+`let
  args = { name = "dt-i-nix/overlay"; contents = [ app ]; config.Cmd = [ "/bin/hello" "greet" ]; };
  s = pkgs.dockerTools.streamLayeredImage args;
  o = original.dockerTools.streamLayeredImage args;
in {
  stream = s;
  originalStream = o;
  archive = pkgs.dockerTools.buildLayeredImage args;
  conf = s.conf;
  facts = {
    swapped = s.drvPath != o.drvPath;
    sameConf = s.conf.drvPath == o.conf.drvPath;
    sameTag = s.imageTag == o.imageTag;
    tag = s.imageTag;
    isExe = s.isExe;
    archiveStream = (pkgs.dockerTools.buildLayeredImage args).stream.drvPath == s.drvPath;
  };
}`)
	var facts struct {
		Swapped, SameConf, SameTag, IsExe, ArchiveStream bool
		Tag                                              string
	}
	e.eval(t, f, "facts", &facts)
	if !facts.Swapped || !facts.SameConf || !facts.SameTag || !facts.IsExe || !facts.ArchiveStream {
		t.Errorf("overlaid streamLayeredImage: %+v: want another stream over the same conf and tag, isExe, and buildLayeredImage over it", facts)
	}
	out := mustBuild(t, e, f, "stream")
	got := stream(t, out)
	conf := mustBuild(t, e, f, "conf")
	want := testutil.Run(t, filepath.Join(e.toolkit, "bin", "assemble-image"), "--quiet", "--nixpkgs-conf", conf)
	if sha(got) != sha([]byte(want)) {
		t.Error("the overlay's stream is not assemble-image --nixpkgs-conf of the conf")
	}
	ref := "dt-i-nix/overlay:" + facts.Tag
	d.load(t, got, ref)
	if got := d.run(t, ref); got != "hello from a nix store path\n" {
		t.Errorf("docker run: %q", got)
	}
	for _, args := range [][]string{{"--repo_tag", "dt-i-nix/overlay:renamed"}, {"-t", "dt-i-nix/overlay:renamed"}} {
		renamed := stream(t, out, args...)
		if !bytes.Contains(renamed, []byte(`"dt-i-nix/overlay:renamed"`)) {
			t.Errorf("%v: the manifest does not name dt-i-nix/overlay:renamed", args)
		}
	}
	archive := mustBuild(t, e, f, "archive")
	if !strings.HasSuffix(archive, "-overlay.tar.gz") {
		t.Errorf("buildLayeredImage: %s, want overlay.tar.gz", archive)
	}
	plain, err := exec.Command("gzip", "-dc", archive).Output()
	if err != nil || !bytes.Equal(plain, got) {
		t.Errorf("buildLayeredImage's archive is not the gzip of the stream (%v)", err)
	}
	// The stand-in's own stream does not stream: the image above is the
	// overlay's.
	cmd := exec.Command(mustBuild(t, e, f, "originalStream"))
	if msg, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(msg), "stand-in") {
		t.Errorf("the stand-in's stream: %v %s", err, msg)
	}
}

// TestOverlayConformance: over the conformance fixture's conf.json files
// (what nixpkgs' streamLayeredImage computes for them), the overlay's
// stream writes the archives whose digests nixpkgs' stream_layered_image.py
// gives (testdata/conformance/README.md).
func TestOverlayConformance(t *testing.T) {
	e := setup(t)
	fx := testutil.ConformanceFixture(t)
	f := e.expr(t, standin+`let
  fixture = final: prev: {
    dockerTools = prev.dockerTools // {
      streamLayeredImage = { confFile }: prev.runCommand "stream-fixture" {
        imageName = "fixture/app";
        passthru = { conf = builtins.path { path = confFile; name = "conf.json"; }; imageTag = "fixture"; isExe = true; };
      } "touch $out";
    };
  };
  fixed = import (repo + "/tests/nix/testdata/standin") {
    inherit toolkit; program = hello; overlays = [ fixture (import (repo + "/nix/overlay.nix")) ];
  };
in {
  a = fixed.dockerTools.streamLayeredImage { confFile = `+filepath.Join(fx.Dir, "out", "a.conf.json")+`; };
  b = fixed.dockerTools.streamLayeredImage { confFile = `+filepath.Join(fx.Dir, "out", "b.conf.json")+`; };
}`)
	a := stream(t, mustBuild(t, e, f, "a"))
	if got := sha(a); got != "336425739690350f22697dc691c1ae569a499b3af2ec54d2579a256a39e3c342" {
		t.Errorf("case a: sha256 %s, nixpkgs' is 336425739690350f22697dc691c1ae569a499b3af2ec54d2579a256a39e3c342", got)
	}
	// Case b's base image is case a's archive.
	if err := os.WriteFile(filepath.Join(fx.Dir, "out", "a.tar"), a, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := sha(stream(t, mustBuild(t, e, f, "b"))); got != "a27b6a30d4c1b0c781c2ad70d911d1e3b2672617c197306e3f41ccb49c7ab8d9" {
		t.Errorf("case b: sha256 %s, nixpkgs' is a27b6a30d4c1b0c781c2ad70d911d1e3b2672617c197306e3f41ccb49c7ab8d9", got)
	}
}

// TestPkgsRoute: nix/ given pkgs (the stand-in) builds the toolkit with
// nix/package.nix through callPackage and buildGoModule, runs its builders
// with pkgs.runCommand, and links binSh, usrBinEnv and caCertificates to
// pkgs' packages (here the test program as bash and env).
func TestPkgsRoute(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "zstd")
	f := e.expr(t, standin+`let
  dtp = import (repo + "/nix") { pkgs = original; };
  common = {
    contents = [ app dtp.binSh dtp.usrBinEnv dtp.caCertificates dtp.fakeNss ];
    config.Cmd = [ "/bin/hello" "greet" ];
  };
in {
  stream = dtp.streamLayeredImage (common // { name = "dt-i-nix/pkgs"; tag = "stream"; });
  archive = dtp.buildLayeredImage (common // { name = "dt-i-nix/pkgs"; tag = "archive"; compressor = "zstd"; });
  image = dtp.buildImage { name = "dt-i-nix/pkgs"; tag = "image"; copyToRoot = [ app ]; config.Cmd = [ "/bin/hello" "greet" ]; };
  toolkit = dtp.toolkit;
}`)
	tk := mustBuild(t, e, f, "toolkit")
	if !strings.HasSuffix(tk, "-dockertools-0.1.0") {
		t.Errorf("toolkit %s: want nix/package.nix's dockertools-0.1.0", tk)
	}
	out := mustBuild(t, e, f, "stream")
	if script := readFile(t, out); !bytes.Contains(script, []byte(tk+"/bin/assemble-image")) || !bytes.HasPrefix(script, []byte("#!/bin/bash\n")) {
		t.Errorf("the stream does not run %s/bin/assemble-image under pkgs.runtimeShell:\n%s", tk, script)
	}
	d.load(t, stream(t, out), "dt-i-nix/pkgs:stream")
	if got := d.run(t, "--entrypoint", "/bin/sh", "dt-i-nix/pkgs:stream", "args", "from /bin/sh"); got != "from /bin/sh\n" {
		t.Errorf("binSh: %q", got)
	}
	if got := d.run(t, "--entrypoint", "/usr/bin/env", "dt-i-nix/pkgs:stream", "args", "from env"); got != "from env\n" {
		t.Errorf("usrBinEnv: %q", got)
	}
	certs := "/etc/ssl/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt"
	if got := d.run(t, append([]string{"dt-i-nix/pkgs:stream", "/bin/hello", "stat"}, strings.Fields(certs)...)...); strings.Count(got, " 777\n") != 3 {
		t.Errorf("caCertificates: %q, want three links", got)
	}
	for _, c := range []struct{ attr, ref string }{{"archive", "dt-i-nix/pkgs:archive"}, {"image", "dt-i-nix/pkgs:image"}} {
		d.loadFile(t, mustBuild(t, e, f, c.attr), c.ref)
		if got := d.run(t, c.ref); got != "hello from a nix store path\n" {
			t.Errorf("%s: %q", c.attr, got)
		}
	}
}

// TestPkgsRouteOptions: with pkgs, the builds of fakeRootCommands,
// enableFakechroot and includeNixDB take the programs they run from pkgs
// (fakeroot; proot and glibc's ldd; nix and sqlite, as nixpkgs'
// mkDbExtraCommand), each only when its option asks for it; an image of
// fake-root commands and a database builds and runs.
func TestPkgsRouteOptions(t *testing.T) {
	e := setup(t)
	d := needDocker(t)
	testutil.Need(t, "fakeroot", "proot", "ldd", "sqlite3")
	f := e.expr(t, standin+`let
  dtp = import (repo + "/nix") { pkgs = original; };
  layered = extra: dtp.streamLayeredImage ({ name = "dt-i-nix2/pkgs-options"; tag = "1"; contents = [ app ]; config.Entrypoint = [ "/bin/hello" ]; } // extra);
in {
  both = layered { fakeRootCommands = "mkdir -m 0700 secret && chown 1000:1000 secret"; includeNixDB = true; };
  drvs = {
    plain = (layered { }).customisationLayer.drvPath;
    fakeroot = (layered { fakeRootCommands = "true"; }).customisationLayer.drvPath;
    fakechroot = (layered { enableFakechroot = true; }).customisationLayer.drvPath;
    db = (layered { includeNixDB = true; }).customisationLayer.drvPath;
    image = (dtp.buildImageWithNixDb { name = "dt-i-nix2/pkgs-options"; copyToRoot = [ app ]; }).drvPath;
  };
}`)
	var drvs map[string]string
	e.eval(t, f, "drvs", &drvs)
	want := map[string][]string{
		"plain":      nil,
		"fakeroot":   {"standin-fakeroot"},
		"fakechroot": {"standin-fakeroot", "standin-ldd", "standin-proot"},
		"db":         {"standin-nix-store", "standin-sqlite3"},
		"image":      {"standin-nix-store", "standin-sqlite3"},
	}
	for name, drv := range drvs {
		var got []string
		for _, r := range lines(testutil.Run(t, "nix-store", append(append([]string{}, testutil.NixOptions...), "-q", "--references", drv)...)) {
			// The stand-in's links to this machine's programs are named
			// after the programs (standin-nix-store for pkgs.nix).
			if m := regexp.MustCompile(`/[0-9a-z]{32}-(standin-[a-z0-9-]+)\.drv$`).FindStringSubmatch(r); m != nil {
				got = append(got, m[1])
			}
		}
		sort.Strings(got)
		if strings.Join(got, " ") != strings.Join(want[name], " ") {
			t.Errorf("%s: the build's inputs from pkgs are %v, want %v", name, got, want[name])
		}
	}
	ref := "dt-i-nix2/pkgs-options:1"
	d.load(t, stream(t, mustBuild(t, e, f, "both")), ref)
	if got, want := d.run(t, ref, "ls", "/secret", "/nix/var/nix/db/db.sqlite"), "1000 1000 700 /secret\n0 0 644 /nix/var/nix/db/db.sqlite\n"; got != want {
		t.Errorf("hello ls:\n%s\nwant:\n%s", got, want)
	}
}

// TestFlake: flake.nix, with the stand-in as its nixpkgs input, shows its
// outputs, builds packages.<system>.default (nix/package.nix), evaluates
// lib.<system> and gives an overlay. Flakes are experimental in Nix 2.8.
func TestFlake(t *testing.T) {
	e := setup(t)
	testutil.Need(t, "git")
	repo := filepath.Join(e.dir, "repo")
	files := testutil.Run(t, "git", "-C", e.repo, "ls-files", "--cached", "--others", "--exclude-standard")
	for _, name := range lines(files) {
		src := filepath.Join(e.repo, name)
		fi, err := os.Lstat(src)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the worktree, or not a file
		}
		dst := filepath.Join(repo, name)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		b := readFile(t, src)
		if err := os.WriteFile(dst, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	nixpkgs := filepath.Join(e.dir, "nixpkgs")
	if err := os.Mkdir(nixpkgs, 0o755); err != nil {
		t.Fatal(err)
	}
	testutil.Run(t, "cp", "-r", filepath.Join(e.repo, "tests", "nix", "testdata", "standin"), filepath.Join(nixpkgs, "standin"))
	testutil.Run(t, "cp", "-r", e.toolkit, filepath.Join(nixpkgs, "toolkit"))
	testutil.Run(t, "cp", e.hello, filepath.Join(nixpkgs, "hello"))
	flake := `{
  outputs = { self }: {
    legacyPackages = builtins.listToAttrs (map (system: {
      name = system;
      value = import ./standin { toolkit = ./toolkit; program = ./hello; inherit system; };
    }) [ "x86_64-linux" "aarch64-linux" ]);
  };
}
`
	if err := os.WriteFile(filepath.Join(nixpkgs, "flake.nix"), []byte(flake), 0o644); err != nil {
		t.Fatal(err)
	}
	system := strings.Trim(strings.TrimSpace(func() string {
		out, _, _ := nix(t, "nix-instantiate", "--eval", "-E", "builtins.currentSystem")
		return out
	}()), `"`)
	flakeNix := func(args ...string) string {
		t.Helper()
		all := append([]string{"--extra-experimental-features", "nix-command flakes"}, args...)
		all = append(all, "--override-input", "nixpkgs", "path:"+nixpkgs)
		out, stderr, ok := nix(t, "nix", all...)
		if !ok {
			t.Fatalf("nix %s:\n%s", strings.Join(args, " "), stderr)
		}
		return out
	}
	show := flakeNix("flake", "show", "path:"+repo)
	for _, want := range []string{"packages", system, "default", "overlays", "lib"} {
		if !strings.Contains(show, want) {
			t.Errorf("nix flake show lacks %q:\n%s", want, show)
		}
	}
	result := filepath.Join(e.dir, "result")
	flakeNix("build", "path:"+repo+"#packages."+system+".default", "-o", result)
	if v := testutil.Run(t, filepath.Join(result, "bin", "assemble-image"), "--version"); !strings.Contains(v, "0.1.0") {
		t.Errorf("the flake's package: assemble-image --version printed %q", v)
	}
	flakeNix("build", "path:"+repo+"#lib."+system+".fakeNss", "-o", result+"-nss")
	if passwd := readFile(t, filepath.Join(result+"-nss", "etc", "passwd")); !bytes.Contains(passwd, []byte("nobody:x:65534:65534:")) {
		t.Errorf("lib.%s.fakeNss's /etc/passwd: %s", system, passwd)
	}
	var names []string
	if err := json.Unmarshal([]byte(flakeNix("eval", "--json", "path:"+repo+"#overlays.default", "--apply", "o: builtins.attrNames (o { } { })")), &names); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, " ") != "dockerTools dockertools dockertoolsLib" {
		t.Errorf("overlays.default gives %v", names)
	}
}

// TestVendorHash: nix/package.nix's vendorHash is the hash of `go mod
// vendor` run in the package's own src, as buildGoModule computes it.
func TestVendorHash(t *testing.T) {
	e := setup(t)
	out, stderr, ok := nix(t, "nix-instantiate", "--read-write-mode", "--eval", "--strict", "--json", "-E",
		`let p = import `+e.repo+`/nix/package.nix { lib = { platforms.linux = [ ]; }; buildGoModule = a: a; };
		 in { inherit (p) vendorHash; src = "${p.src}"; }`)
	if !ok {
		t.Fatalf("evaluating nix/package.nix:\n%s", stderr)
	}
	var p struct{ VendorHash, Src string }
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(e.dir, "src")
	testutil.Run(t, "cp", "-r", p.Src, src)
	testutil.Run(t, "chmod", "-R", "u+w", src)
	vendor := exec.Command("go", "mod", "vendor")
	vendor.Dir = src
	vendor.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if msg, err := vendor.CombinedOutput(); err != nil {
		t.Fatalf("go mod vendor: %v\n%s", err, msg)
	}
	hash, stderr, ok := nix(t, "nix", "--extra-experimental-features", "nix-command", "hash", "path", filepath.Join(src, "vendor"))
	if !ok {
		t.Fatalf("nix hash path: %s", stderr)
	}
	if got := strings.TrimSpace(hash); got != p.VendorHash {
		t.Errorf("nix/package.nix has vendorHash = %q; go mod vendor gives %q: put that one there", p.VendorHash, got)
	}
}
