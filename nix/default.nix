# dockertools' Nix functions: nixpkgs' dockerTools API (streamLayeredImage,
# buildLayeredImage, buildImage, buildLayeredImageWithNixDb,
# buildImageWithNixDb, mergeImages, pullImage, exportImage, fakeNss, binSh,
# usrBinEnv, caCertificates) over the toolkit's binaries, plus buildLayer,
# a layer of its own derivation, and perms, as nix2container's.
#
#   import ./nix { pkgs = import <nixpkgs> { }; }
#       builds the toolkit with ./package.nix (buildGoModule) and runs the
#       builders with nixpkgs' runCommand.
#   import ./nix { toolkit = ./path; }
#       needs no nixpkgs: ./path/bin holds the tools (go build with
#       CGO_ENABLED=0), and the builders are builtins.derivation running this
#       machine's bash (hostShell) with its coreutils (hostPath). Images can
#       only hold what the store holds: binSh, usrBinEnv and caCertificates
#       need nixpkgs' packages.
#
# A layer's derivation writes no tar: its output is the layer's descriptor
# (path-to-layer --digest-only: diffID, size, store paths, options), which
# names its store paths and so keeps them alive. A stream (the result of
# streamLayeredImage) writes the layers again from the store, checked
# against the descriptors; buildLayeredImage and buildImage write the
# archive file. README.md ("Nix") documents the functions.
{ pkgs ? null
, toolkit ? null
, system ? null
, hostShell ? "/bin/bash"
, hostPath ? "/usr/bin:/bin"
}:

let
  withPkgs = pkgs != null;

  toolkitPath =
    if toolkit != null then
      (if builtins.isPath toolkit then builtins.path { path = toolkit; name = "dockertools-toolkit"; } else toolkit)
    else if withPkgs then pkgs.callPackage ./package.nix { }
    else throw "dockertools: import nix/ with { pkgs = import <nixpkgs> { }; } or with { toolkit = PATH; } (PATH/bin holding the toolkit's binaries)";

  theSystem =
    if system != null then system
    else if withPkgs then (pkgs.stdenv.hostPlatform.system or pkgs.system)
    else builtins.currentSystem;

  # The shell of the scripts users run (streams, copy helpers).
  shell = if withPkgs then pkgs.runtimeShell else hostShell;

  # A derivation running a bash script, nixpkgs' runCommand's way: $out set,
  # errexit, nounset and pipefail on, the toolkit on PATH; structured attrs
  # (bash variables) when env asks for them; passthru and meta become
  # attributes of the result.
  run =
    if withPkgs then
      name: env: script: pkgs.runCommand name (env // {
        nativeBuildInputs = [ toolkitPath ] ++ (env.nativeBuildInputs or [ ]);
      }) script
    else hostRun;

  hostRun = name: env: buildCommand:
    let
      structured = env.__structuredAttrs or false;
      passthru = env.passthru or { };
      drv = derivation ((removeAttrs env [ "passthru" "meta" "nativeBuildInputs" ]) // {
        inherit name buildCommand;
        system = theSystem;
        builder = hostShell;
        args = [ "-c" ''
          set -euo pipefail
          if [ -n "''${NIX_ATTRS_SH_FILE-}" ]; then
            . "$NIX_ATTRS_SH_FILE"
            export out="''${outputs[out]}"
          fi
          export PATH='${toolkitPath}/bin:${hostPath}' SOURCE_DATE_EPOCH=315532800
          umask 022
          cd "$NIX_BUILD_TOP"
          if [ -n "''${buildCommandPath-}" ]; then . "$buildCommandPath"; else eval "$buildCommand"; fi
        '' ];
      } // (if structured then { } else { passAsFile = [ "buildCommand" ] ++ (env.passAsFile or [ ]); }));
    in
    drv // passthru // { inherit passthru; meta = env.meta or { }; };

  images = import ./images.nix {
    inherit run shell pkgs withPkgs;
    toolkit = toolkitPath;
    system = theSystem;
  };
in
images
