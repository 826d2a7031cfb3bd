package robustness

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// mediumStore writes twelve store paths of a few MiB each into dir/store.
func mediumStore(t *testing.T, dir string) (string, []string) {
	t.Helper()
	store := filepath.Join(dir, "store")
	rng := rand.NewChaCha8([32]byte{7})
	var paths []string
	for i := 0; i < 12; i++ {
		p := storePath(store, i, fmt.Sprintf("medium-%d", i))
		fillPath(t, p, rng, []int{1<<20 + i*4096, 512<<10 + i})
		paths = append(paths, p)
	}
	return store, paths
}

// TestParallelLayersIntoOneDirectory runs 40 path-to-layer processes
// through `xargs -P8` into one directory: ten path lists that overlap,
// each written by two processes at once to the same -o file and by two
// more to files of their own. Every layer and descriptor ends complete
// and equal to a sequential build's, and no temporary file is left.
func TestParallelLayersIntoOneDirectory(t *testing.T) {
	xargs := testutil.Need(t, "xargs", "sh")
	dir := t.TempDir()
	store, paths := mediumStore(t, dir)
	lists := make([][]string, 10)
	for k := range lists {
		lists[k] = paths[k : k+3]
	}
	lists[9] = lists[0] // the same paths under another name, too

	// The sequential reference.
	ref := filepath.Join(dir, "ref")
	must(t, os.Mkdir(ref, 0o755))
	want := map[string]string{}
	for k, l := range lists {
		mustRun(t, ref, nil, tool("path-to-layer"), append([]string{"-q", "--store-dir", store, "-o", fmt.Sprint(k, ".tar")}, l...)...)
		want[fmt.Sprint(k)] = fileSHA(t, filepath.Join(ref, fmt.Sprint(k, ".tar")))
	}

	// Forty lines "OUTPUT PATH...": the two writers of a shared file are
	// next to each other, so they run at the same time.
	var lines []string
	order := rand.New(rand.NewPCG(3, 4)).Perm(len(lists))
	for _, k := range order {
		l := strings.Join(lists[k], " ")
		lines = append(lines,
			fmt.Sprintf("%d.tar %s", k, l), fmt.Sprintf("%d.tar %s", k, l),
			fmt.Sprintf("%d-a.tar %s", k, l), fmt.Sprintf("%d-b.tar %s", k, l))
	}
	planFile := filepath.Join(dir, "plan")
	writeFile(t, planFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	out := filepath.Join(dir, "out")
	must(t, os.Mkdir(out, 0o755))
	r := runIn(t, out, []string{"PTL=" + tool("path-to-layer"), "STORE=" + store}, xargs[1], "-c",
		`exec "$0" -P8 -L1 sh -c 'exec "$PTL" -q --store-dir "$STORE" -o "$0" --descriptor "$0.json" "$@"' < "$1"`, xargs[0], planFile)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("xargs: exit %d\n%s", r.code, r.stderr)
	}

	var wantNames []string
	for k := range lists {
		for _, name := range []string{fmt.Sprint(k, ".tar"), fmt.Sprint(k, "-a.tar"), fmt.Sprint(k, "-b.tar")} {
			wantNames = append(wantNames, name, name+".json")
			if got := fileSHA(t, filepath.Join(out, name)); got != want[fmt.Sprint(k)] {
				t.Errorf("%s: sha256 %s, the sequential build's is %s", name, got, want[fmt.Sprint(k)])
			}
			js, err := os.ReadFile(filepath.Join(out, name+".json"))
			must(t, err)
			var d struct {
				File   string   `json:"file"`
				DiffID string   `json:"diffID"`
				Paths  []string `json:"paths"`
			}
			if err := json.Unmarshal(js, &d); err != nil || d.File != name || d.DiffID != "sha256:"+want[fmt.Sprint(k)] || !slices.Equal(d.Paths, lists[k]) {
				t.Errorf("%s.json: %s (%v)", name, js, err)
			}
		}
	}
	got := names(t, out)
	sort.Strings(wantNames)
	if !slices.Equal(got, wantNames) {
		t.Errorf("the directory holds %q, want %q", got, wantNames)
	}
}
