{
  description = "nixpkgs' dockerTools as small composable Go binaries, and Nix functions over them";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forSystems = f: builtins.listToAttrs (map (system: { name = system; value = f system; }) systems);
    in
    {
      # The toolkit: every command, static.
      packages = forSystems (system: rec {
        dockertools = nixpkgs.legacyPackages.${system}.callPackage ./nix/package.nix { };
        default = dockertools;
      });

      # The Nix functions (nix/default.nix), per system:
      #   dockertools.lib.x86_64-linux.buildLayeredImage { name = "app"; contents = [ app ]; }
      lib = forSystems (system: import ./nix {
        pkgs = nixpkgs.legacyPackages.${system};
        toolkit = self.packages.${system}.default;
      });

      # nixpkgs' dockerTools.streamLayeredImage and buildLayeredImage
      # streamed by assemble-image --nixpkgs-conf (nix/overlay.nix).
      overlays.default = import ./nix/overlay.nix;
    };
}
