package nix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// internals are what an error in the user's terms does not show: this
// library's files, Nix's own wording for a bad function call.
var internals = []string{"images.nix", "args.nix", "anonymous function", "called with unexpected argument",
	"called without required argument", "while evaluating"}

// TestBadArguments: each mistake is one evaluation error naming the
// function, the argument and what is wrong, in the user's terms.
func TestBadArguments(t *testing.T) {
	e := setup(t)
	cases := []struct{ name, expr, want string }{
		{"unknown argument", `dt.streamLayeredImage { name = "x"; maxLayer = 3; }`,
			"dockertools.streamLayeredImage: unknown argument maxLayer (did you mean maxLayers?)"},
		{"unknown argument of buildLayeredImage", `dt.buildLayeredImage { name = "x"; compresor = "gz"; }`,
			"dockertools.buildLayeredImage: unknown argument compresor (did you mean compressor?)"},
		{"unknown argument, nothing near", `dt.buildImage { name = "x"; flavour = 1; }`,
			"dockertools.buildImage: unknown argument flavour\n"},
		{"maxLayers below 2", `dt.streamLayeredImage { name = "x"; maxLayers = 1; }`,
			"dockertools.streamLayeredImage: maxLayers must be a number greater than 1 (one layer for the store paths and one for the customisation layer), not the number 1"},
		{"maxLayers not a number", `dt.buildLayeredImage { name = "x"; maxLayers = "9"; }`,
			`dockertools.buildLayeredImage: maxLayers must be a number greater than 1 (one layer for the store paths and one for the customisation layer), not the string "9"`},
		{"contents entry not a path", `dt.buildLayeredImage { name = "x"; contents = [ app 42 ]; }`,
			"dockertools.buildLayeredImage: contents: entry 2 is the number 42, not a path or a derivation"},
		{"contents entry an attribute set", `dt.streamLayeredImage { name = "x"; contents = { bin = app; }; }`,
			"dockertools.streamLayeredImage: contents: entry 1 is an attribute set { bin = ...; }, not a path or a derivation"},
		{"compressor", `dt.buildLayeredImage { name = "x"; compressor = "xz"; }`,
			`dockertools.buildLayeredImage: compressor must be one of "gz", "none", "zstd", not the string "xz"`},
		{"compressor of buildImage", `dt.buildImage { name = "x"; compressor = "bzip2"; }`,
			`dockertools.buildImage: compressor must be one of "gz", "none", "zstd", not the string "bzip2"`},
		{"fromImage a derivation that is no image", `dt.streamLayeredImage { name = "x"; fromImage = app; }`,
			"dockertools.streamLayeredImage: fromImage is the derivation dt-e2e-app, which is not an image: give the result of buildImage, buildLayeredImage, streamLayeredImage or pullImage, or a docker-archive file"},
		{"fromImage a number", `dt.buildImage { name = "x"; fromImage = 42; }`,
			"dockertools.buildImage: fromImage is the number 42, which is not an image"},
		{"fromImage a missing file", `dt.buildLayeredImage { name = "x"; fromImage = /nonexistent/base.tar; }`,
			"dockertools.buildLayeredImage: fromImage /nonexistent/base.tar does not exist"},
		{"mergeImages entry", `dt.mergeImages [ (dt.streamLayeredImage { name = "x"; }) app ]`,
			"dockertools.mergeImages: entry 2 of the list is the derivation dt-e2e-app, which is not an image"},
		{"name missing", `dt.streamLayeredImage { contents = [ app ]; }`,
			"dockertools.streamLayeredImage: name is required"},
		{"config not a set", `dt.streamLayeredImage { name = "x"; config = [ "Cmd" ]; }`,
			"dockertools.streamLayeredImage: config must be an attribute set, not a list of 1"},
		{"uid", `dt.streamLayeredImage { name = "x"; uid = -1; }`,
			"dockertools.streamLayeredImage: uid must be a number 0 or more, not the number -1"},
		{"fakeRootCommands not a string", `dt.streamLayeredImage { name = "x"; fakeRootCommands = [ "chown 1000 home" ]; }`,
			"dockertools.streamLayeredImage: fakeRootCommands must be a string, not a list of 1"},
		{"enableFakechroot not a bool", `dt.buildLayeredImage { name = "x"; enableFakechroot = "yes"; }`,
			`dockertools.buildLayeredImage: enableFakechroot must be true or false, not the string "yes"`},
		{"includeNixDB not a bool", `dt.buildImage { name = "x"; includeNixDB = 1; }`,
			"dockertools.buildImage: includeNixDB must be true or false, not the number 1"},
		{"includeNixDB mistyped", `dt.buildLayeredImage { name = "x"; includeNixDb = true; }`,
			"dockertools.buildLayeredImage: unknown argument includeNixDb (did you mean includeNixDB?)"},
		{"WithNixDb not a set", `dt.buildImageWithNixDb "x"`,
			`dockertools.buildImageWithNixDb: takes an attribute set of arguments, not the string "x"`},
		{"WithNixDb names itself", `dt.buildLayeredImageWithNixDb { name = "x"; fakeRootCommand = ""; }`,
			"dockertools.buildLayeredImageWithNixDb: unknown argument fakeRootCommand (did you mean fakeRootCommands?)"},
		{"perms and fakeRootCommands", `dt.streamLayeredImage { name = "x"; perms = [ { path = "/home"; uid = 1000; } ]; fakeRootCommands = "chown 1000 home"; }`,
			"dockertools.streamLayeredImage: perms and fakeRootCommands both set the owners of the customisation layer: give one"},
		{"perms and enableFakechroot", `dt.buildLayeredImage { name = "x"; perms = [ { path = "/home"; uid = 1000; } ]; enableFakechroot = true; }`,
			"dockertools.buildLayeredImage: perms and enableFakechroot both set the owners of the customisation layer: give one"},
		{"perms not a list", `dt.buildLayer { deps = [ app ]; perms = { path = app; mode = "0755"; }; }`,
			"dockertools.buildLayer: perms must be a list of rules { path; regex; mode; uid; gid; uname; gname; }, not an attribute set { mode = ...; path = ...; }"},
		{"perms rule not a set", `dt.buildImage { name = "x"; perms = [ app ]; }`,
			"dockertools.buildImage: perms: rule 1 is the derivation dt-e2e-app, not an attribute set { path; regex; mode; uid; gid; uname; gname; }"},
		{"perms unknown field", `dt.streamLayeredImage { name = "x"; perms = [ { path = "/etc"; mod = "0600"; } ]; }`,
			"dockertools.streamLayeredImage: perms: rule 1: unknown field mod (did you mean mode?)"},
		{"perms without path", `dt.buildLayer { deps = [ app ]; perms = [ { path = app; } { regex = "x"; uid = 1; } ]; }`,
			"dockertools.buildLayer: perms: rule 2: path is required (the rule applies at and below it; \"/\" is everything)"},
		{"perms mode a number", `dt.buildImage { name = "x"; perms = [ { path = "/etc"; mode = 644; } ]; }`,
			"dockertools.buildImage: perms: rule 1: mode must be an octal string such as \"0755\", not the number 644"},
		{"perms uid a string", `dt.buildLayeredImage { name = "x"; perms = [ { path = "/etc"; uid = "app"; } ]; }`,
			`dockertools.buildLayeredImage: perms: rule 1: uid must be a number 0 or more, not the string "app"`},
		{"perms path a number", `dt.buildLayeredImage { name = "x"; perms = [ { path = 1; } ]; }`,
			`dockertools.buildLayeredImage: perms: rule 1: path must be a string ("/etc/motd"), a path or a derivation, not the number 1`},
		{"buildLayer maxLayers", `dt.buildLayer { deps = [ app ]; maxLayers = 2; }`,
			"dockertools.buildLayer: maxLayers is not supported: a buildLayer is one layer"},
		{"runAsRoot", `dt.buildImage { name = "x"; runAsRoot = "useradd app"; }`,
			"dockertools.buildImage: runAsRoot is not supported: it runs in a virtual machine in nixpkgs; use extraCommands"},
		{"layers entry not a layer", `dt.streamLayeredImage { name = "x"; layers = [ app ]; }`,
			"dockertools.streamLayeredImage: layers: the derivation dt-e2e-app is not a layer: give results of dockertools.buildLayer"},
		{"buildLayer deps", `dt.buildLayer { deps = [ "bin/hello" ]; }`,
			`dockertools.buildLayer: deps: entry 1 is the string "bin/hello", not a path or a derivation`},
		{"buildLayer empty", `dt.buildLayer { }`,
			"dockertools.buildLayer: give deps or copyToRoot: the layer would be empty"},
		{"fakeNss lines", `dt.fakeNss.override { extraPasswdLines = "app:x:1000:1000::/:/bin/sh"; }`,
			`dockertools.fakeNss: extraPasswdLines must be a list of strings, not the string "app:x:1000:1000::/:/bin/sh"`},
		{"pullImage without a hash", `dt.pullImage { imageName = "alpine"; imageDigest = "sha256:0"; }`,
			"dockertools.pullImage: give hash (or sha256) of the archive"},
		{"binSh without nixpkgs", `dt.streamLayeredImage { name = "x"; contents = [ dt.binSh ]; }`,
			"dockertools.binSh links to nixpkgs' bash: import nix/ with { pkgs = import <nixpkgs> { }; }"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := e.expr(t, "{ x = "+c.expr+"; }")
			_, stderr, ok := nix(t, "nix-instantiate", append(e.args(), f, "-A", "x")...)
			if ok {
				t.Fatalf("%s evaluated, want an error", c.expr)
			}
			if !strings.Contains(stderr, "error: "+c.want) {
				t.Errorf("%s:\n%s\nwant the error\n%s", c.expr, stderr, c.want)
			}
			for _, s := range internals {
				if strings.Contains(stderr, s) {
					t.Errorf("%s: the error shows %q:\n%s", c.expr, s, stderr)
				}
			}
		})
	}
}

