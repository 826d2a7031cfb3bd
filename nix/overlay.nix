# An overlay that keeps nixpkgs' own dockerTools.streamLayeredImage (its
# arguments, its layering, the conf.json it computes, its tag) and streams
# the image with `assemble-image --nixpkgs-conf` instead of
# stream_layered_image.py: the same bytes, written faster. buildLayeredImage
# is redefined as nixpkgs defines it, over the new stream (and compressed
# with the same commands, for the same bytes).
#
#   import <nixpkgs> { overlays = [ (import ./nix/overlay.nix) ]; }
#
# It also adds pkgs.dockertools (the toolkit, ./package.nix) and
# pkgs.dockertoolsLib (nix/default.nix over these pkgs).
#
# It needs a nixpkgs whose streamLayeredImage has passthru.conf. nixpkgs
# functions that call streamLayeredImage from inside dockerTools
# (streamNixShellImage, buildLayeredImageWithNixDb) keep the Python
# streamer: an overlay cannot reach into that scope.
final: prev:

let
  toolkit = final.dockertools;
  nixpkgs = prev.dockerTools;
  makeOverridable = final.lib.makeOverridable or (f: f);

  # nixpkgs' compressors of buildLayeredImage.
  compressors = {
    none = { ext = ""; inputs = [ ]; command = "cat"; };
    gz = { ext = ".gz"; inputs = [ final.pigz ]; command = "pigz -p$NIX_BUILD_CORES -nTR"; };
    zstd = { ext = ".zst"; inputs = [ final.zstd ]; command = "zstd -T$NIX_BUILD_CORES"; };
  };

  streamLayeredImage = makeOverridable (args:
    let
      original = nixpkgs.streamLayeredImage args;
      conf = original.conf or (throw "dockertools overlay: this nixpkgs' dockerTools.streamLayeredImage has no passthru.conf, which the overlay streams from; use a newer nixpkgs, or dockertools' own functions (nix/default.nix)");
    in
    final.runCommand original.name {
      inherit (original) imageName;
      text = ''
        #!${final.runtimeShell}
        # nixpkgs' streamLayeredImage of ${original.imageName}:${original.imageTag},
        # streamed by dockertools' assemble-image --nixpkgs-conf (the bytes of
        # stream_layered_image.py). Options: -t NAME:TAG (or --repo_tag).
        set -euo pipefail
        args=()
        while [ $# -gt 0 ]; do
          case $1 in
          --repo_tag) args+=(--repo-tag "''${2-}"); shift; [ $# -eq 0 ] || shift ;;
          --repo_tag=*) args+=("--repo-tag=''${1#*=}"); shift ;;
          *) args+=("$1"); shift ;;
          esac
        done
        exec ${toolkit}/bin/assemble-image --nixpkgs-conf ${conf} "''${args[@]}"
      '';
      passAsFile = [ "text" ];
      passthru = (original.passthru or { }) // {
        inherit conf;
        inherit (original) imageTag;
        isExe = true;
        nixpkgsStream = original;
      };
      meta = original.meta or { };
    } ''
      cp "$textPath" "$out"
      chmod +x "$out"
    '');

  buildLayeredImage = makeOverridable ({ name, compressor ? "gz", ... }@args:
    let
      stream = streamLayeredImage (removeAttrs args [ "compressor" ]);
      c = compressors.${compressor}
        or (throw "in docker image ${name}: compressor must be one of: [${toString (builtins.attrNames compressors)}]");
    in
    final.runCommand "${baseNameOf name}.tar${c.ext}" {
      inherit (stream) imageName;
      passthru = { inherit (stream) imageTag; inherit stream; };
      nativeBuildInputs = c.inputs;
    } "${stream} | ${c.command} > $out");
in
{
  dockertools = prev.dockertools or (final.callPackage ./package.nix { });
  dockertoolsLib = import ./default.nix { pkgs = final; toolkit = final.dockertools; };
  dockerTools = nixpkgs // { inherit streamLayeredImage buildLayeredImage; };
}
