package closure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// tnode is one entry of a test graph.
type tnode struct {
	Path       string   `json:"path"`
	References []string `json:"references"`
	NarSize    uint64   `json:"narSize"`
}

// graphOf parses a test graph given as entries.
func graphOf(t testing.TB, nodes []tnode) *Graph {
	t.Helper()
	data := mustJSON(t, nodes)
	g, err := Parse(bytes.NewReader(data), "test.json", "")
	if err != nil {
		t.Fatalf("parse: %v\n%.2000s", err, data)
	}
	return g
}

// mustJSON writes a test graph in the list shape.
func mustJSON(t testing.TB, nodes []tnode) []byte {
	t.Helper()
	fixed := make([]tnode, len(nodes))
	for i, n := range nodes {
		if n.References == nil {
			n.References = []string{}
		}
		fixed[i] = n
	}
	data, err := json.Marshal(fixed)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// edges builds entries from "a -> b c" style adjacency, in the order given.
func edges(adj ...string) []tnode {
	var nodes []tnode
	for _, line := range adj {
		var from string
		var refs []string
		fields := bytes.Fields([]byte(line))
		from = string(fields[0])
		for _, f := range fields[2:] {
			refs = append(refs, string(f))
		}
		nodes = append(nodes, tnode{Path: from, References: refs})
	}
	return nodes
}

func fixture(t testing.TB) *Graph {
	t.Helper()
	f, err := os.Open("testdata/fixture.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := Parse(f, "testdata/fixture.json", "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// randomDAG draws a small acyclic graph with the awkward parts of real
// ones: names that tie on package name, paths without a dash, self and
// duplicate references, narSizes that tie, entries in random order, and now
// and then a path listed twice.
func randomDAG(rng *rand.Rand, maxN int) []tnode {
	n := 1 + rng.IntN(maxN)
	names := []string{"a", "b", "lib-1.0", "lib-2.0", "x-y-z", "app", "lib-1.0-dev", "z"}
	paths := make([]string, n)
	seen := map[string]bool{}
	for i := range paths {
		for {
			var p string
			switch rng.IntN(6) {
			case 0:
				p = fmt.Sprintf("/nix/store/p%d", rng.IntN(40)) // no dash
			default:
				p = fmt.Sprintf("/nix/store/%c%c-%s", 'a'+rng.IntN(3), 'a'+rng.IntN(3), names[rng.IntN(len(names))])
			}
			if !seen[p] {
				seen[p] = true
				paths[i] = p
				break
			}
		}
	}
	density := rng.Float64()
	nodes := make([]tnode, n)
	for i := range nodes {
		nodes[i] = tnode{Path: paths[i], References: []string{}, NarSize: uint64(rng.IntN(6))}
		if rng.IntN(4) == 0 {
			nodes[i].NarSize = uint64(rng.IntN(1000))
		}
		for j := i + 1; j < n; j++ {
			if rng.Float64() < density {
				nodes[i].References = append(nodes[i].References, paths[j])
				if rng.IntN(8) == 0 {
					nodes[i].References = append(nodes[i].References, paths[j])
				}
			}
		}
		if rng.IntN(2) == 0 {
			nodes[i].References = append(nodes[i].References, paths[i])
		}
		rng.Shuffle(len(nodes[i].References), func(a, b int) {
			nodes[i].References[a], nodes[i].References[b] = nodes[i].References[b], nodes[i].References[a]
		})
	}
	rng.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
	if rng.IntN(5) == 0 {
		dup := nodes[rng.IntN(n)]
		dup.References = append([]string(nil), dup.References...)
		rng.Shuffle(len(dup.References), func(a, b int) {
			dup.References[a], dup.References[b] = dup.References[b], dup.References[a]
		})
		nodes = append(nodes, dup)
	}
	return nodes
}

// dedup keeps the first entry of each path, as Parse does.
func dedup(nodes []tnode) []tnode {
	seen := map[string]bool{}
	var out []tnode
	for _, n := range nodes {
		if !seen[n.Path] {
			seen[n.Path] = true
			out = append(out, n)
		}
	}
	return out
}

// createTemp writes content to a temporary file and opens it for reading.
func createTemp(t *testing.T, content string) (*os.File, error) {
	t.Helper()
	name := t.TempDir() + "/graph.json"
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}
