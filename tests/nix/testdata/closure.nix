# The closure of the tests that change store paths or delete them: the
# example program (a static binary, built beforehand) in an app store path
# that references a data store path, and a third store path of its own
# (extra) that nothing references. salt makes every path new to the store
# (one salt a test run); changing extra changes that path only.
{ hello, salt, extra ? "one" }:
let
  sh = args: builtins.concatStringsSep "; " ([ "PATH=/bin:/usr/bin" "set -e" ] ++ args);
  mk = name: attrs: script: derivation ({
    inherit name salt;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" (sh script) ];
  } // attrs);
  data = mk "dt-nix-data" { } [
    "mkdir $out"
    "echo 'hello from a nix store path' > $out/greeting"
    "echo \"$salt\" > $out/salt"
  ];
  bin = builtins.path { path = hello; name = "dt-nix-hello-bin"; };
  app = mk "dt-nix-app" { } [
    "mkdir -p $out/bin $out/share"
    "cp ${bin} $out/bin/hello"
    "chmod 555 $out/bin/hello"
    "echo ${data} > $out/share/data-path"
    "echo \"$salt\" > $out/share/salt"
  ];
  extraPath = mk "dt-nix-extra" { inherit extra; } [
    "mkdir -p $out/share"
    "echo \"$extra $salt\" > $out/share/extra"
  ];
in
{ inherit app data extraPath; }
