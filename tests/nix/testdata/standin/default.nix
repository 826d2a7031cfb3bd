# A stand-in for nixpkgs, for the tests of nix/ on a machine without
# nixpkgs: the attributes dockertools' Nix functions, its overlay and its
# flake use, with nixpkgs' shapes, and nothing more. It is NOT nixpkgs:
#
# - runCommand runs bash from this machine the way stdenv runs a
#   buildCommand ($out set, errexit, nounset, pipefail, structured
#   attributes sourced, PATH from nativeBuildInputs' bin/ then this
#   machine's);
# - buildGoModule copies the toolkit the tests built (toolkit) instead of
#   building it;
# - bashInteractive, coreutils and hello are a static test program
#   (program) under nixpkgs' file names; cacert holds a file of fixed text;
#   pigz, zstd, jq, skopeo, fakeroot, proot, nix (nix-store), sqlite
#   (sqlite3) and glibc (ldd) are links to this machine's programs;
# - dockerTools.streamLayeredImage computes its conf.json the way nixpkgs
#   does (baseJson, a customisation layer tar with its checksum, store
#   layers by popularity from the closure of both, the tag from the conf's
#   own hash, jq to put it together), with closure-popularity standing in
#   for flattenReferencesGraph; its stream script only says that it is a
#   stand-in (stream_layered_image.py is not here).
#
# Used as <nixpkgs> (import it with { }), or with arguments.
{ toolkit ? null, program ? null, system ? builtins.currentSystem, overlays ? [ ], config ? { } }:

