package testutil

import "os/exec"

// NixOptions make nix-build work on a machine with Nix and nothing else:
// no sandbox, no binary cache to ask, and builds as the calling user (a
// Debian nix-bin without nix-setup-systemd has no nixbld group).
var NixOptions = []string{
	"--option", "sandbox", "false",
	"--option", "substituters", "",
	"--option", "build-users-group", "",
}

// NixBuild is nix-build with NixOptions and args.
func NixBuild(args ...string) *exec.Cmd {
	return exec.Command("nix-build", append(append([]string{"--quiet"}, NixOptions...), args...)...)
}
