# The functions of nix/default.nix. `run` makes a derivation running a bash
# script (nixpkgs' runCommand, or builtins.derivation on this machine's
# shell); `shell` is the shell of the scripts users run; `toolkit` holds the
# binaries in bin/.
{ run, shell, pkgs, withPkgs, toolkit, system }:

let
  A = import ./args.nix;
  inherit (builtins) attrNames concatMap concatStringsSep elem filter foldl' genList head isAttrs
    isList isPath isString length map replaceStrings split stringLength substring toJSON
    unsafeDiscardStringContext;

  common = ./builders/common.sh;
  builder = name: builtins.readFile (./builders + "/${name}.sh");
  libsh = ../scripts/lib.sh;
  # The skopeo scripts, for pull and push until the toolkit has its own
  # pull-image and push-image commands (which keep the scripts' options).
  scripts = builtins.path { path = ../scripts; name = "dockertools-scripts"; };
  bin = "${toolkit}/bin";

  storeDir = builtins.storeDir;
  baseOf = p: unsafeDiscardStringContext (baseNameOf (toString p));
  hashOf = p: substring 0 32 (baseOf p);
  # A store path's name without its hash, cut short to fit a derivation's.
  nameOf = p: substring 0 120 (substring 33 (-1) (baseOf p));
  quote = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  strings = s: filter isString (split "\n" s);
  nonEmpty = filter (s: s != "");
  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  optionalAttrs = c: a: if c then a else { };

  # The architecture of images built here, as nixpkgs names it (Go's
  # GOARCH).
  defaultArchitecture =
    let cpu = head (split "-" system); in
    {
      x86_64 = "amd64"; aarch64 = "arm64"; i686 = "386"; armv7l = "arm"; armv6l = "arm";
      riscv64 = "riscv64"; powerpc64le = "ppc64le"; s390x = "s390x"; mips64el = "mips64le";
    }.${cpu} or cpu;

  proxyVars = [ "http_proxy" "https_proxy" "ftp_proxy" "all_proxy" "no_proxy"
    "HTTP_PROXY" "HTTPS_PROXY" "FTP_PROXY" "ALL_PROXY" "NO_PROXY" ];

  # An image given as fromImage or to mergeImages: { path; stream; }. A
  # derivation must be an image (it has imageName, as every image function's
  # result and nixpkgs' have); a path or a store path string is taken to be
  # an archive (or OCI layout), which the build then reads.
  imageOf = fn: arg: v:
    let
      notImage = "dockertools.${fn}: ${arg} is ${A.describe v}, which is not an image: give the result of buildImage, buildLayeredImage, streamLayeredImage or pullImage, or a docker-archive file";
    in
    if isAttrs v && (v.type or null) == "derivation" then
      (if v ? imageName || (v.isExe or false) then { path = v; stream = v.isExe or false; } else throw notImage)
    else if isPath v then
      (if builtins.pathExists v then { path = v; stream = false; }
       else throw "dockertools.${fn}: ${arg} ${toString v} does not exist")
    else if isString v && substring 0 (stringLength storeDir + 1) v == storeDir + "/" then { path = v; stream = false; }
    else throw notImage;

  # The explicit layers (buildLayer results) and the layers below them,
  # bottom first, each once.
  explicitLayers = fn: arg: v:
    let
      list = if isList v then v else [ v ];
      check = l: if isAttrs l && (l.dockertoolsLayer or false) then l
        else throw "dockertools.${fn}: ${arg}: ${A.describe l} is not a layer: give results of dockertools.buildLayer";
      all = l: concatMap all (check l).layers ++ [ l ];
    in
    unique (concatMap all list);

  # The layering pipeline: null, a list (nixpkgs' layeringPipeline), or a
  # path or derivation of a JSON file holding one.
  pipelineOf = fn: v:
    if v == null then ""
    else if isList v then
      run "layering-pipeline.json" { pipeline = toJSON v; passAsFile = [ "pipeline" ]; } ''cp "$pipelinePath" "$out"''
    else if A.isPathLike v then "${v}"
    else throw "dockertools.${fn}: layeringPipeline must be a list of steps (or a JSON file of one), not ${A.describe v}";

  # nix2container's perms as the file path-to-layer --perms reads: "" for
  # none, else a derivation writing the rules, which path-to-layer checks
  # first (a bad regex or mode fails that build, in the rules' terms).
  # Layers record the rules in their descriptors, so the stream writes them
  # again with the same modes and owners.
  permsFileOf = fn: v:
    let rules = A.perms fn v; in
    if rules == [ ] then ""
    else "${run "perms.json" { rules = toJSON rules; passAsFile = [ "rules" ]; } ''
      mkdir empty
      if ! msg=$(path-to-layer --quiet --perms "$rulesPath" --root empty --digest-only --descriptor /dev/null 2>&1); then
        printf 'dockertools: perms: %s\n' "''${msg#"path-to-layer: --perms $rulesPath: "}" >&2
        exit 1
      fi
      cp "$rulesPath" "$out"
    ''}";

  # The programs the options of the customisation layer run, from nixpkgs
  # (with pkgs; otherwise the host's, on hostPath): fakeroot for
  # fakeRootCommands, proot and ldd for enableFakechroot, nix-store and
  # sqlite3 for includeNixDB (as nixpkgs' mkDbExtraCommand).
  optionTools = { fakeroot ? false, fakechroot ? false, nixDb ? false }:
    let
      bp = pkgs.buildPackages or pkgs;
      getBin = p: p.bin or p;
    in
    optionalAttrs withPkgs {
      nativeBuildInputs =
        (if fakeroot || fakechroot then [ bp.fakeroot ] else [ ])
        ++ (if fakechroot then [ bp.proot (getBin bp.glibc) ] else [ ])
        ++ (if nixDb then [ bp.nix (getBin bp.sqlite) ] else [ ]);
    };

  maxLayersOf = fn: v:
    if builtins.isInt v && v > 1 then v
    else throw "dockertools.${fn}: maxLayers must be a number greater than 1 (one layer for the store paths and one for the customisation layer), not ${A.describe v}";

  # Helpers that take an image elsewhere: scripts in bin/, for `nix run`.
  helper = name: text: run name {
    inherit text;
    passAsFile = [ "text" ];
    meta.mainProgram = name;
  } ''
    mkdir -p "$out/bin"
    cp "$textPath" "$out/bin/${name}"
    chmod +x "$out/bin/${name}"
  '';

  helperHeader = lines: "#!${shell}\n" + concatStringsSep "" (map (l: "# ${l}\n") lines) + "set -euo pipefail\n";

  # The helpers of an image: copyToDockerDaemon, copyToRegistry, copyToOCI.
  # image: { path; stream; name; tag; }.
  copyHelpers = image:
    let
      p = quote "${image.path}";
      ref = "${image.name}:${image.tag}";
    in
    {
      copyToDockerDaemon = helper "copy-to-docker-daemon" (helperHeader [
        "copy-to-docker-daemon: loads ${ref} into Docker (docker load)."
      ] + (if image.stream then ''
        ${p} "$@" | docker load
      '' else ''
        docker load -i ${p}
      ''));
      copyToRegistry = helper "copy-to-registry" (helperHeader [
        "copy-to-registry [push-image options] [REF]: pushes ${ref} to the registry"
        "reference REF (default ${ref}) with push-image, and prints the manifest digest."
      ] + ''
        push=${quote "${bin}/push-image"}
        [ -x "$push" ] || push=${quote "${scripts}/push-image"}
        export DOCKERTOOLS_BIN=${quote bin}
        [ $# -gt 0 ] || set -- ${quote ref}
      '' + (if image.stream then ''
        tmp=$(mktemp -d "''${TMPDIR:-/tmp}/copy-to-registry.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        ${p} -o "$tmp/image.tar" >/dev/null
        "$push" "$tmp/image.tar" "$@"
      '' else ''
        "$push" ${p} "$@"
      ''));
      copyToOCI = helper "copy-to-oci" (helperHeader [
        "copy-to-oci DIR [options]: writes ${ref} into the OCI layout DIR"
        "(a new one, or one to add the image to)."
      ] + ''
        [ $# -ge 1 ] || { echo "usage: copy-to-oci DIR [options]" >&2; exit 2; }
        dir=$1
        shift
      '' + (if image.stream then ''
        ${p} --format oci -o "$dir" "$@" >/dev/null
      '' else ''
        ${quote "${bin}/merge-images"} --format oci -o "$dir" "$@" ${p} >/dev/null
      ''));
    };

  # What the image functions share with nixpkgs' streamLayeredImage.
  streamArgs = {
    known = [ "name" "tag" "fromImage" "contents" "config" "architecture" "created" "mtime"
      "uid" "gid" "uname" "gname" "maxLayers" "extraCommands" "includeStorePaths"
      "layeringPipeline" "passthru" "meta" "debug" "fakeRootCommands" "enableFakechroot" "includeNixDB"
      # nix2container's
      "perms"
      # dockertools' own
      "layers" "layerDerivations" ];
  };

  # The parts of a layered image, checked; fn names the function in
  # messages.
  layered = fn: args:
    let
      name = A.string fn "name" (args.name or (throw "dockertools.${fn}: name is required"));
      baseName = baseNameOf name;
      imageName = A.lower name;
      tag = A.stringOrNull fn "tag" (args.tag or null);
      contents = map (c: "${c}") (A.paths fn "contents" (args.contents or [ ]));
      config = A.attrs fn "config" (args.config or { });
      architecture = A.string fn "architecture" (args.architecture or defaultArchitecture);
      created = A.time fn "created" (args.created or "1970-01-01T00:00:01Z");
      mtime = A.time fn "mtime" (args.mtime or "1970-01-01T00:00:01Z");
      uid = A.natural fn "uid" (args.uid or 0);
      gid = A.natural fn "gid" (args.gid or 0);
      uname = A.string fn "uname" (args.uname or "root");
      gname = A.string fn "gname" (args.gname or "root");
      maxLayers = maxLayersOf fn (args.maxLayers or 100);
      extraCommands = A.string fn "extraCommands" (args.extraCommands or "");
      includeStorePaths = A.bool fn "includeStorePaths" (args.includeStorePaths or true);
      fromImage = if (args.fromImage or null) == null then null else imageOf fn "fromImage" args.fromImage;
      explicit = explicitLayers fn "layers" (args.layers or [ ]);
      pipeline = pipelineOf fn (args.layeringPipeline or null);
      layerDerivations = A.bool fn "layerDerivations" (args.layerDerivations or false);
      passthru = A.attrs fn "passthru" (args.passthru or { });
      meta = A.attrs fn "meta" (args.meta or { });
      fakeRootCommands = A.string fn "fakeRootCommands" (args.fakeRootCommands or "");
      enableFakechroot = A.bool fn "enableFakechroot" (args.enableFakechroot or false);
      includeNixDB = A.bool fn "includeNixDB" (args.includeNixDB or false);
      perms = permsFileOf fn (args.perms or [ ]);
      fakeRoot = fakeRootCommands != "" || enableFakechroot;
      exclusive =
        if perms != "" && fakeRoot then
          throw "dockertools.${fn}: perms and ${if fakeRootCommands != "" then "fakeRootCommands" else "enableFakechroot"} both set the owners of the customisation layer: give one (fakeRootCommands can chown and chmod what perms would)"
        else true;
      checked = [ name tag contents config architecture created mtime uid gid uname gname maxLayers
        extraCommands includeStorePaths fromImage explicit pipeline layerDerivations passthru meta
        fakeRootCommands enableFakechroot includeNixDB perms exclusive ];

      configFile = run "${baseName}-config.json" {
        config = toJSON config;
        passAsFile = [ "config" ];
      } ''cp "$configPath" "$out"'';

      custom = run "${baseName}-customisation-layer" ({
        __structuredAttrs = true;
        inherit common libsh contents extraCommands fakeRootCommands enableFakechroot includeNixDB perms;
        inherit storeDir;
      } // optionalAttrs includeNixDB {
        # nixpkgs' mkDbExtraCommand registers the closure of contents.
        exportReferencesGraph.dbGraph = contents;
      } // optionTools { fakeroot = fakeRootCommands != ""; fakechroot = enableFakechroot; nixDb = includeNixDB; })
        (builder "customisation");

      layersOf = mode: run "${baseName}-layers${if mode == "plan" then "-plan" else ""}" {
        __structuredAttrs = true;
        exportReferencesGraph.graph = contents ++ [ configFile custom ];
        excludePaths = [ "${configFile}" "${custom}" ];
        explicitLayers = map (l: "${l}") explicit;
        fromImage = if fromImage == null then "" else "${fromImage.path}";
        fromImageIsStream = fromImage != null && fromImage.stream;
        inherit common mode maxLayers pipeline includeStorePaths mtime uid gid uname gname;
        # The plan does not depend on the rules.
        perms = if mode == "plan" then "" else perms;
      } (builder "layers");

      # layerDerivations: each automatic layer a derivation of its own, from
      # the plan read at evaluation time (import from derivation).
      planned = map (line: nonEmpty (filter isString (split " " line)))
        (nonEmpty (strings (builtins.readFile (layersOf "plan"))));
      autoLayers = map (storeLayer { inherit mtime uid gid uname gname perms; }) planned;

      auto = if layerDerivations then map (l: "${l}") autoLayers else [ "${layersOf "descriptors"}" ];
      descriptors = map (l: "${l}") explicit ++ auto;

      conf = run "${baseName}-conf.json" {
        conf = toJSON {
          repo_tag = "${imageName}:${if tag == null then "@dockertools-tag@" else tag}";
          inherit created architecture;
          config = "${configFile}";
          from_image = if fromImage == null then null else "${fromImage.path}";
          layers = descriptors;
          customisation_layer = "${custom}/layer.json";
          max_layers = maxLayers;
          store_dir = storeDir;
        };
        passAsFile = [ "conf" ];
      } ''
        tag=''${out##*/}
        sed "s|@dockertools-tag@|''${tag%%-*}|" "$confPath" >"$out"
      '';
      imageTag = if tag != null then tag else hashOf conf.outPath;

      assemble = [ "--config" "${configFile}" "--created" created "--arch" architecture ]
        ++ (if pipeline == "" then [ "--max-layers" (toString maxLayers) ] else [ ]);

      # The stream: assemble-image over the descriptors, at run time.
      script = ''
        #!${shell}
        # ${imageName}:${imageTag}: writes the image (a docker-archive) to stdout, its
        # layers written again from the Nix store and checked against their
        # descriptors. dockertools' streamLayeredImage; the image: ${conf}
        #
        # -t NAME:TAG (--repo-tag, nixpkgs' --repo_tag) names the image otherwise;
        # other options go to assemble-image: -o FILE, --compress zstd,
        # --format oci -o DIR, ...
        set -euo pipefail
        tag=${quote "${imageName}:${imageTag}"}
        while [ $# -gt 0 ]; do
          case $1 in
          -t | --repo-tag | --repo_tag)
            [ $# -ge 2 ] || { echo "''${0##*/}: $1 needs NAME:TAG" >&2; exit 2; }
            tag=$2
            shift 2
            ;;
          --repo-tag=* | --repo_tag=*) tag=''${1#*=}; shift ;;
          *) break ;;
          esac
        done
        layers=()
        for d in ${concatStringsSep " " (map quote descriptors)}; do
          # The automatic layers of an image without store paths: none.
          if [ -s "$d" ]; then layers+=("$d"); fi
        done
        layers+=(${quote "${custom}/layer.json"})
        args=(--tag "$tag" ${concatStringsSep " " (map quote assemble)})
      '' + (if fromImage == null then ''
        exec ${quote "${bin}/assemble-image"} "''${args[@]}" "''${layers[@]}" "$@"
      '' else if fromImage.stream then ''
        tmp=$(mktemp -d "''${TMPDIR:-/tmp}/stream.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        ${quote "${fromImage.path}"} >"$tmp/base.tar"
        ${quote "${bin}/assemble-image"} "''${args[@]}" --from-image "$tmp/base.tar" "''${layers[@]}" "$@"
      '' else ''
        exec ${quote "${bin}/assemble-image"} "''${args[@]}" --from-image ${quote "${fromImage.path}"} "''${layers[@]}" "$@"
      '');
    in
    builtins.seq (builtins.foldl' (ok: v: builtins.seq v ok) true checked) {
      inherit name baseName imageName imageTag passthru meta conf script custom;
      layers = explicit ++ (if layerDerivations then autoLayers else [ ]);
    };

  # A layer of store paths, a derivation of its own (layerDerivations): the
  # same paths with the same options give the same derivation, whichever
  # image asks for it. The paths come from a file read at evaluation time:
  # each layer depends on its own paths only.
  storeLayer = opts: paths:
    let
      own = map (p: let s = unsafeDiscardStringContext p; in builtins.appendContext s { ${s} = { path = true; }; }) paths;
      extra = length paths - 1;
      layerName = "layer-${nameOf (head paths)}${if extra > 0 then "-and-${toString extra}-more" else ""}";
    in
    run layerName ({
      inherit common layerName;
      closure = "";
      paths = concatStringsSep "\n" own;
      root = "";
      passthru = { dockertoolsLayer = true; layers = [ ]; };
    } // opts) (builder "layer");

  streamWith = fn: args:
    let
      i = layered fn args;
      self = run "stream-${i.baseName}" {
        text = i.script;
        passAsFile = [ "text" ];
        inherit (i) meta;
        passthru = i.passthru // {
          inherit (i) imageTag imageName conf layers;
          customisationLayer = i.custom;
          isExe = true;
        } // copyHelpers { path = self; stream = true; name = i.imageName; tag = i.imageTag; };
      } ''
        cp "$textPath" "$out"
        chmod +x "$out"
      '';
    in
    self;

  needPkgs = what: pkg: drv:
    if withPkgs then drv
    else throw "dockertools.${what} links to nixpkgs' ${pkg}: import nix/ with { pkgs = import <nixpkgs> { }; }";

  compressors = {
    none = { ext = ""; flag = "none"; };
    gz = { ext = ".gz"; flag = "gzip"; };
    zstd = { ext = ".zst"; flag = "zstd"; };
  };

in
# The functions (those ending in As and withNixDb are the shared bodies,
# left out).
removeAttrs (rec {
  inherit defaultArchitecture;

  # nixpkgs' streamLayeredImage: a script writing the image to stdout. Its
  # layers are derivations whose outputs are descriptors (by default one
  # derivation for all automatic layers; layerDerivations = true: one each,
  # by import from derivation), layers = [ (buildLayer { ... }) ] adds
  # explicit ones below them.
  streamLayeredImage = args: streamWith "streamLayeredImage" (A.check "streamLayeredImage" streamArgs args);

  # nixpkgs' buildLayeredImage: the stream written into the store as an
  # archive, compressed as compressor says ("gz" by default, "zstd",
  # "none").
  buildLayeredImage = buildLayeredImageAs "buildLayeredImage";
  buildLayeredImageAs = fn: args0:
    let
      args = A.check fn (streamArgs // { known = streamArgs.known ++ [ "compressor" ]; }) args0;
      compressor = A.oneOf fn "compressor" (attrNames compressors) (args.compressor or "gz");
      stream = streamWith fn (removeAttrs args [ "compressor" ]);
      c = compressors.${compressor};
      name = A.string fn "name" (args.name or (throw "dockertools.${fn}: name is required"));
      self = run "${baseNameOf name}.tar${c.ext}" {
        inherit (stream) meta;
        passthru = (args.passthru or { }) // {
          inherit (stream) imageTag imageName layers conf;
          inherit stream;
        } // copyHelpers { path = self; stream = false; name = stream.imageName; tag = stream.imageTag; };
      } ''
        ${quote stream} --compress ${c.flag} >"$out"
      '';
    in
    builtins.seq compressor self;

  # nixpkgs' buildImage: one layer (copyToRoot copied into the image root,
  # extraCommands, and the closure less what the base image holds) on an
  # optional base image.
  buildImage = buildImageAs "buildImage";
  buildImageAs = fn: args0:
    let
      args = A.check fn {
        known = [ "name" "tag" "fromImage" "fromImageName" "fromImageTag" "copyToRoot" "contents"
          "config" "architecture" "created" "mtime" "uid" "gid" "uname" "gname" "extraCommands"
          "compressor" "includeStorePaths" "passthru" "meta" "diskSize" "buildVMMemorySize" "includeNixDB"
          "perms" "layers" ];
        unsupported = {
          runAsRoot = { default = null; why = "it runs in a virtual machine in nixpkgs; use extraCommands, which runs as the build user in the image root (and perms for owners and modes)"; };
          keepContentsDirlinks = { default = false; why = "copyToRoot is copied with cp -a, which keeps symlinks as they are"; };
        };
      } args0;
      name = A.string fn "name" (args.name or (throw "dockertools.${fn}: name is required"));
      imageName = A.lower name;
      tag = A.stringOrNull fn "tag" (args.tag or null);
      copyToRoot = map (c: "${c}") (A.paths fn "copyToRoot" (
        if (args.copyToRoot or null) != null then args.copyToRoot else if (args.contents or null) != null then args.contents else [ ]));
      config = A.attrs fn "config" (args.config or { });
      compressor = A.oneOf fn "compressor" (attrNames compressors) (args.compressor or "gz");
      fromImage = if (args.fromImage or null) == null then null else imageOf fn "fromImage" args.fromImage;
      explicit = explicitLayers fn "layers" (args.layers or [ ]);
      passthru = A.attrs fn "passthru" (args.passthru or { });
      includeNixDB = A.bool fn "includeNixDB" (args.includeNixDB or false);
      attrs = {
        __structuredAttrs = true;
        # dbGraph: nixpkgs' mkDbExtraCommand registers the closure of
        # copyToRoot.
        exportReferencesGraph = { graph = copyToRoot ++ [ configFile ]; }
          // optionalAttrs includeNixDB { dbGraph = copyToRoot; };
        inherit includeNixDB libsh;
        perms = permsFileOf fn (args.perms or [ ]);
        excludePaths = [ "${configFile}" ];
        explicitLayers = map (l: "${l}") explicit;
        fromImage = if fromImage == null then "" else "${fromImage.path}";
        fromImageIsStream = fromImage != null && fromImage.stream;
        fromImageName = A.string fn "fromImageName" (if (args.fromImageName or null) == null then "" else args.fromImageName);
        fromImageTag = A.string fn "fromImageTag" (if (args.fromImageTag or null) == null then "" else args.fromImageTag);
        tag = if tag == null then "" else tag;
        config = "${configFile}";
        compress = compressors.${compressor}.flag;
        created = A.time fn "created" (args.created or "1970-01-01T00:00:01Z");
        # nixpkgs packs buildImage's layer with the times of SOURCE_DATE_EPOCH.
        mtime = A.time fn "mtime" (args.mtime or "1980-01-01T00:00:00Z");
        architecture = A.string fn "architecture" (args.architecture or defaultArchitecture);
        uid = A.natural fn "uid" (args.uid or 0);
        gid = A.natural fn "gid" (args.gid or 0);
        uname = A.string fn "uname" (args.uname or "root");
        gname = A.string fn "gname" (args.gname or "root");
        extraCommands = A.string fn "extraCommands" (args.extraCommands or "");
        includeStorePaths = A.bool fn "includeStorePaths" (args.includeStorePaths or true);
        inherit common copyToRoot imageName;
      };
      configFile = run "${baseNameOf name}-config.json" {
        config = toJSON config;
        passAsFile = [ "config" ];
      } ''cp "$configPath" "$out"'';
      imageTag = if tag != null then tag else hashOf self.outPath;
      self = run "${baseNameOf name}.tar${compressors.${compressor}.ext}" (attrs // optionTools { nixDb = includeNixDB; } // {
        meta = A.attrs fn "meta" (args.meta or { });
        passthru = passthru // {
          inherit imageTag imageName;
          layers = explicit;
        } // copyHelpers { path = self; stream = false; name = imageName; tag = imageTag; };
      }) (builder "image");
    in
    builtins.seq (builtins.foldl' (ok: v: builtins.seq v ok) true (builtins.attrValues attrs)) self;

  # nixpkgs' buildLayeredImageWithNixDb and buildImageWithNixDb: the same
  # with includeNixDB = true, whatever the arguments say.
  buildLayeredImageWithNixDb = withNixDb "buildLayeredImageWithNixDb" buildLayeredImageAs;
  buildImageWithNixDb = withNixDb "buildImageWithNixDb" buildImageAs;
  withNixDb = fn: build: args:
    if isAttrs args then build fn (args // { includeNixDB = true; })
    else throw "dockertools.${fn}: takes an attribute set of arguments, not ${A.describe args}";

  # nixpkgs' mergeImages: one archive holding every image of the list
  # (archives, or streams, which are run).
  mergeImages = images:
    let
      fn = "mergeImages";
      list = if isList images then images
        else throw "dockertools.${fn}: takes a list of images, not ${A.describe images}";
      each = genList (n: imageOf fn "entry ${toString (n + 1)} of the list" (builtins.elemAt list n)) (length list);
      self = run "merge-docker-images" {
        images = concatStringsSep "\n" (map (i: (if i.stream then "stream " else "archive ") + "${i.path}") each);
        passthru = {
          inherit (copyHelpers { path = self; stream = false; name = "merged"; tag = "images"; })
            copyToDockerDaemon copyToOCI;
        };
      } ''
        files=()
        n=0
        while read -r kind image; do
          [ -n "$image" ] || continue
          if [ "$kind" = stream ]; then
            n=$((n + 1))
            "$image" >"$n.tar" || { echo "dockertools: mergeImages: the stream $image failed" >&2; exit 1; }
            image=$PWD/$n.tar
          fi
          files+=("$image")
        done <<<"$images"
        merge-images --quiet "''${files[@]}" >"$out"
      '';
    in
    if list == [ ] then throw "dockertools.${fn}: the list of images is empty"
    else builtins.seq (builtins.foldl' (ok: v: builtins.seq v ok) true each) self;

  # nixpkgs' pullImage: a fixed-output derivation (the digest pins the
  # image, the hash the archive) made by pull-image.
  pullImage = args0:
    let
      fn = "pullImage";
      args = A.check fn {
        known = [ "imageName" "imageDigest" "sha256" "hash" "os" "arch" "finalImageName"
          "finalImageTag" "tlsVerify" "name" ];
      } args0;
      imageName = A.string fn "imageName" (args.imageName or (throw "dockertools.${fn}: imageName is required"));
      imageDigest = A.string fn "imageDigest" (args.imageDigest or (throw "dockertools.${fn}: imageDigest is required"));
      finalImageName = A.string fn "finalImageName" (args.finalImageName or imageName);
      finalImageTag = A.string fn "finalImageTag" (args.finalImageTag or "latest");
      hash = let h = args.hash or ""; s = args.sha256 or ""; in
        if h != "" then h else if s != "" then s
        else throw "dockertools.${fn}: give hash (or sha256) of the archive: build once with hash = \"\" replaced by any sha256 and copy the one Nix reports";
      fixName = replaceStrings [ "/" ":" ] [ "-" "-" ];
      self = run (args.name or (fixName "docker-image-${finalImageName}-${finalImageTag}.tar")) ({
        inherit imageName imageDigest finalImageName finalImageTag;
        os = A.string fn "os" (args.os or "linux");
        arch = A.string fn "arch" (args.arch or defaultArchitecture);
        tlsVerify = if A.bool fn "tlsVerify" (args.tlsVerify or true) then "true" else "false";
        pullImage = "${bin}/pull-image";
        pullScript = "${scripts}/pull-image";
        outputHashMode = "flat";
        outputHashAlgo = "sha256";
        outputHash = hash;
        impureEnvVars = proxyVars;
        passthru = {
          imageName = finalImageName;
          imageTag = finalImageTag;
        } // copyHelpers { path = self; stream = false; name = finalImageName; tag = finalImageTag; };
      } // optionalAttrs withPkgs {
        nativeBuildInputs = [ pkgs.skopeo ];
        SSL_CERT_FILE = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";
      }) ''
        pull=$pullImage
        [ -x "$pull" ] || pull=$pullScript
        "$pull" --image "$imageName" --digest "$imageDigest" --final-name "$finalImageName" \
          --final-tag "$finalImageTag" --os "$os" --arch "$arch" --tls-verify="$tlsVerify" \
          -o "$TMPDIR/image.tar"
        mv "$TMPDIR/image.tar" "$out"
      '';
    in
    self;

  # nixpkgs' exportImage, without a virtual machine: the image's root file
  # system as one tar.
  exportImage = args0:
    let
      fn = "exportImage";
      args = A.check fn {
        known = [ "fromImage" "fromImageName" "fromImageTag" "name" "diskSize" ];
      } args0;
      image = imageOf fn "fromImage" (args.fromImage or (throw "dockertools.${fn}: fromImage is required"));
      tagged = if (args.fromImageName or null) == null then "" else "${args.fromImageName}:${args.fromImageTag or "latest"}";
      name = args.name or (if isAttrs args.fromImage then args.fromImage.name else baseOf args.fromImage);
    in
    run name {
      image = "${image.path}";
      isStream = image.stream;
      inherit tagged;
    } ''
      tag=()
      [ -z "$tagged" ] || tag=(--tag "$tagged")
      if [ -n "$isStream" ]; then
        "$image" | export-image --quiet "''${tag[@]}" - >"$out"
      else
        export-image --quiet "''${tag[@]}" "$image" >"$out"
      fi
    '';

  # An explicit layer, a derivation of its own (as nix2container's
  # buildLayer): the closure of deps, and the files of copyToRoot at the
  # image root, less what the layers below it (layers) hold. Give it to an
  # image function as layers = [ ... ]: its paths are then left out of the
  # automatic layers. The same arguments give the same derivation.
  buildLayer = args0:
    let
      fn = "buildLayer";
      args = A.check fn {
        known = [ "deps" "copyToRoot" "layers" "mtime" "uid" "gid" "uname" "gname" "name" "perms" ];
        unsupported = {
          maxLayers = { default = 1; why = "a buildLayer is one layer; give several buildLayer results to layers instead"; };
          reproducible = { default = true; why = "layers are always reproducible here: their descriptors are their outputs"; };
          ignore = { default = null; why = "ignore is not in dockertools' buildLayer"; };
        };
      } args0;
      deps = map (d: "${d}") (A.paths fn "deps" (args.deps or [ ]));
      copyToRoot = map (d: "${d}") (A.paths fn "copyToRoot" (if (args.copyToRoot or null) == null then [ ] else args.copyToRoot));
      below = explicitLayers fn "layers" (args.layers or [ ]);
      root =
        if copyToRoot == [ ] then ""
        else if length copyToRoot == 1 then head copyToRoot
        else "${run "layer-root" { items = concatStringsSep "\n" copyToRoot; } ''
          mkdir "$out"
          while IFS= read -r item; do
            cp -a --remove-destination "$item"/. "$out"/
            chmod -R u+w "$out"
          done <<<"$items"
        ''}";
      layerName = A.string fn "name" (args.name or (
        if deps != [ ] then "layer-${nameOf (head deps)}"
        else if copyToRoot != [ ] then "layer-root-${nameOf (head copyToRoot)}"
        else throw "dockertools.${fn}: give deps or copyToRoot: the layer would be empty"));
    in
    builtins.seq below (run layerName {
      __structuredAttrs = true;
      exportReferencesGraph = { depsGraph = deps; rootGraph = copyToRoot; };
      rootItems = filter (c: !elem c deps) copyToRoot;
      belowLayers = map (l: "${l}") below;
      closure = true;
      paths = "";
      mtime = A.time fn "mtime" (args.mtime or "1970-01-01T00:00:01Z");
      uid = A.natural fn "uid" (args.uid or 0);
      gid = A.natural fn "gid" (args.gid or 0);
      uname = A.string fn "uname" (args.uname or "root");
      gname = A.string fn "gname" (args.gname or "root");
      perms = permsFileOf fn (args.perms or [ ]);
      inherit common layerName root;
      passthru = { dockertoolsLayer = true; layers = below; };
    } (builder "layer"));

  # nixpkgs' fakeNss: /etc/passwd, /etc/group (root and nobody, and the
  # extra lines), /etc/nsswitch.conf, /var/empty; fakeNss.override
  # { extraPasswdLines = [ ... ]; extraGroupLines = [ ... ]; }.
  fakeNss = fakeNssWith { };
  fakeNssWith = o:
    let
      fn = "fakeNss";
      args = A.check fn { known = [ "extraPasswdLines" "extraGroupLines" ]; } o;
      lines = arg: let v = args.${arg} or [ ]; in
        if isList v && builtins.all isString v then concatStringsSep "\n" v
        else throw "dockertools.${fn}: ${arg} must be a list of strings, not ${A.describe v}";
    in
    (run "fake-nss" {
      passwd = lines "extraPasswdLines";
      group = lines "extraGroupLines";
    } ''
      flags=()
      while IFS= read -r l; do [ -z "$l" ] || flags+=(--passwd-line "$l"); done <<<"$passwd"
      while IFS= read -r l; do [ -z "$l" ] || flags+=(--group-line "$l"); done <<<"$group"
      mkdir "$out"
      fake-nss --dir "$out" "''${flags[@]}" >/dev/null
    '') // {
      override = f: fakeNssWith (o // (if builtins.isFunction f then f o else f));
    };

  # Links into nixpkgs' packages, for contents: /bin/sh (bash),
  # /usr/bin/env (coreutils), the CA certificates where programs look for
  # them (cacert).
  binSh = needPkgs "binSh" "bash" (run "bin-sh" { } ''
    mkdir -p "$out/bin"
    ln -s ${pkgs.bashInteractive}/bin/bash "$out/bin/sh"
  '');
  usrBinEnv = needPkgs "usrBinEnv" "coreutils" (run "usr-bin-env" { } ''
    mkdir -p "$out/usr/bin"
    ln -s ${pkgs.coreutils}/bin/env "$out/usr/bin/env"
  '');
  caCertificates = needPkgs "caCertificates" "cacert" (run "ca-certificates" { } ''
    mkdir -p "$out/etc/ssl/certs" "$out/etc/pki/tls/certs"
    ln -s ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/ssl/certs/ca-bundle.crt"
    ln -s ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/ssl/certs/ca-certificates.crt"
    ln -s ${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt "$out/etc/pki/tls/certs/ca-bundle.crt"
  '');
  # The toolkit's binaries.
  inherit toolkit;
}) [ "buildLayeredImageAs" "buildImageAs" "withNixDb" ]