let
  inherit (builtins) concatStringsSep isList toJSON;
  hostPath = "/usr/bin:/bin";

  base = self: {
    inherit system;
    stdenv.hostPlatform.system = system;
    runtimeShell = "/bin/bash";
    lib = {
      makeOverridable = f: f;
      platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
    };

    runCommand = name: env: buildCommand:
      let
        structured = env.__structuredAttrs or false;
        passthru = env.passthru or { };
        inputs = env.nativeBuildInputs or [ ];
        drv = derivation ((removeAttrs env [ "passthru" "meta" "nativeBuildInputs" ]) // {
          inherit name system buildCommand;
          builder = "/bin/bash";
          args = [ "-c" ''
            set -eu -o pipefail
            if [ -n "''${NIX_ATTRS_SH_FILE-}" ]; then
              . "$NIX_ATTRS_SH_FILE"
              for o in "''${!outputs[@]}"; do export "$o=''${outputs[$o]}"; done
            fi
            export PATH='${concatStringsSep ":" (map (i: "${i}/bin") inputs ++ [ hostPath ])}'
            export SOURCE_DATE_EPOCH=315532800 NIX_BUILD_CORES=''${NIX_BUILD_CORES:-1}
            cd "$NIX_BUILD_TOP"
            if [ -n "''${buildCommandPath-}" ]; then . "$buildCommandPath"; else eval "$buildCommand"; fi
          '' ];
        } // (if structured then { } else { passAsFile = [ "buildCommand" ] ++ (env.passAsFile or [ ]); }));
      in
      drv // passthru // { inherit passthru; meta = env.meta or { }; };

    callPackage = fn: args:
      let f = if builtins.isFunction fn then fn else import fn; in
      f (builtins.intersectAttrs (builtins.functionArgs f) self // args);

    buildGoModule = args: self.runCommand "${args.pname}-${args.version}" {
      passthru = { inherit (args) vendorHash src subPackages; };
    } ''cp -r ${toolkit} "$out"'';

    pigz = host self "pigz";
    zstd = host self "zstd";
    jq = host self "jq";
    skopeo = host self "skopeo";
    fakeroot = host self "fakeroot";
    proot = host self "proot";
    nix = host self "nix-store";
    sqlite = host self "sqlite3";
    glibc = host self "ldd";
    bashInteractive = programAs self "bash" "bash";
    coreutils = programAs self "coreutils" "env";
    hello = programAs self "hello" "hello";
    cacert = self.runCommand "standin-cacert" { } ''
      mkdir -p "$out/etc/ssl/certs"
      echo "stand-in CA bundle" >"$out/etc/ssl/certs/ca-bundle.crt"
    '';

    dockerTools = rec {
      streamLayeredImage = { name, tag ? null, fromImage ? null, contents ? [ ], config ? { }
        , architecture ? "amd64", created ? "1970-01-01T00:00:01Z", mtime ? "1970-01-01T00:00:01Z"
        , uid ? 0, gid ? 0, uname ? "root", gname ? "root", maxLayers ? 100, extraCommands ? ""
        , includeStorePaths ? true, passthru ? { }, meta ? { } }:
        let
          baseName = baseNameOf name;
          baseJson = self.runCommand "${baseName}-base.json" {
            json = toJSON { inherit config architecture; os = "linux"; };
            passAsFile = [ "json" ];
          } ''cp "$jsonPath" "$out"'';
          customisationLayer = self.runCommand "${baseName}-customisation-layer" {
            paths = if isList contents then contents else [ contents ];
            inherit extraCommands;
          } ''
            mkdir old_out
            for p in $paths; do cp -rs "$p"/. old_out/; chmod -R u+w old_out; done
            (cd old_out; eval "$extraCommands")
            mkdir "$out"
            tar -C old_out --sort name --numeric-owner --owner=0 --group=0 --mtime "@$SOURCE_DATE_EPOCH" \
              --hard-dereference -cf "$out/layer.tar" .
            sha256sum "$out/layer.tar" | cut -f 1 -d ' ' >"$out/checksum"
          '';
          layers = self.runCommand "${baseName}-store-layers.json" {
            __structuredAttrs = true;
            exportReferencesGraph.graph = if includeStorePaths then [ baseJson customisationLayer ] else [ ];
            excludePaths = [ "${baseJson}" "${customisationLayer}" ];
            pipeline = toJSON [ [ "popularity_contest" ] [ "limit_layers" (maxLayers - 1) ] ];
            nativeBuildInputs = [ toolkit ];
          } ''
            printf '%s' "$pipeline" >pipeline.json
            printf '%s\n' "''${excludePaths[@]}" >exclude
            closure-popularity --quiet --json --key graph --pipeline pipeline.json --exclude-from exclude \
              "$NIX_ATTRS_JSON_FILE" >"$out"
          '';
          conf = self.runCommand "${baseName}-conf.json" {
            inherit created mtime uid gid uname gname;
            imageName = name; # nixpkgs lowercases it; the tests give lowercase names
            nativeBuildInputs = [ self.jq ];
            passthru.imageTag = if tag != null then tag
              else builtins.substring 0 32 (baseNameOf (builtins.unsafeDiscardStringContext conf.outPath));
          } ''
            ${if tag == null then ''
              imageTag=$(basename "$out" | cut -d - -f 1)
            '' else ''
              imageTag=${tag}
            ''}
            if [ "$created" != now ]; then created=$(date -Iseconds -d "$created"); fi
            if [ "$mtime" != now ]; then mtime=$(date -Iseconds -d "$mtime"); fi
            jq '. + {
                "store_dir": $store_dir, "from_image": $from_image, "store_layers": $store_layers[0],
                "customisation_layer": $customisation_layer, "repo_tag": $repo_tag, "created": $created,
                "mtime": $mtime, "uid": $uid, "gid": $gid, "uname": $uname, "gname": $gname }' \
              --arg store_dir "${builtins.storeDir}" \
              --argjson from_image ${if fromImage == null then "null" else "'\"${fromImage}\"'"} \
              --slurpfile store_layers ${layers} \
              --arg customisation_layer ${customisationLayer} \
              --arg repo_tag "$imageName:$imageTag" \
              --arg created "$created" --arg mtime "$mtime" \
              --arg uid "$uid" --arg gid "$gid" --arg uname "$uname" --arg gname "$gname" \
              <${baseJson} >"$out"
          '';
        in
        self.runCommand "stream-${baseName}" {
          inherit (conf) imageName;
          passthru = passthru // { inherit (conf) imageTag; inherit conf; isExe = true; };
          inherit meta;
        } ''
          printf '#!/bin/bash\necho "stand-in nixpkgs: stream_layered_image.py is not part of the stand-in" >&2\nexit 1\n' >"$out"
          chmod +x "$out"
        '';

      buildLayeredImage = { name, compressor ? "gz", ... }@args:
        let stream = streamLayeredImage (removeAttrs args [ "compressor" ]); in
        self.runCommand "${baseNameOf name}.tar.gz" {
          inherit (stream) imageName;
          passthru = { inherit (stream) imageTag; inherit stream; };
        } "${stream} | gzip -n > $out";
    };
  };

  host = self: name: self.runCommand "standin-${name}" { } ''
    mkdir -p "$out/bin"
    ln -s "$(PATH=${hostPath} command -v ${name})" "$out/bin/${name}"
  '';

  programAs = self: pname: file: self.runCommand "standin-${pname}" { } ''
    mkdir -p "$out/bin"
    cp ${program} "$out/bin/${file}"
    chmod 555 "$out/bin/${file}"
  '';

  composed = builtins.foldl' (f: overlay: self: let super = f self; in super // overlay self super) base overlays;
  fix = f: let x = f x; in x;
in
fix composed

