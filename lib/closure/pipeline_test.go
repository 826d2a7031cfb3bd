package closure

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// sized gives the entries narSizes, in order.
func sized(nodes []tnode, sizes ...uint64) []tnode {
	for i := range nodes {
		nodes[i].NarSize = sizes[i]
	}
	return nodes
}

func layersOf(t *testing.T, nodes []tnode, exclude []string, pipeline string) ([][]string, error) {
	t.Helper()
	p, err := ParsePipeline([]byte(pipeline), "pipeline.json")
	if err != nil {
		return nil, err
	}
	ex := map[string]bool{}
	for _, x := range exclude {
		ex[x] = true
	}
	return p.Layers(graphOf(t, nodes), ex)
}

func ls(layers ...string) [][]string {
	out := [][]string{}
	for _, l := range layers {
		out = append(out, strings.Fields(l))
	}
	return out
}

// TestPipelineWorkedExamples: the worked examples of nixpkgs'
// flattenReferencesGraph tests (flatten_references_graph_test.py,
// __main___test.py, pipe_test.py, split_paths_test.py,
// subcomponent_test.py, popularity_contest_test.py, lib_test.py), as
// graphs, pipelines and the layers they give. Their graphs are built from
// edge lists, so their paths come in order of first appearance; here all
// narSizes are equal, which keeps that order. Where a test there compares
// a layer as a set, the order here is the graph's order, which
// flattenReferencesGraph keeps (the cases recorded in
// testdata/pipeline-nixpkgs.json check orders against it too).
func TestPipelineWorkedExamples(t *testing.T) { runExamples(t, workedExamples()) }

// pipelineExample is a graph, a pipeline and the layers it gives.
type pipelineExample struct {
	name     string
	graph    []tnode
	exclude  []string
	pipeline string
	want     [][]string
}

