package robustness

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/closure/synth"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// TestHeadClosesStdout: every tool that can write a large stdout, read
// by `| head -c 100`, ends with exit 1 and one line on stderr saying the
// pipe broke: no stack trace, no death by SIGPIPE that a pipeline would
// take for success, no file left.
func TestHeadClosesStdout(t *testing.T) {
	bash := testutil.Need(t, "bash", "head")[0]
	b := bigStore(t)
	dir := t.TempDir()
	graph := filepath.Join(dir, "graph.json")
	writeFile(t, graph, synth.Generate(20000, 1), 0o644)
	for _, tc := range []struct {
		tool string
		args []string
	}{
		{"path-to-layer", []string{"-q", "--store-dir", b.store, b.paths[0]}},
		{"path-to-layer", []string{"-q", "--store-dir", b.store, "--tarsum", "-o", "-", "--descriptor", "d.json", b.paths[1]}},
		{"assemble-image", append([]string{"-q", "--tag", "big:1"}, b.descs...)},
		{"assemble-image", append([]string{"-q", "--tag", "big:1", "--compress", "gzip"}, b.descs...)},
		{"merge-images", []string{"-q", b.a, b.b}},
		{"merge-images", []string{"-q", "--compress", "zstd", b.a, b.b}},
		{"closure-popularity", []string{"-q", graph}},
		{"closure-popularity", []string{"-q", "--json", "-s", "auto", graph}},
	} {
		name := tc.tool + " " + strings.Join(tc.args[1:], " ")
		cmd := exec.Command(bash, append([]string{"-c", `set -o pipefail; "$0" "$@" | head -c 100 >/dev/null`, tool(tc.tool)}, tc.args...)...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%s | head -c 100: %v, want exit 1\n%s", tc.tool, err, stderr.String())
		}
		oneLine(t, name, tc.tool, stderr.String())
		if !strings.Contains(stderr.String(), "broken pipe") {
			t.Errorf("%s: stderr %q does not say the pipe broke", name, stderr.String())
		}
		if left := names(t, dir); len(left) != 1 {
			t.Errorf("%s: left %q", name, left)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "d.json")); err == nil {
		t.Error("a descriptor for a layer that was not written")
	}
}
