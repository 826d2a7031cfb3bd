# The example closure, also the end-to-end tests': a static program (built
# beforehand, imported from a file) in an app store path that references a
# data store path. Builtins only: no nixpkgs is needed. Build with
#   nix-build --option sandbox false --arg hello ./hello-binary examples/hello/default.nix
{ hello, greeting ? "hello from a nix store path" }:
let
  sh = args: builtins.concatStringsSep "; " ([ "PATH=/bin:/usr/bin" "set -e" ] ++ args);
  data = derivation {
    name = "dt-e2e-data";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    inherit greeting;
    args = [ "-c" (sh [ "mkdir $out" "printf '%s\\n' \"$greeting\" > $out/greeting" ]) ];
  };
  bin = builtins.path { path = hello; name = "dt-e2e-hello-bin"; };
in
derivation {
  name = "dt-e2e-app";
  system = builtins.currentSystem;
  builder = "/bin/sh";
  args = [ "-c" (sh [
    "mkdir -p $out/bin $out/share"
    "cp ${bin} $out/bin/hello"
    "chmod 555 $out/bin/hello"
    "echo ${data} > $out/share/data-path"
  ]) ];
}
