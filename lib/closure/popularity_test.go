package closure

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// scoresOf returns the scores Popularity sorts by, by path.
func scoresOf(g *Graph) map[string]*big.Int {
	out := map[string]*big.Int{}
	if len(g.paths) == 0 {
		return out
	}
	p := g.newPopular()
	s := p.scores()
	L := p.limbs
	for i, path := range g.paths {
		v := int(p.pos[i])
		x := new(big.Int)
		for k := L - 1; k >= 0; k-- {
			x.Lsh(x, 64)
			x.Or(x, new(big.Int).SetUint64(s[v*L+k]))
		}
		out[path] = x
	}
	return out
}

func TestPopularityReadmeExamples(t *testing.T) {
	tests := []struct {
		name  string
		graph []tnode
		score map[string]int64
		order []string
	}{
		{
			name:  "foo-bar-baz-tux",
			graph: edges("foo -> foo bar baz", "bar -> bar baz", "baz -> baz tux", "tux -> tux"),
			score: map[string]int64{"foo": 1, "bar": 2, "baz": 4, "tux": 6},
			order: []string{"tux", "baz", "bar", "foo"},
		},
		{
			name:  "A-to-G",
			graph: edges("A -> B G", "B -> C E", "C -> D E", "D -> F", "E -> F", "F ->", "G ->"),
			score: map[string]int64{"A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 9, "G": 2},
			// closure-graph.py's header comment: F E D C B G A
			order: []string{"F", "E", "D", "C", "B", "G", "A"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := graphOf(t, tt.graph)
			got := scoresOf(g)
			for p, want := range tt.score {
				if got[p].Cmp(big.NewInt(want)) != 0 {
					t.Errorf("score(%s) = %v, want %d", p, got[p], want)
				}
			}
			if order := g.Popularity(); !slices.Equal(order, tt.order) {
				t.Errorf("order = %v, want %v", order, tt.order)
			}
		})
	}
}

func TestPopularityFixture(t *testing.T) {
	want := []string{
		"/nix/store/00000000000000000000000000000000-fx-libc-2.40",
		"/nix/store/11111111111111111111111111111111-fx-libfoo-1.0",
		"/nix/store/33333333333333333333333333333333-fx-data",
		"/nix/store/55555555555555555555555555555555-fx-single-file",
		"/nix/store/22222222222222222222222222222222-fx-app-1.0",
		"/nix/store/44444444444444444444444444444444-fx-link-to-libfoo",
	}
	if got := fixture(t).Popularity(); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPackageName(t *testing.T) {
	for in, want := range map[string]string{
		"/nix/store/abc-hello-2.1": "hello-2.1-/nix/store/abc",
		"/nix/store/abc":           "/nix/store/abc",
		"/nix/store/abc-":          "-/nix/store/abc",
		"a-b-c-d":                  "b-c-d-a",
	} {
		if got := packageName(in); got != want {
			t.Errorf("packageName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPopularityTieOrder: equal scores go by package name, not by path.
func TestPopularityTieOrder(t *testing.T) {
	g := graphOf(t, edges(
		"/s/zz-app -> /s/aa-zlib /s/bb-bash /s/cc-bash",
		"/s/aa-zlib ->", "/s/bb-bash ->", "/s/cc-bash ->",
	))
	want := []string{"/s/bb-bash", "/s/cc-bash", "/s/aa-zlib", "/s/zz-app"}
	if got := g.Popularity(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// contestOracle transliterates closure-graph.py: the graph expanded into a
// tree of references from the roots (with its subgraph cache), then the
// popularity contest merged up the tree (with its popularity cache), then
// order_by_popularity.
type seg map[string]seg

func contestOracle(nodes []tnode) (map[string]*big.Int, []string) {
	var roots []string
	for _, c := range nodes {
		referred := false
		for _, o := range nodes {
			if o.Path != c.Path && slices.Contains(o.References, c.Path) {
				referred = true
			}
		}
		if !referred && !slices.Contains(roots, c.Path) {
			roots = append(roots, c.Path)
		}
	}
	lookup := map[string][]string{}
	for _, c := range nodes {
		var refs []string
		for _, r := range c.References {
			if r != c.Path {
				refs = append(refs, r)
			}
		}
		lookup[c.Path] = refs
	}
	subgraphs := map[string]seg{}
	var segment func(root string) seg
	segment = func(root string) seg {
		children := seg{}
		for _, ref := range lookup[root] {
			if _, ok := subgraphs[ref]; !ok {
				subgraphs[ref] = segment(ref)
			}
			children[ref] = subgraphs[ref]
		}
		return children
	}
	full := seg{}
	for _, r := range roots {
		full[r] = segment(r)
	}
	cache := map[string]map[string]*big.Int{}
	one := big.NewInt(1)
	var contest func(g seg) map[string]*big.Int
	contest = func(g seg) map[string]*big.Int {
		pop := map[string]*big.Int{}
		add := func(p string, x *big.Int) {
			if pop[p] == nil {
				pop[p] = new(big.Int)
			}
			pop[p].Add(pop[p], x)
		}
		for path, sub := range g {
			add(path, one)
			if _, ok := cache[path]; !ok {
				cache[path] = contest(sub)
			}
			for subpath, sp := range cache[path] {
				add(subpath, new(big.Int).Add(sp, one))
			}
		}
		return pop
	}
	scores := contest(full)

	byPop := map[string][]string{}
	var pops []*big.Int
	for p, s := range scores {
		if byPop[s.String()] == nil {
			pops = append(pops, s)
		}
		byPop[s.String()] = append(byPop[s.String()], p)
	}
	sort.Slice(pops, func(i, j int) bool { return pops[i].Cmp(pops[j]) < 0 })
	var flat []string
	for _, s := range pops {
		paths := byPop[s.String()]
		sort.SliceStable(paths, func(i, j int) bool { return packageName(paths[i]) < packageName(paths[j]) })
		slices.Reverse(paths)
		flat = append(flat, paths...)
	}
	slices.Reverse(flat)
	return scores, flat
}

// bruteScores enumerates every chain of references from every root and
// every ancestor set explicitly: score(q) = Σ chains(x) over x reaching q.
func bruteScores(nodes []tnode) map[string]*big.Int {
	refs := map[string][]string{}
	referred := map[string]bool{}
	for _, c := range nodes {
		for _, r := range c.References {
			if r != c.Path && !slices.Contains(refs[c.Path], r) {
				refs[c.Path] = append(refs[c.Path], r)
				referred[r] = true
			}
		}
	}
	chains := map[string]int64{}
	var walk func(p string)
	walk = func(p string) {
		chains[p]++
		for _, r := range refs[p] {
			walk(r)
		}
	}
	done := map[string]bool{}
	for _, c := range nodes {
		if !referred[c.Path] && !done[c.Path] {
			done[c.Path] = true
			walk(c.Path)
		}
	}
	reaches := func(x, q string) bool {
		seen := map[string]bool{}
		var dfs func(v string) bool
		dfs = func(v string) bool {
			if v == q {
				return true
			}
			if seen[v] {
				return false
			}
			seen[v] = true
			return slices.ContainsFunc(refs[v], dfs)
		}
		return dfs(x)
	}
	out := map[string]*big.Int{}
	for _, q := range nodes {
		s := new(big.Int)
		for x := range chains {
			if reaches(x, q.Path) {
				s.Add(s, big.NewInt(chains[x]))
			}
		}
		out[q.Path] = s
	}
	return out
}

func equalScores(t *testing.T, got, want map[string]*big.Int, what string) bool {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d scores, want %d", what, len(got), len(want))
		return false
	}
	for p, w := range want {
		if got[p] == nil || got[p].Cmp(w) != 0 {
			t.Errorf("%s: score(%s) = %v, want %v", what, p, got[p], w)
			return false
		}
	}
	return true
}

func TestPopularityRandomAgainstOracles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		nodes := randomDAG(rng, 12)
		g := graphOf(t, nodes)
		name := fmt.Sprintf("graph %d: %+v", i, nodes)
		cScores, cOrder := contestOracle(nodes)
		if !equalScores(t, scoresOf(g), cScores, name+" (closure-graph.py)") {
			return
		}
		if !equalScores(t, bruteScores(nodes), cScores, name+" (brute force vs closure-graph.py)") {
			return
		}
		if got := g.Popularity(); !slices.Equal(got, cOrder) {
			t.Fatalf("%s: order\n%v\nwant\n%v", name, got, cOrder)
		}
	}
}

// TestPopularityLargeAgainstOracle covers several blocks of 64 sources,
// several workers, and scores over 64 bits.
func TestPopularityLargeAgainstOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 6 {
		n := 100 + rng.IntN(300)
		nodes := make([]tnode, n)
		for j := range nodes {
			nodes[j] = tnode{Path: fmt.Sprintf("/nix/store/%03d-p%d", rng.IntN(1000), j), References: []string{}}
		}
		for j := range nodes {
			// Dense near the diagonal: chain counts grow exponentially.
			for k := j + 1; k < min(n, j+6); k++ {
				if rng.IntN(3) > 0 {
					nodes[j].References = append(nodes[j].References, nodes[k].Path)
				}
			}
			if rng.IntN(4) == 0 && j+1 < n { // and one edge further down
				nodes[j].References = append(nodes[j].References, nodes[j+1+rng.IntN(n-j-1)].Path)
			}
		}
		rng.Shuffle(n, func(a, b int) { nodes[a], nodes[b] = nodes[b], nodes[a] })
		g := graphOf(t, nodes)
		cScores, cOrder := contestOracle(nodes)
		maxBits := 0
		for _, s := range cScores {
			maxBits = max(maxBits, s.BitLen())
		}
		t.Logf("graph %d: %d paths, scores up to %d bits", i, n, maxBits)
		if !equalScores(t, scoresOf(g), cScores, fmt.Sprintf("graph %d", i)) {
			return
		}
		if got := g.Popularity(); !slices.Equal(got, cOrder) {
			t.Fatalf("graph %d: order differs", i)
		}
	}
}

// TestPopularityLadder: 2^k chains to the bottom of a ladder k rungs high.
func TestPopularityLadder(t *testing.T) {
	const rungs = 200
	var adj []string
	adj = append(adj, "/s/0-top -> /s/1-l /s/1-r")
	for i := 1; i < rungs; i++ {
		adj = append(adj, fmt.Sprintf("/s/%d-l -> /s/%d-l /s/%d-r", i, i+1, i+1))
		adj = append(adj, fmt.Sprintf("/s/%d-r -> /s/%d-l /s/%d-r", i, i+1, i+1))
	}
	adj = append(adj, fmt.Sprintf("/s/%d-l -> /s/bottom", rungs), fmt.Sprintf("/s/%d-r -> /s/bottom", rungs), "/s/bottom ->")
	nodes := edges(adj...)
	g := graphOf(t, nodes)
	want, order := contestOracle(nodes)
	// bottom: Σ over every rung of 2·2^i chains, plus its own 2^rungs·2.
	if want["/s/bottom"].BitLen() < rungs {
		t.Fatalf("oracle: bottom scores only %v", want["/s/bottom"])
	}
	equalScores(t, scoresOf(g), want, "ladder")
	if got := g.Popularity(); !slices.Equal(got, order) {
		t.Errorf("order differs")
	}
}

func TestPopularityEmpty(t *testing.T) {
	g := graphOf(t, nil)
	if got := g.Popularity(); len(got) != 0 {
		t.Errorf("got %v", got)
	}
}

func TestSplitPopular(t *testing.T) {
	order := []string{"a", "b", "c", "d"}
	tests := []struct {
		max  int
		want [][]string
	}{
		{0, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{1, [][]string{{"a", "b", "c", "d"}}},
		{2, [][]string{{"a"}, {"b", "c", "d"}}},
		{3, [][]string{{"a"}, {"b"}, {"c", "d"}}},
		{4, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{5, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{100, [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
	}
	for _, tt := range tests {
		if got := SplitPopular(order, tt.max); !slices.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("SplitPopular(%d) = %v, want %v", tt.max, got, tt.want)
		}
	}
	if got := SplitPopular(nil, 3); len(got) != 0 {
		t.Errorf("SplitPopular(nil) = %v", got)
	}
}

func TestExclude(t *testing.T) {
	got := Exclude([]string{"a", "b", "c"}, map[string]bool{"b": true, "x": true})
	if !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("got %v", got)
	}
}