func runExamples(t *testing.T, tests []pipelineExample) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := layersOf(t, tt.graph, tt.exclude, tt.pipeline)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func workedExamples() []pipelineExample {
	// flatten_references_graph_test.py
	abcd := sized(edges("A -> A C", "B -> C D", "C -> C", "D -> D"), 2, 4, 6, 8)
	// __main___test.py
	abc := sized(edges("A -> A B C", "B -> C", "C -> C"), 2, 4, 6)
	// pipe_test.py
	pipeGraph := edges("Root1 -> A", "A -> B C", "B -> D E G", "C ->", "D ->", "E -> F", "F ->", "G ->", "Root2 -> B", "Root3 -> C")
	pipeGraph2 := edges("Root1 -> A", "A -> B", "B ->", "Root2 ->")
	// split_paths_test.py and popularity_contest_test.py
	splitGraph := edges("Root1 -> A", "A -> B D", "B -> D F", "D -> E", "E ->", "F ->", "Root2 -> B", "Root3 -> C", "C ->", "X ->")
	// subcomponent_test.py
	subGraph := edges("Root1 -> A", "A -> B C", "B -> D E", "C ->", "D ->", "E ->", "Root2 -> B", "Root3 -> C", "X ->")
	// lib_test.py: narSizes out of order, self references, one path
	// referencing none but itself.
	libGraph := sized(edges("D -> D", "B -> B", "E -> E", "A -> C B", "C -> C E D", "F -> F"), 0, 4, 5, 10, 6, 2)

	tests := []pipelineExample{
		{"split_paths", abcd, nil, `[["split_paths", ["B"]]]`, ls("B D", "C", "A")},
		{"split_paths, main by subcomponent_in", abcd, nil,
			`[["split_paths", ["B"]], ["over", "main", ["subcomponent_in", ["B"]]]]`, ls("B", "D", "C", "A")},
		{"exclude_paths: no rest, no common", abcd, []string{"A"}, `[["split_paths", ["B"]]]`, ls("B C D")},
		{"exclude_paths: a dependency", abcd, []string{"D"}, `[["split_paths", ["B"]]]`, ls("B", "C", "A")},

		{"main_impl", abc, nil, `[["split_paths", ["B"]]]`, ls("B", "C", "A")},
		{"main_impl, no paths", []tnode{{Path: "/nix/store/fakehash000000000000000000000000-no-store-paths-base.json", NarSize: 168}},
			[]string{"/nix/store/fakehash000000000000000000000000-no-store-paths-base.json"},
			`[["popularity_contest"], ["limit_layers", 99]]`, ls()},

		{"pipe test_1", pipeGraph, nil, `[
			["split_paths", ["B"]],
			["over", "main", ["pipe", [["subcomponent_in", ["B"]], ["over", "rest", ["popularity_contest"]]]]],
			["flatten"],
			["map", ["remove_paths", "Root3"]],
			["limit_layers", 5]]`,
			ls("B", "F", "D", "E", "G Root1 A C Root2")},
		{"pipe test_2: popularity", pipeGraph2, nil, `[["popularity_contest"]]`, ls("B", "A", "Root1", "Root2")},
		{"pipe test_2: limit_layers", pipeGraph2, nil, `[["popularity_contest"], ["limit_layers", 3]]`, ls("B", "A", "Root1 Root2")},
		{"pipe test_2: reverse", pipeGraph2, nil, `[["popularity_contest"], ["reverse"], ["limit_layers", 3]]`, ls("Root2", "Root1", "A B")},

		{"split_paths: no paths", splitGraph, nil, `[["split_paths", []]]`, ls("Root1 A B D E F Root2 Root3 C X")},
		{"split_paths: empty graph", nil, nil, `[["split_paths", []]]`, ls()},
		{"split_paths: empty graph, a path", nil, nil, `[["split_paths", ["B"]]]`, ls()},
		{"split_paths: one path", splitGraph, nil, `[["split_paths", ["B"]]]`, ls("B F", "D E", "Root1 A Root2 Root3 C X")},
		{"split_paths: two paths", splitGraph, nil, `[["split_paths", ["B", "Root3"]]]`, ls("B F Root3 C", "D E", "Root1 A Root2 X")},
		{"split_paths: no common part", splitGraph, nil, `[["split_paths", ["D"]]]`, ls("D E", "Root1 A B F Root2 Root3 C X")},

		{"subcomponent_out: no paths", subGraph, nil, `[["subcomponent_out", []]]`, ls("Root1 A B C D E Root2 Root3 X")},
		{"subcomponent_in: no paths", subGraph, nil, `[["subcomponent_in", []]]`, ls("Root1 A B C D E Root2 Root3 X")},
		{"subcomponent_out: empty graph", nil, nil, `[["subcomponent_out", ["B"]]]`, ls()},
		{"subcomponent_in: empty graph", nil, nil, `[["subcomponent_in", []]]`, ls()},
		{"subcomponent_out", subGraph, nil, `[["subcomponent_out", ["B"]]]`, ls("B D E", "Root1 A C Root2 Root3 X")},
		{"subcomponent_out: two paths", subGraph, nil, `[["subcomponent_out", ["B", "Root3"]]]`, ls("B C D E Root3", "Root1 A Root2 X")},
		{"subcomponent_in", subGraph, nil, `[["subcomponent_in", ["B"]]]`, ls("Root1 A B Root2", "C D E Root3 X")},
		{"subcomponent_in: two paths", subGraph, nil, `[["subcomponent_in", ["B", "Root3"]]]`, ls("Root1 A B Root2 Root3", "C D E X")},

		{"popularity_contest", splitGraph, nil, `[["popularity_contest"]]`, ls("E", "D", "F", "B", "A", "C", "Root1", "Root2", "Root3", "X")},
		{"popularity_contest: empty graph", nil, nil, `[["popularity_contest"]]`, ls()},
		{"graph_popularity_contest: foo bar baz tux",
			edges("/nix/store/foo -> /nix/store/bar /nix/store/baz", "/nix/store/bar -> /nix/store/baz", "/nix/store/baz -> /nix/store/tux", "/nix/store/tux ->"),
			nil, `[["popularity_contest"]]`, ls("/nix/store/tux", "/nix/store/baz", "/nix/store/bar", "/nix/store/foo")},
		{"order_by_popularity: ties by name",
			edges("/nix/store/foo -> /nix/store/baz", "/nix/store/bar -> /nix/store/tux", "/nix/store/baz ->", "/nix/store/tux ->"),
			nil, `[["popularity_contest"]]`, ls("/nix/store/baz", "/nix/store/tux", "/nix/store/bar", "/nix/store/foo")},

		{"references graph: paths by narSize", libGraph, nil, `[["split_every", 10]]`, ls("D F B E C A")},
		{"references graph: edges", libGraph, nil, `[["popularity_contest"]]`, ls("D", "E", "B", "C", "A", "F")},
		{"references graph: one path", []tnode{{Path: "A", NarSize: 168}}, nil, `[["split_every", 1]]`, ls("A")},
		{"references graph: no paths", nil, nil, `[["split_every", 1]]`, ls()},
		{"limit_layers: nothing to do", libGraph, nil, `[["split_every", 10], ["limit_layers", 1]]`, ls("D F B E C A")},

		// nixpkgs' manual: the closure of one package in a layer of its own.
		{"manual: subcomponent_out, the rest by popularity", pipeGraph, nil,
			`[["subcomponent_out", ["B"]], ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 3]]]]]`,
			ls("B D E F G", "C", "A", "Root1 Root2 Root3")},
	}
	return tests
}

