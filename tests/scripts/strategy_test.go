package scripts

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// TestDefaultStrategyIsAutoLayer: without --strategy, build-layered-image
// splits the closure as current nixpkgs does (auto-layer.py, the split
// recorded in testdata/conformance/README.md), the same image as
// --strategy auto; --strategy popularity keeps references-by-popularity.
func TestDefaultStrategyIsAutoLayer(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	dir := t.TempDir()
	image := func(name string, strategy ...string) (string, []byte) {
		out := filepath.Join(dir, name+".tar")
		args := append([]string{"-q", "--name", "dt-i-scripts/strategy:1", "--graph", graph, "--max-layers", "4"}, strategy...)
		build(t, "build-layered-image", append(args, "-o", out, testutil.App)...)
		data, err := os.ReadFile(out)
		must(t, err)
		return out, data
	}
	def, defBytes := image("default")
	_, autoBytes := image("auto", "--strategy", "auto")
	pop, _ := image("popularity", "--strategy", "popularity")

	if got := storeSplit(t, readImage(t, def)); !reflect.DeepEqual(got, autoLimit3) {
		t.Errorf("default store layers:\n%swant auto-layer's:\n%s", show(got), show(autoLimit3))
	}
	if !bytes.Equal(defBytes, autoBytes) {
		t.Error("the default image differs from --strategy auto's")
	}
	if got, want := storeSplit(t, readImage(t, pop)), popularSplit(popularityOrder, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("--strategy popularity store layers:\n%swant:\n%s", show(got), show(want))
	}
}
