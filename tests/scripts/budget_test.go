package scripts

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// What nixpkgs does with the fixture's graph, from
// testdata/conformance/README.md: references-by-popularity's order, and
// auto-layer.py's split with the limit 3.
var (
	popularityOrder = []string{testutil.Libc, testutil.Libfoo, testutil.Data, testutil.Single, testutil.App, testutil.Link}
	autoLimit3      = [][]string{{testutil.Link}, {testutil.Data}, {testutil.App, testutil.Libc, testutil.Libfoo, testutil.Single}}
)

// popularSplit is buildLayeredImage's popularity split into n layers: the
// first n-1 paths a layer each, the rest in the last one.
func popularSplit(order []string, n int) [][]string {
	var split [][]string
	for i, p := range order {
		if i < n-1 {
			split = append(split, []string{p})
		} else if i == n-1 {
			split = append(split, append([]string(nil), order[i:]...))
		}
	}
	return split
}

// TestLayerBudget checks build-layered-image's store-layer split against
// nixpkgs': for --max-layers N the store paths get N - 1 - (base image
// layers) layers, whether the customisation layer has anything in it or
// not, and every image has its customisation layer on top.
func TestLayerBudget(t *testing.T) {
	fx := testutil.ConformanceFixture(t)
	graph := filepath.Join(fx.Dir, "graph.json")
	dir := t.TempDir()
	contents := filepath.Join(dir, "contents")
	must(t, os.MkdirAll(filepath.Join(contents, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(contents, "etc", "motd"), []byte("hi\n"), 0o644))

	// A base image of two layers.
	base := filepath.Join(dir, "base.tar")
	var descs []string
	for i, p := range []string{testutil.Libc, testutil.Data} {
		d := filepath.Join(dir, fmt.Sprintf("base-%d.json", i))
		testutil.Run(t, filepath.Join(binDir, "path-to-layer"), "-q", "--index", strconv.Itoa(i),
			"-o", filepath.Join(dir, fmt.Sprintf("base-%d.tar", i)), "--descriptor", d, p)
		descs = append(descs, d)
	}
	testutil.Run(t, filepath.Join(binDir, "assemble-image"), append([]string{"-q", "--tag", "dt-i-scripts/base:1", "-o", base}, descs...)...)

	type budget struct {
		name     string
		strategy string
		max      int
		extra    []string
		base     int        // layers of the base image
		want     [][]string // nil: closure-popularity's plan for max-1-base
	}
	cases := []budget{
		{"popularity, nothing to customise", "popularity", 4, nil, 0, popularSplit(popularityOrder, 3)},
		{"popularity, contents", "popularity", 4, []string{"--contents", contents, "--fake-nss"}, 0, popularSplit(popularityOrder, 3)},
		{"popularity, base image", "popularity", 6, []string{"--from-image", base}, 2, popularSplit(popularityOrder, 3)},
		{"auto, nothing to customise", "auto", 4, nil, 0, autoLimit3},
		{"auto, contents", "auto", 4, []string{"--contents", contents, "--tmp"}, 0, autoLimit3},
		{"auto, base image and contents", "auto", 6, []string{"--from-image", base, "--contents", contents}, 2, autoLimit3},
	}
	for _, strategy := range []string{"popularity", "auto"} {
		for max := 2; max <= 7; max++ {
			cases = append(cases,
				budget{fmt.Sprintf("%s, %d", strategy, max), strategy, max, nil, 0, nil},
				budget{fmt.Sprintf("%s, %d, base image", strategy, max+2), strategy, max + 2, []string{"--from-image", base, "--extra-commands", "mkdir srv"}, 2, nil})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := c.want
			if want == nil {
				want = plan(t, "--strategy", c.strategy, "--max-layers", strconv.Itoa(c.max-1-c.base), graph)
			}
			out := filepath.Join(t.TempDir(), "image.tar")
			args := append([]string{"-q", "--name", "dt-i-scripts/budget", "--graph", graph, "--strategy", c.strategy,
				"--max-layers", strconv.Itoa(c.max)}, c.extra...)
			build(t, "build-layered-image", append(args, "-o", out, testutil.App)...)
			layers := readImage(t, out)
			if got := storeSplit(t, layers[c.base:]); !reflect.DeepEqual(got, want) {
				t.Errorf("store layers:\n%s\nwant (nixpkgs):\n%s", show(got), show(want))
			}
			if len(layers) != c.base+len(want)+1 {
				t.Errorf("%d layers: want the base image's %d, %d store layers and the customisation layer", len(layers), c.base, len(want))
			}
			if len(layers) > c.max {
				t.Errorf("%d layers, more than --max-layers %d", len(layers), c.max)
			}
		})
	}

	// No layer left for the store paths: refused, as nixpkgs refuses it.
	for _, c := range []struct {
		max   int
		extra []string
	}{{1, nil}, {3, []string{"--from-image", base}}} {
		out := filepath.Join(t.TempDir(), "none.tar")
		r := runScript(t, t.TempDir(), []string{"DOCKERTOOLS_BIN=" + binDir}, filepath.Join(testutil.RepoRoot(), "scripts", "build-layered-image"),
			append(append([]string{"--name", "x", "--graph", graph, "--max-layers", strconv.Itoa(c.max)}, c.extra...), "-o", out, testutil.App)...)
		if r.code == 0 || !strings.Contains(r.stderr, "leaves no layer for the store paths") {
			t.Errorf("--max-layers %d %v: exit %d, %q: want a refusal", c.max, c.extra, r.code, r.stderr)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("--max-layers %d: an image was written", c.max)
		}
	}
}

func show(split [][]string) string {
	var b strings.Builder
	for _, l := range split {
		fmt.Fprintf(&b, "  %v\n", l)
	}
	return b.String()
}
