# The toolkit's binaries, built with nixpkgs' buildGoModule: static
# (CGO_ENABLED=0), every command under cmd/. Used by nix/default.nix when
# it is given nixpkgs, by nix/overlay.nix and by flake.nix.
#
# vendorHash is the hash of `go mod vendor` run in `src`; tests/nix
# (TestVendorHash) computes it from this very `src` and fails when it
# differs, so it cannot go stale unnoticed. go.mod asks for a recent Go:
# with a nixpkgs whose default Go is older, give another builder, e.g.
# callPackage ./package.nix { buildGoModule = buildGo126Module; }.
{ lib, buildGoModule }:

let
  version = "0.1.0";
  root = toString ../.;
  # Only what the build reads: a change elsewhere (tests, docs, nix/)
  # leaves the package as it is.
  keep = [ "go.mod" "go.sum" "cmd" "lib" ];
  relative = path: builtins.substring (builtins.stringLength root + 1) (-1) (toString path);
  top = rel: builtins.head (builtins.split "/" rel);
  isTestdata = rel: builtins.match "(.*/)?testdata(/.*)?" rel != null;
  cmdDir = builtins.readDir ../cmd;
in
buildGoModule {
  pname = "dockertools";
  inherit version;
  src = builtins.path {
    name = "dockertools-source";
    path = ../.;
    filter = path: type: let rel = relative path; in builtins.elem (top rel) keep && !isTestdata rel;
  };
  vendorHash = "sha256-flZyRND88t91HhA6aguG697WMHdMTHj+PvptOdNcaSI=";
  subPackages = map (c: "cmd/${c}") (builtins.filter (c: cmdDir.${c} == "directory") (builtins.attrNames cmdDir));
  env.CGO_ENABLED = 0;
  ldflags = [ "-s" "-w" "-X github.com/go-dockertools/dockertools/lib/cmdrun.Version=${version}" ];
  # The test suite needs Docker, Nix and root: `make test` runs it, not the
  # package build.
  doCheck = false;
  meta = {
    description = "nixpkgs' dockerTools as small composable binaries";
    mainProgram = "assemble-image";
    platforms = lib.platforms.linux;
  };
}
