package scripts

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// emptyCustomisation is the diffID of nixpkgs' customisation layer when
// there is nothing to customise (contents = [ ], no extraCommands): the
// layer.tar that streamLayeredImage's customisation derivation writes
// with
//
//	fakeroot tar --sort name --numeric-owner --mtime "@$SOURCE_DATE_EPOCH" \
//	  --hard-dereference -cf $out/layer.tar .
//
// in the empty directory symlinkJoin made (mode 0755), SOURCE_DATE_EPOCH
// being a Nix build's 315532800: one GNU tar header, "./", then the end
// of the archive, 10240 bytes. Made with GNU tar 1.34.
const emptyCustomisation = "sha256:f003e077fcffe7c286bb778c1514ebe6c7388d057e705b8bc43d6be413837a43"

// lastDiffID returns the diffID of the last layer (the customisation
// layer) of the image of an archive.
func lastDiffID(t *testing.T, archive string) string {
	t.Helper()
	a, err := dockerarchive.Open(archive)
	must(t, err)
	defer a.Close()
	layers := a.Images[0].Layers
	return layers[len(layers)-1].DiffID.String()
}

// TestCustomisationLayerIsNixpkgs: the customisation layer has nixpkgs'
// bytes for the same root: with nothing to customise, the layer nixpkgs
// writes (emptyCustomisation); with store paths as contents and
// --extra-commands, the layer that nixpkgs' own steps give, run here with
// the real tools (lndir -silent into a directory made under umask 022,
// the commands run in it, then fakeroot tar as above).
func TestCustomisationLayerIsNixpkgs(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	t.Setenv("SOURCE_DATE_EPOCH", "")
	os.Unsetenv("SOURCE_DATE_EPOCH")

	out := filepath.Join(t.TempDir(), "empty.tar")
	build(t, "build-layered-image", "-q", "--name", "dt-i-scripts/custom", "--graph", graph, "-o", out, testutil.App)
	if got := lastDiffID(t, out); got != emptyCustomisation {
		t.Errorf("empty customisation layer %s, want nixpkgs' %s", got, emptyCustomisation)
	}

	tools := testutil.Need(t, "lndir", "fakeroot", "tar")
	extra := `mkdir -p tmp var/lib && chmod 1777 tmp && echo state > var/lib/state && ln -s /tmp var/tmp && rm bin/app && printf '#!/bin/sh\n' > bin/app && chmod 755 bin/app`
	for _, c := range []struct {
		name     string
		contents []string
		extra    string
	}{
		{"one store path", []string{testutil.App}, ""},
		{"store paths and extra commands", []string{testutil.App, testutil.Link, testutil.Libc}, extra},
		{"extra commands only", nil, `mkdir -m 1777 tmp && mkdir -p etc && echo hi > etc/motd`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			// nixpkgs' steps.
			root := filepath.Join(dir, "old_out")
			old := syscall.Umask(0o022)
			must(t, os.Mkdir(root, 0o777))
			for _, p := range c.contents {
				if b, err := exec.Command(tools[0], "-silent", p, root).CombinedOutput(); err != nil {
					t.Fatalf("lndir: %v\n%s", err, b)
				}
			}
			if c.extra != "" {
				cmd := exec.Command("bash", "-c", c.extra)
				cmd.Dir = root
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("extra commands: %v\n%s", err, b)
				}
			}
			syscall.Umask(old)
			cmd := exec.Command(tools[1], tools[2], "--sort", "name", "--numeric-owner", "--mtime", "@315532800",
				"--hard-dereference", "-cf", filepath.Join(dir, "layer.tar"), ".")
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("fakeroot tar: %v\n%s", err, b)
			}
			data, err := os.ReadFile(filepath.Join(dir, "layer.tar"))
			must(t, err)
			want := fmt.Sprintf("sha256:%x", sha256.Sum256(data))

			out := filepath.Join(dir, "image.tar")
			args := []string{"-q", "--name", "dt-i-scripts/custom", "--graph", graph, "--extra-commands", c.extra}
			for _, p := range c.contents {
				args = append(args, "--contents", p)
			}
			build(t, "build-layered-image", append(args, "-o", out, testutil.App)...)
			if got := lastDiffID(t, out); got != want {
				t.Errorf("customisation layer %s, nixpkgs' steps give %s\nours:\n  %s", got, want,
					strings.Join(customEntries(t, out), "\n  "))
			}
		})
	}
}
