package closure

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestAutoLayersFixture(t *testing.T) {
	const s = "/nix/store/"
	want := [][]string{
		{s + "44444444444444444444444444444444-fx-link-to-libfoo"},
		{s + "33333333333333333333333333333333-fx-data"},
		{
			s + "22222222222222222222222222222222-fx-app-1.0",
			s + "00000000000000000000000000000000-fx-libc-2.40",
			s + "11111111111111111111111111111111-fx-libfoo-1.0",
			s + "55555555555555555555555555555555-fx-single-file",
		},
	}
	got, err := fixture(t).AutoLayers(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestAutoLayersFixtureLimits(t *testing.T) {
	const s = "/nix/store/"
	libc := s + "00000000000000000000000000000000-fx-libc-2.40"
	libfoo := s + "11111111111111111111111111111111-fx-libfoo-1.0"
	app := s + "22222222222222222222222222222222-fx-app-1.0"
	data := s + "33333333333333333333333333333333-fx-data"
	link := s + "44444444444444444444444444444444-fx-link-to-libfoo"
	single := s + "55555555555555555555555555555555-fx-single-file"
	tests := []struct {
		limit   int
		exclude []string
		want    [][]string
	}{
		{1, nil, [][]string{{app, data, libc, libfoo, link, single}}},
		{2, nil, [][]string{{data}, {app, libc, libfoo, link, single}}},
		{100, nil, [][]string{{single}, {libc}, {libfoo}, {link}, {data}, {app}}},
		// excluded paths vanish, and so does a layer left empty
		{3, []string{link}, [][]string{{data}, {app, libc, libfoo, single}}},
		{3, []string{"/nix/store/not-in-graph"}, [][]string{{link}, {data}, {app, libc, libfoo, single}}},
	}
	for _, tt := range tests {
		ex := map[string]bool{}
		for _, p := range tt.exclude {
			ex[p] = true
		}
		got, err := fixture(t).AutoLayers(tt.limit, ex)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := autoOracle(readFixtureNodes(t), ex, tt.limit)
		if !slices.EqualFunc(got, tt.want, slices.Equal) || !slices.EqualFunc(want, tt.want, slices.Equal) {
			t.Errorf("limit %d exclude %v:\ngot    %v\noracle %v\nwant   %v", tt.limit, tt.exclude, got, want, tt.want)
		}
	}
}

func readFixtureNodes(t *testing.T) []tnode {
	g := fixture(t)
	var nodes []tnode
	for i, p := range g.paths {
		n := tnode{Path: p, NarSize: g.narSize[i]}
		for _, r := range g.references(int32(i)) {
			n.References = append(n.References, g.paths[r])
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// autoOracle transliterates auto-layer.py with sets of strings: a layer is
// the sorted, joined set of its primary paths. Layers of equal closure
// size, which auto-layer.py leaves in set-hash order, are ordered by first
// path. It also returns the number of primary paths taken.
func autoOracle(nodes []tnode, ignore map[string]bool, limit int) ([][]string, int) {
	nodes = dedup(nodes)
	deps := map[string]map[string]bool{}
	users := map[string]map[string]bool{}
	size := map[string]uint64{}
	for _, n := range nodes {
		deps[n.Path] = map[string]bool{}
		if users[n.Path] == nil {
			users[n.Path] = map[string]bool{}
		}
		size[n.Path] = n.NarSize
	}
	for _, n := range nodes {
		for _, r := range n.References {
			deps[n.Path][r] = true
			if users[r] == nil {
				users[r] = map[string]bool{}
			}
			users[r][n.Path] = true
		}
	}
	closure := func(key map[string]map[string]bool, todo ...string) map[string]bool {
		todo = slices.Clone(todo)
		done := map[string]bool{}
		for len(todo) > 0 {
			x := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			if !done[x] {
				done[x] = true
				for y := range key[x] {
					todo = append(todo, y)
				}
			}
		}
		return done
	}
	dependencies := func(key map[string]map[string]bool, p string) map[string]bool {
		c := closure(key, p)
		delete(c, p)
		return c
	}
	type set = string // sorted paths joined by "\n"
	toSet := func(m map[string]bool) set {
		var s []string
		for p := range m {
			s = append(s, p)
		}
		sort.Strings(s)
		return strings.Join(s, "\n")
	}
	fromSet := func(s set) map[string]bool {
		m := map[string]bool{}
		if s != "" {
			for _, p := range strings.Split(s, "\n") {
				m[p] = true
			}
		}
		return m
	}
	count := func(split map[string]set) int {
		seen := map[set]bool{}
		for _, s := range split {
			seen[s] = true
		}
		return len(seen)
	}

	bySize := slices.Clone(nodes)
	sort.SliceStable(bySize, func(i, j int) bool { return bySize[i].NarSize < bySize[j].NarSize })
	split := map[string]set{}
	for _, n := range nodes {
		split[n.Path] = ""
	}
	primaries := 0
	for len(bySize) > 0 {
		p := bySize[len(bySize)-1].Path
		bySize = bySize[:len(bySize)-1]
		next := map[string]set{}
		for k, v := range split {
			next[k] = v
		}
		next[p] = p
		pDeps := dependencies(deps, p)
		pUsers := dependencies(users, p)
		for d := range pDeps {
			s := fromSet(next[d])
			for u := range pUsers {
				delete(s, u)
			}
			shared := false
			for q := range s {
				shared = shared || pDeps[q]
			}
			if !shared {
				s[p] = true
			}
			next[d] = toSet(s)
		}
		if count(next) > limit {
			break
		}
		split = next
		primaries++
	}

	pathKey := func(a, b string) bool {
		ha, na, _ := strings.Cut(a, "-")
		hb, nb, _ := strings.Cut(b, "-")
		if na != nb {
			return na < nb
		}
		if ha != hb {
			return ha < hb
		}
		return a < b
	}
	byLayer := map[set][]string{}
	for p, s := range split {
		byLayer[s] = append(byLayer[s], p)
	}
	type info struct {
		paths   []string
		closure uint64
	}
	var layers []info
	for _, paths := range byLayer {
		sort.Slice(paths, func(i, j int) bool { return pathKey(paths[i], paths[j]) })
		var cs uint64
		for p := range closure(deps, paths...) {
			cs += size[p]
		}
		layers = append(layers, info{paths, cs})
	}
	sort.Slice(layers, func(i, j int) bool {
		if layers[i].closure != layers[j].closure {
			return layers[i].closure < layers[j].closure
		}
		return pathKey(layers[i].paths[0], layers[j].paths[0])
	})
	out := [][]string{}
	for _, l := range layers {
		var kept []string
		for _, p := range l.paths {
			if !ignore[p] {
				kept = append(kept, p)
			}
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	return out, primaries
}

func TestAutoLayersRandomAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	stopped := 0
	for i := range 4000 {
		nodes := randomDAG(rng, 14)
		g := graphOf(t, nodes)
		limit := 1 + rng.IntN(10)
		ignore := map[string]bool{}
		for _, n := range nodes {
			if rng.IntN(6) == 0 {
				ignore[n.Path] = true
			}
		}
		want, primaries := autoOracle(nodes, ignore, limit)
		if primaries < len(dedup(nodes)) {
			stopped++
		}
		got, err := g.AutoLayers(limit, ignore)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("graph %d, limit %d, ignore %v: %+v\ngot  %v\nwant %v", i, limit, ignore, nodes, got, want)
		}
	}
	// Both ways out of the loop must be exercised.
	if stopped < 500 || stopped > 3500 {
		t.Errorf("the layer limit stopped %d of 4000 runs", stopped)
	}
}

// TestAutoLayersSynthetic compares with the oracle on a graph shaped like a
// real closure, larger than the random ones.
func TestAutoLayersSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{60, 200, 400} {
		nodes := make([]tnode, n)
		for j := range nodes {
			nodes[j] = tnode{Path: fmt.Sprintf("/nix/store/%04d-p%d-1.0", rng.IntN(10000), j), NarSize: uint64(rng.ExpFloat64() * 1e5)}
			if rng.IntN(10) == 0 {
				nodes[j].NarSize = 4096 // ties
			}
		}
		for j := range nodes {
			nodes[j].References = []string{nodes[j].Path}
			for k := j + 1; k < n; k++ {
				if rng.Float64() < 3/float64(n-j) || k >= n-3 && rng.IntN(2) == 0 {
					nodes[j].References = append(nodes[j].References, nodes[k].Path)
				}
			}
		}
		rng.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
		g := graphOf(t, nodes)
		for _, limit := range []int{2, 5, 20, 100} {
			want, _ := autoOracle(nodes, nil, limit)
			got, err := g.AutoLayers(limit, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("n %d limit %d: layers differ\ngot  %v\nwant %v", n, limit, got, want)
			}
		}
	}
}

func TestAutoLayersEmpty(t *testing.T) {
	got, err := graphOf(t, nil).AutoLayers(100, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestAutoLayersNarSize(t *testing.T) {
	tests := []struct {
		size string
		err  string // "" for none
	}{
		{`0`, ""},
		{`18446744073709551615`, ""},
		{`18446744073709551616`, `narSize 18446744073709551616 is too large`},
		{`-1`, `narSize -1 is not a non-negative integer`},
		{`1.5`, `narSize 1.5 is not a non-negative integer`},
		{`1e3`, `narSize 1e3 is not a non-negative integer`},
		{`"12"`, `narSize is a string, not a non-negative integer`},
		{`null`, `narSize is null, not a non-negative integer`},
	}
	for _, tt := range tests {
		doc := `[{"path": "/s/a-x", "references": [], "narSize": ` + tt.size + `}]`
		g, err := Parse(strings.NewReader(doc), "g.json", "")
		if err != nil {
			t.Fatalf("%s: %v", tt.size, err)
		}
		_, err = g.AutoLayers(10, nil)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.size, err)
		case tt.err != "" && (err == nil || err.Error() != "g.json: /s/a-x: "+tt.err):
			t.Errorf("%s: got %v, want %q", tt.size, err, tt.err)
		}
	}
	g, _ := Parse(strings.NewReader(`[{"path": "/s/a-x", "references": []}]`), "g.json", "")
	if _, err := g.AutoLayers(10, nil); err == nil || err.Error() != "g.json: /s/a-x: no narSize" {
		t.Errorf("missing narSize: %v", err)
	}
}

// TestAutoLayersHugeSizes: closure sizes beyond 64 bits still order.
func TestAutoLayersHugeSizes(t *testing.T) {
	const big = 1<<64 - 1
	nodes := []tnode{
		{Path: "/s/a-top", References: []string{"/s/b-mid", "/s/c-other"}, NarSize: big},
		{Path: "/s/b-mid", References: []string{"/s/d-low"}, NarSize: big},
		{Path: "/s/c-other", References: []string{}, NarSize: 1},
		{Path: "/s/d-low", References: []string{}, NarSize: big},
	}
	got, err := graphOf(t, nodes).AutoLayers(100, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"/s/c-other"}, {"/s/d-low"}, {"/s/b-mid"}, {"/s/a-top"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("got %v, want %v", got, want)
	}
}