// TestPipelineSemantics: what the worked examples leave open.
func TestPipelineSemantics(t *testing.T) { runExamples(t, semanticsExamples()) }

func semanticsExamples() []pipelineExample {
	// app -> lib -> libc, tool -> libc; sizes put the paths in the order
	// libc, lib, tool, app.
	g := sized(edges("app -> lib", "lib -> libc", "tool -> libc", "libc ->"), 30, 10, 20, 0)
	tests := []pipelineExample{
		{"layers keep the narSize order", g, nil, `[["split_every", 3]]`, ls("libc lib tool", "app")},
		{"equal narSizes keep the input order", edges("b ->", "a ->", "c ->"), nil, `[["split_every", 5]]`, ls("b a c")},
		{"exclusion makes roots", g, []string{"app"}, `[["popularity_contest"]]`, ls("libc", "lib", "tool")},
		{"exclusion before popularity",
			edges("cfg -> app tool", "app -> libc", "tool -> libc", "libc ->"), []string{"cfg"},
			`[["popularity_contest"]]`, ls("libc", "app", "tool")},
		{"flatten opens splits in their order", g, nil,
			`[["split_paths", ["lib"]], ["over", "rest", ["split_every", 1]]]`, ls("lib", "libc", "tool", "app")},
		{"reverse, then limit_layers merges the last ones", g, nil,
			`[["split_every", 1], ["reverse"], ["limit_layers", 2]]`, ls("app", "tool lib libc")},
		{"limit_layers over fewer keeps them all", g, nil, `[["split_every", 1], ["limit_layers", 10]]`, ls("libc", "lib", "tool", "app")},
		{"limit_layers' empty merge counts as a layer later", g, nil,
			`[["split_every", 2], ["limit_layers", 5], ["reverse"], ["limit_layers", 2]]`, ls("tool app libc lib")},
		{"a merged graph keeps its parts' edges only", g, nil,
			`[["split_paths", ["lib"]], ["flatten"], ["limit_layers", 1], ["map", ["popularity_contest"]]]`,
			// main {lib}, common {libc}, rest {tool, app}: merged, no edges
			// are left, so all are roots of equal popularity.
			ls("app", "lib", "libc", "tool")},
		{"split_paths cuts the edges into the split paths", edges("a -> b", "b -> c", "c ->"), nil,
			`[["split_paths", ["b", "c"]], ["over", "main", ["popularity_contest"]]]`, ls("b", "c", "a")},
		{"split_paths children_of", g, nil, `[["split_paths", [{"children_of": "app"}]]]`, ls("lib", "libc", "tool app")},
		{"split_paths children_of a list, an unknown path", g, nil,
			`[["split_paths", [{"children_of": ["app", "tool", "/nowhere"]}]]]`, ls("libc lib", "tool app")},
		{"split_paths of the only root is all main", edges("a -> b", "b ->"), nil,
			`[["split_paths", ["a"]], ["over", "main", ["split_every", 1]]]`, ls("a", "b")},
		{"remove_paths of a path not there", g, nil, `[["remove_paths", "/nowhere"], ["split_every", 9]]`, ls("libc lib tool app")},
		{"remove_paths, a list", g, nil, `[["remove_paths", ["lib", "tool"]], ["split_every", 9]]`, ls("libc app")},
		{"map and nested pipes", g, nil,
			// {libc, lib}: lib references libc; {tool, app}: no edges.
			`[["split_every", 2], ["map", ["pipe", [["popularity_contest"], ["reverse"]]]], ["flatten"], ["limit_layers", 3]]`,
			ls("lib", "libc", "tool app")},
		{"a huge count is no limit", g, nil, `[["split_every", 100000000000000000000000]]`, ls("libc lib tool app")},
		{"remove_paths takes paths out of the image", g, nil, `[["popularity_contest"], ["map", ["remove_paths", "lib"]]]`, ls("libc", "app", "tool")},
		{"limit_layers merges split_every's lists", g, nil,
			`[["split_every", 1], ["map", ["split_every", 1]], ["limit_layers", 2]]`, ls("libc", "lib tool app")},
		{"limit_layers merges split_every's empty lists as nothing", g, nil,
			`[["split_every", 2], ["map", ["remove_paths", ["libc", "lib", "tool", "app"]]], ["map", ["split_every", 1]], ["limit_layers", 1]]`, ls()},
		{"split_paths [] of anything is its rest", g, nil,
			`[["subcomponent_out", ["lib"]], ["split_paths", []], ["over", "rest", ["over", "main", ["split_every", 1]]]]`, ls("libc", "lib", "tool app")},
		{"remove_paths [] of anything is that", g, nil, `[["split_every", 3], ["remove_paths", []]]`, ls("libc lib tool", "app")},
		{"popularity_contest of an empty list is one", g, nil,
			`[["split_every", 4], ["map", ["remove_paths", ["libc", "lib", "tool", "app"]]], ["map", ["split_every", 1]], ["map", ["popularity_contest"]]]`, ls()},
		{"empty pipe", g, nil, `[["pipe", []], ["split_every", 4]]`, ls("libc lib tool app")},
	}
	return tests
}

