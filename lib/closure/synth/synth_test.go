package synth

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
)

type entry struct {
	Path       string   `json:"path"`
	NarHash    string   `json:"narHash"`
	NarSize    uint64   `json:"narSize"`
	References []string `json:"references"`
}

func TestDeterministic(t *testing.T) {
	if !bytes.Equal(Generate(500, 3), Generate(500, 3)) {
		t.Error("same n and seed, different bytes")
	}
	if bytes.Equal(Generate(500, 3), Generate(500, 4)) {
		t.Error("different seeds, same bytes")
	}
}

// TestShape checks the properties the benchmarks rely on.
func TestShape(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100, 3000} {
		var es []entry
		if err := json.Unmarshal(Generate(n, 1), &es); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(es) != n {
			t.Fatalf("n=%d: %d entries", n, len(es))
		}
		if n == 0 {
			continue
		}
		name := regexp.MustCompile(`^/nix/store/[0-9a-df-np-sv-z]{32}-[a-z0-9][a-z0-9.+-]*$`)
		index := map[string]int{}
		for i, e := range es {
			if !name.MatchString(e.Path) {
				t.Fatalf("n=%d: path %q", n, e.Path)
			}
			if _, dup := index[e.Path]; dup {
				t.Fatalf("n=%d: %s twice", n, e.Path)
			}
			index[e.Path] = i
		}
		referrers := make([]int, n)
		self := 0
		for _, e := range es {
			for _, r := range e.References {
				j, ok := index[r]
				if !ok {
					t.Fatalf("n=%d: reference %s not in the graph", n, r)
				}
				if r == e.Path {
					self++
				} else {
					referrers[j]++
				}
			}
		}
		roots := 0
		root := -1
		for i, c := range referrers {
			if c == 0 {
				roots++
				root = i
			}
		}
		if roots != 1 {
			t.Fatalf("n=%d: %d roots", n, roots)
		}
		// depth from the root, and every path in its closure
		depth := map[int]int{root: 0}
		maxDepth := 0
		queue := []int{root}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, r := range es[v].References {
				j := index[r]
				if _, seen := depth[j]; !seen {
					depth[j] = depth[v] + 1
					maxDepth = max(maxDepth, depth[j])
					queue = append(queue, j)
				}
			}
		}
		if len(depth) != n {
			t.Fatalf("n=%d: %d paths outside the root's closure", n, n-len(depth))
		}
		if n >= 3000 {
			hub := 0
			for _, c := range referrers {
				hub = max(hub, c)
			}
			if hub < n/2 {
				t.Errorf("n=%d: the most used path has only %d referrers", n, hub)
			}
			if self < n/3 {
				t.Errorf("n=%d: only %d self references", n, self)
			}
			t.Logf("n=%d: depth (shortest) %d, top hub %d referrers, %d self references", n, maxDepth, hub, self)
		}
	}
}
