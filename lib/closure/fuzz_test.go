package closure

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzParse: any input parses or fails with one line, never panics; a graph
// that parses gets a popularity order that is a permutation of its paths
// and an auto layering that covers every path once within the limit, and on
// small graphs both agree with the oracles of the tests.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`[{"path": "/s/a-x", "references": ["/s/a-x", "/s/b-y"], "narSize": 5}, {"path": "/s/b-y", "references": [], "narSize": 9}]`), "", uint8(3))
	f.Add([]byte(`{"/s/a": {"references": ["/s/b"], "narSize": 1}, "/s/b": {"references": [], "narSize": 1}}`), "", uint8(1))
	f.Add([]byte(`{"name": "x", "closure": [{"path": "/s/a", "references": []}]}`), "closure", uint8(2))
	f.Add([]byte(`[{"path": "/s/a", "references": ["/s/b"]}, {"path": "/s/b", "references": ["/s/a"]}]`), "", uint8(0))
	f.Add([]byte(`[{"path": "/s/\u00e9", "references": [], "narSize": 1.5}]`), "", uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, key string, limit uint8) {
		g, err := Parse(bytes.NewReader(data), "fuzz.json", key)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "fuzz.json: ") || strings.ContainsAny(msg, "\n") {
				t.Fatalf("bad message %q", msg)
			}
			if !json.Valid(data) && !strings.HasPrefix(msg, "fuzz.json: malformed JSON at byte ") {
				t.Fatalf("malformed input, but %q", msg)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("malformed input parsed")
		}
		order := g.Popularity()
		if !slices.Equal(slices.Sorted(slices.Values(order)), slices.Sorted(slices.Values(g.paths))) {
			t.Fatalf("popularity %v is not a permutation of %v", order, g.paths)
		}
		lim := 1 + int(limit%16)
		layers, err := g.AutoLayers(lim, nil)
		if err != nil {
			if g.sizeErr == "" {
				t.Fatal(err)
			}
			return
		}
		if len(layers) > lim {
			t.Fatalf("%d layers over the limit %d", len(layers), lim)
		}
		if !slices.Equal(slices.Sorted(slices.Values(slices.Concat(layers...))), slices.Sorted(slices.Values(g.paths))) {
			t.Fatalf("layers %v do not cover %v once", layers, g.paths)
		}
		if g.Len() <= 10 {
			nodes := readNodes(g)
			if _, want := contestOracle(nodes); !slices.Equal(order, want) {
				t.Fatalf("popularity %v, oracle %v", order, want)
			}
			if want, _ := autoOracle(nodes, nil, lim); !slices.EqualFunc(layers, want, slices.Equal) {
				t.Fatalf("auto %v, oracle %v", layers, want)
			}
		}
	})
}

// readNodes returns the graph's entries as the oracles take them.
func readNodes(g *Graph) []tnode {
	var nodes []tnode
	for i, p := range g.paths {
		n := tnode{Path: p, NarSize: g.narSize[i], References: []string{}}
		for _, r := range g.references(int32(i)) {
			n.References = append(n.References, g.paths[r])
		}
		nodes = append(nodes, n)
	}
	return nodes
}

// FuzzReader: the reader accepts exactly what encoding/json accepts, and
// decodes strings as it does.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{}`, `[1, -0.5e+3, "x", true, false, null, {"a": [{}]}]`, `"\u00e9\ud83d\ude00\ud800"`, "\"\xff\"",
		`01`, `1.`, `-`, `[1,]`, `{"a" 1}`, `"\x"`, `"\u12g4"`, "\"\x01\"", ` [ ] `, `nul`, `[[[[`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := reader{data: data}
		err := r.skip()
		if err == nil {
			err = r.end()
		}
		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("reader: %v, json.Valid: %v", err, valid)
		}
		r = reader{data: data}
		if s, err := r.str(); err == nil && r.end() == nil {
			var want string
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			if got := s.String(); got != want {
				t.Fatalf("decoded %q, want %q", got, want)
			}
		}
	})
}

// FuzzPipeline: any input parses as a pipeline or fails with one line
// naming the input, never panics; a pipeline that parses runs on a small
// graph to layers that hold each path at most once (exactly once unless it
// removes paths), none empty, or fails with one line naming the input.
func FuzzPipeline(f *testing.F) {
	for _, s := range []string{
		`[["popularity_contest"], ["limit_layers", 99]]`,
		`[["split_paths", ["B"]], ["over", "main", ["pipe", [["subcomponent_in", ["B"]], ["over", "rest", ["popularity_contest"]]]]], ["flatten"], ["map", ["remove_paths", "Root3"]], ["limit_layers", 5]]`,
		`[["subcomponent_out", ["B", "Root3"]], ["over", "rest", ["split_every", 2]], ["flatten"], ["reverse"]]`,
		`[["split_paths", [{"children_of": ["A", "nope"]}, "C"]], ["over", "common", ["popularity_contest"]]]`,
		`[["split_every", 3], ["map", ["split_every", 1]], ["limit_layers", 2]]`,
		`[["split_every", 1e3]]`, `[["limit_layers", 0]]`, `[["over", "rest"]]`, `[[]]`, `{}`, `[`, `[["x"]]`,
		`[["pipe", [["pipe", [["pipe", []]]]]], ["split_every", 99999999999999999999999]]`,
	} {
		f.Add([]byte(s))
	}
	nodes := edges("Root1 -> A", "A -> B C", "B -> D E G", "C ->", "D ->", "E -> F", "F ->", "G ->", "Root2 -> B", "Root3 -> C")
	g := graphOf(f, sized(nodes, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		oneLine := func(err error) {
			if msg := err.Error(); !strings.HasPrefix(msg, "fuzz.json: ") || strings.ContainsAny(msg, "\n") {
				t.Fatalf("bad message %q", msg)
			}
		}
		p, err := ParsePipeline(data, "fuzz.json")
		if err != nil {
			oneLine(err)
			if !json.Valid(data) && !strings.HasPrefix(err.Error(), "fuzz.json: malformed JSON at byte ") {
				t.Fatalf("malformed input, but %q", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatal("malformed input parsed")
		}
		layers, err := p.Layers(g, nil)
		if err != nil {
			oneLine(err)
			return
		}
		checkPartition(t, g, nil, layers, usesOp(p.steps, opRemovePaths), string(data))
		again, err := p.Layers(g, nil)
		if err != nil || !slices.EqualFunc(layers, again, slices.Equal) {
			t.Fatalf("a second run gives %q, %v; the first %q", again, err, layers)
		}
	})
}

// usesOp reports whether op is among the steps, at any depth.
func usesOp(steps []*step, op opKind) bool {
	for _, s := range steps {
		if s.op == op || s.fn != nil && usesOp([]*step{s.fn}, op) || usesOp(s.steps, op) {
			return true
		}
	}
	return false
}