// TestPopularityPipeline: nixpkgs' popularity pipeline lays out the layers
// as SplitPopular does for the same count, on the fixture and on random
// graphs, and takes every path once.
func TestPopularityPipeline(t *testing.T) {
	check := func(t *testing.T, g *Graph) {
		order := g.Popularity()
		for n := 1; n <= g.Len()+1; n++ {
			got, err := PopularityPipeline(n).Layers(g, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := SplitPopular(order, n); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("limit %d: got %q\nwant %q", n, got, want)
			}
		}
	}
	check(t, fixture(t))
	rng := rand.New(rand.NewPCG(3, 5))
	for range 200 {
		check(t, graphOf(t, randomDAG(rng, 12)))
	}
}

func TestParsePipelineErrors(t *testing.T) {
	tests := []struct{ pipeline, want string }{
		{`[["split_every", 2, 3]]`, "step 1 (split_every): wants 1 argument, got 2"},
		{`[["popularity_contest"], ["popularity_contest"], ["split_every", 2, 3]]`, "step 3 (split_every): wants 1 argument, got 2"},
		{`[["popularity_contest", 1]]`, "step 1 (popularity_contest): wants no arguments, got 1"},
		{`[["over", "main"]]`, "step 1 (over): wants 2 arguments, got 1"},
		{`[["limit_layers"]]`, "step 1 (limit_layers): wants 1 argument, got 0"},
		{`[["map", ["flatten"], 2]]`, "step 1 (map): wants 1 argument, got 2"},
		{`[["splitevery", 2]]`, "step 1 (splitevery): unknown operation (known: " + opNames + ")"},
		{`[["split every"]]`, `step 1 ("split every"): unknown operation (known: ` + opNames + ")"},
		{`[["popularity_contest"], ["limit_layers", 0]]`, "step 2 (limit_layers): wants a number of layers of at least 1, got 0"},
		{`[["limit_layers", -3]]`, "step 1 (limit_layers): wants a number of layers of at least 1, got -3"},
		{`[["limit_layers", 2.5]]`, "step 1 (limit_layers): wants a whole number of layers, got the number 2.5"},
		{`[["limit_layers", 1e2]]`, "step 1 (limit_layers): wants a whole number of layers, got the number 1e2"},
		{`[["limit_layers", "99"]]`, "step 1 (limit_layers): wants a whole number of layers, got a string"},
		{`[["limit_layers", true]]`, "step 1 (limit_layers): wants a whole number of layers, got a boolean"},
		{`[["split_every", 0]]`, "step 1 (split_every): wants a number of paths of at least 1, got 0"},
		{`[["remove_paths", 3]]`, "step 1 (remove_paths): wants a store path or a list of store paths, got the number 3"},
		{`[["remove_paths", ["/a", null]]]`, "step 1 (remove_paths): wants a store path or a list of store paths, got null in the list"},
		{`[["subcomponent_out", "/nix/store/a"]]`, "step 1 (subcomponent_out): wants a list of store paths, got a string"},
		{`[["subcomponent_in", {"a": 1}]]`, "step 1 (subcomponent_in): wants a list of store paths, got an object"},
		{`[["split_paths", "/a"]]`, `step 1 (split_paths): wants a list of store paths and {"children_of": ...} objects, got a string`},
		{`[["split_paths", [{"child_of": "/a"}]]]`, `step 1 (split_paths): wants a list of store paths and {"children_of": ...} objects, got an object without "children_of"`},
		{`[["split_paths", [{"children_of": 1}]]]`, `step 1 (split_paths): wants "children_of": a store path or a list of store paths, got the number 1`},
		{`[["split_paths", [["/a"]]]]`, `step 1 (split_paths): wants a list of store paths and {"children_of": ...} objects, got a list in the list`},
		{`[["over", 1, ["flatten"]]]`, "step 1 (over): wants the name of a part (main, common or rest) first, got the number 1"},
		{`[["over", "rest", "flatten"]]`, "step 1 (over) > function: a string, not a step [operation, arguments...]"},
		{`[["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 1, 2]]]]]`,
			"step 1 (over) > pipe > step 2 (limit_layers): wants 1 argument, got 2"},
		{`[["map", ["nope"]]]`, "step 1 (map) > nope: unknown operation (known: " + opNames + ")"},
		{`[["pipe", "x"]]`, "step 1 (pipe): wants a list of steps, got a string"},
		{`[["pipe", [[]]]]`, "step 1 (pipe) > step 1: an empty list, not a step [operation, arguments...]"},
		{`[[]]`, "step 1: an empty list, not a step [operation, arguments...]"},
		{`[[3]]`, "step 1: the operation is the number 3, not a name"},
		{`["popularity_contest"]`, "step 1: a string, not a step [operation, arguments...]"},
		{`{"pipeline": []}`, "the pipeline is an object, not a list of steps"},
		{`null`, "the pipeline is null, not a list of steps"},
		{`[["flatten"]`, "malformed JSON at byte 12: unexpected end of JSON input"},
		{`[["flatten"]] [`, "malformed JSON at byte 15: invalid character '[' after top-level value"},
		{``, "malformed JSON at byte 0: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.pipeline, func(t *testing.T) {
			_, err := ParsePipeline([]byte(tt.pipeline), "pipeline.json")
			if err == nil {
				t.Fatal("parsed")
			}
			if want := "pipeline.json: " + tt.want; err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

// TestPipelineRunErrors: steps given a value they do not take fail,
// naming the step, where nixpkgs fails too.
func TestPipelineRunErrors(t *testing.T) {
	g, tests := runErrorExamples()
	for _, tt := range tests {
		t.Run(tt.pipeline, func(t *testing.T) {
			got, err := layersOf(t, g, nil, tt.pipeline)
			if err == nil {
				t.Fatalf("gave %q", got)
			}
			if want := "pipeline.json: " + tt.want; err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
	// A bad narSize stops a pipeline, which orders the paths by size.
	bad, err := Parse(strings.NewReader(`[{"path": "/s/a", "references": [], "narSize": 1.5}]`), "graph.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PopularityPipeline(2).Layers(bad, nil); err == nil || err.Error() != "graph.json: /s/a: narSize 1.5 is not a non-negative integer" {
		t.Errorf("bad narSize: %v", err)
	}
}

// runErrorExamples is a graph and pipelines that fail on it, with the
// messages.
func runErrorExamples() ([]tnode, []struct{ pipeline, want string }) {
	g := edges("app -> lib", "lib ->", "tool ->")
	tests := []struct{ pipeline, want string }{
		{`[]`, "the pipeline gives a single graph, not layers: end it with a step that makes a list, such as popularity_contest or split_every"},
		{`[["remove_paths", "lib"]]`, "the pipeline gives a single graph, not layers: end it with a step that makes a list, such as popularity_contest or split_every"},
		{`[["split_paths", ["lib"]], ["over", "common", ["popularity_contest"]]]`, `step 2 (over): the split has no part "common" (it has main, rest)`},
		{`[["split_paths", []], ["over", "main", ["popularity_contest"]]]`, `step 2 (over): the split has no part "main" (it has rest)`},
		{`[["popularity_contest"], ["over", "main", ["flatten"]]]`, "step 2 (over): wants a split (main, common, rest), got a list"},
		{`[["limit_layers", 3]]`, "step 1 (limit_layers): wants a list, got a graph"},
		{`[["reverse"]]`, "step 1 (reverse): wants a list, got a graph"},
		{`[["map", ["flatten"]]]`, "step 1 (map): wants a list, got a graph"},
		{`[["flatten"]]`, "step 1 (flatten): wants a list or a split, got a graph"},
		{`[["subcomponent_out", ["app"]], ["map", ["flatten"]]]`, "step 2 (map): wants a list, got a split (main, rest)"},
		{`[["popularity_contest"], ["popularity_contest"]]`, "step 2 (popularity_contest): wants a graph, got a list"},
		{`[["split_every", 1], ["map", ["pipe", [["popularity_contest"], ["split_every", 2]]]]]`, "step 2 (map) > pipe > step 2 (split_every): wants a graph, got a list"},
		{`[["split_every", 1], ["map", ["split_paths", ["lib"]]], ["limit_layers", 1]]`, "step 3 (limit_layers): can only merge graphs, got a split (rest)"},
		{`[["split_every", 1], ["map", ["popularity_contest"]], ["limit_layers", 2]]`, "step 3 (limit_layers): can only merge graphs, got a list"},
		{`[["split_every", 2], ["map", ["remove_paths", ["app", "lib", "tool"]]], ["map", ["popularity_contest"]], ["limit_layers", 1]]`,
			"step 4 (limit_layers): can only merge graphs, got a list"},
	}
	return g, tests
}

// TestPipelinePartition: on random graphs, every pipeline that runs puts
// each path not excluded in exactly one layer, and no layer is empty.
func TestPipelinePartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	ran := 0
	for i := range 2000 {
		nodes := dedup(randomDAG(rng, 10))
		g := graphOf(t, nodes)
		exclude := map[string]bool{}
		if rng.IntN(3) == 0 {
			exclude[g.paths[rng.IntN(g.Len())]] = true
		}
		src := randomPipeline(rng, g.paths)
		p, err := ParsePipeline(src, "pipeline.json")
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		layers, err := p.Layers(g, exclude)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pipeline.json: ") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("case %d: bad message %q", i, err)
			}
			continue
		}
		ran++
		checkPartition(t, g, exclude, layers, usesOp(p.steps, opRemovePaths), fmt.Sprintf("case %d: %s", i, src))
	}
	if ran < 1500 {
		t.Errorf("only %d of 2000 pipelines ran", ran)
	}
}

// checkPartition checks that the layers hold each path not excluded once,
// or (removed: the pipeline has remove_paths) at most once, and that none
// is empty.
func checkPartition(t *testing.T, g *Graph, exclude map[string]bool, layers [][]string, removed bool, what string) {
	t.Helper()
	seen := map[string]bool{}
	for _, l := range layers {
		if len(l) == 0 {
			t.Fatalf("%s: an empty layer in %q", what, layers)
		}
		for _, p := range l {
			if seen[p] || exclude[p] || !slices.Contains(g.paths, p) {
				t.Fatalf("%s: %s twice, excluded or not in the graph: %q", what, p, layers)
			}
			seen[p] = true
		}
	}
	if !removed && len(seen) != len(Exclude(g.paths, exclude)) {
		t.Fatalf("%s: layers %q leave out paths of %q", what, layers, g.paths)
	}
}