// TestFailingBuilds: a layer that fails names itself and its store paths;
// a fromImage that is no image, and a maxLayers its layers leave nothing
// of, are named as such.
func TestFailingBuilds(t *testing.T) {
	e := setup(t)
	notImage := filepath.Join(e.dir, "not-an-image.tar")
	if err := os.WriteFile(notImage, []byte("plain text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := e.expr(t, `{
  explicit = dt.buildLayer { deps = [ app ]; mtime = "yesterday"; };
  auto = dt.streamLayeredImage { name = "dt-i-nix/fails"; contents = [ app ]; mtime = "yesterday"; };
  notImage = dt.streamLayeredImage { name = "dt-i-nix/fails"; fromImage = `+notImage+`; };
  full = dt.streamLayeredImage {
    name = "dt-i-nix/fails"; contents = [ app ]; maxLayers = 3;
    fromImage = dt.buildLayeredImage { name = "dt-i-nix/two-layers"; contents = [ dt.fakeNss ]; };
  };
  inherit app;
  data = builtins.readFile "${app}/share/data-path";
}`)
	var app, data string
	e.eval(t, f, "app.outPath", &app)
	e.eval(t, f, "data", &data)
	data = strings.TrimSpace(data)
	cases := []struct {
		attr string
		want []string
	}{
		{"explicit", []string{"dockertools: layer layer-dt-e2e-app (store paths: ", app, data, ") failed: "}},
		{"auto", []string{"dockertools: layer 1 of the automatic layers (store paths: " + data + ") failed: ",
			"dockertools: layer 2 of the automatic layers (store paths: " + app + ") failed: "}},
		{"notImage", []string{"dockertools: fromImage /nix/store/", "-not-an-image.tar is not an image: "}},
		{"full", []string{"dockertools: maxLayers = 3 leaves no layer for the store paths (2 taken by fromImage, 0 by layers, 1 by the customisation layer)"}},
	}
	for _, c := range cases {
		stderr := e.buildFails(t, f, c.attr)
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: nix-build's error lacks %q:\n%s", c.attr, w, stderr)
			}
		}
	}
}
