package scripts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// TestStreamHoldsOnlyTheArchive streams images to stdout (-o -) with
// --extra-commands that print: what they print goes to stderr, and
// stdout is an archive that reads back with its layers.
func TestStreamHoldsOnlyTheArchive(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	for _, script := range []string{"build-layered-image", "build-image"} {
		t.Run(script, func(t *testing.T) {
			r := build(t, script, "-q", "--name", "dt-i-scripts/stream:1", "--graph", graph, "--fake-nss",
				"--extra-commands", "echo noise from the commands; ls", "-o", "-", testutil.Single)
			archive := filepath.Join(t.TempDir(), "stream.tar")
			must(t, os.WriteFile(archive, []byte(r.stdout), 0o644))
			layers := readImage(t, archive)
			if len(layers) == 0 {
				t.Fatal("no layers")
			}
		})
	}
}
