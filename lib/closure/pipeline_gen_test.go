package closure

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
)

// ptype is what a pipeline step gets, as the generator tracks it: a graph
// ('g'), a list of elem ('l'), or a split ('s') whose parts may be there.
type ptype struct {
	kind  byte
	elem  *ptype
	keys  []string
	parts []*ptype
}

var graphType = &ptype{kind: 'g'}

// randomPipeline draws a pipeline over a graph of the given paths: mostly
// steps that take the value they get, so that pipelines run deep, and now
// and then one that does not, an over on a part the split may lack, or an
// end in a single graph, so that failures are drawn too.
func randomPipeline(rng *rand.Rand, paths []string) []byte {
	g := &pipelineGen{rng: rng, paths: paths}
	steps, t := g.steps(graphType, 1+rng.IntN(4), 0)
	// Most pipelines end in layers.
	switch {
	case rng.IntN(15) == 0:
	case t.kind == 'g' && rng.IntN(2) == 0:
		steps = append(steps, []any{"popularity_contest"})
	case t.kind == 'g':
		steps = append(steps, []any{"split_every", 1 + rng.IntN(3)})
	case rng.IntN(2) == 0:
		steps = append(steps, []any{"flatten"})
	}
	data, err := json.Marshal(steps)
	if err != nil {
		panic(err)
	}
	return data
}

type pipelineGen struct {
	rng   *rand.Rand
	paths []string
}

func (g *pipelineGen) steps(t *ptype, n, depth int) ([]any, *ptype) {
	var out []any
	for range n {
		var s []any
		s, t = g.step(t, depth)
		out = append(out, s)
	}
	return out, t
}

func (g *pipelineGen) path() string {
	if len(g.paths) == 0 || g.rng.IntN(8) == 0 {
		return "/nix/store/not-in-the-graph"
	}
	return g.paths[g.rng.IntN(len(g.paths))]
}

func (g *pipelineGen) pathList() []any {
	out := []any{}
	for range g.rng.IntN(4) {
		out = append(out, g.path())
	}
	return out
}

func (g *pipelineGen) step(t *ptype, depth int) ([]any, *ptype) {
	rng := g.rng
	if depth < 3 && rng.IntN(10) == 0 {
		steps, t := g.steps(t, 1+rng.IntN(3), depth+1)
		return []any{"pipe", steps}, t
	}
	kind := t.kind
	if rng.IntN(25) == 0 { // a step that may not take the value
		kind = "gls"[rng.IntN(3)]
	}
	list := func(elem *ptype) *ptype { return &ptype{kind: 'l', elem: elem} }
	switch kind {
	case 'g':
		switch rng.IntN(7) {
		case 0, 1:
			return []any{"popularity_contest"}, list(graphType)
		case 2:
			return []any{"split_every", 1 + rng.IntN(4)}, list(graphType)
		case 3:
			if rng.IntN(2) == 0 {
				return []any{"remove_paths", g.path()}, graphType
			}
			return []any{"remove_paths", g.pathList()}, graphType
		case 4:
			op := []string{"subcomponent_in", "subcomponent_out"}[rng.IntN(2)]
			return []any{op, g.pathList()}, &ptype{kind: 's', keys: []string{"main", "rest"}, parts: []*ptype{graphType, graphType}}
		default:
			var specs []any
			for range rng.IntN(4) {
				switch rng.IntN(4) {
				case 0:
					specs = append(specs, map[string]any{"children_of": g.path()})
				case 1:
					specs = append(specs, map[string]any{"children_of": g.pathList()})
				default:
					specs = append(specs, g.path())
				}
			}
			if specs == nil {
				specs = []any{}
			}
			return []any{"split_paths", specs}, &ptype{kind: 's', keys: []string{"main", "common", "rest"}, parts: []*ptype{graphType, graphType, graphType}}
		}
	case 'l':
		elem := t.elem
		if elem == nil {
			elem = graphType
		}
		switch rng.IntN(6) {
		case 0, 1:
			if elem.kind == 'g' || rng.IntN(10) == 0 {
				return []any{"limit_layers", 1 + rng.IntN(5)}, list(graphType)
			}
			return []any{"reverse"}, t
		case 2:
			return []any{"reverse"}, t
		case 3:
			return []any{"flatten"}, list(graphType)
		default:
			if depth >= 3 {
				return []any{"reverse"}, t
			}
			fn, out := g.step(elem, depth+1)
			return []any{"map", fn}, list(out)
		}
	default: // 's'
		if len(t.keys) == 0 || rng.IntN(4) == 0 || depth >= 3 {
			return []any{"flatten"}, list(graphType)
		}
		k := rng.IntN(len(t.keys))
		if rng.IntN(2) == 0 {
			k = len(t.keys) - 1 // rest: the part most often there
		}
		key := t.keys[k]
		if rng.IntN(20) == 0 {
			key = "nope"
		}
		fn, out := g.step(t.parts[k], depth+1)
		parts := slices.Clone(t.parts)
		parts[k] = out
		return []any{"over", key, fn}, &ptype{kind: 's', keys: t.keys, parts: parts}
	}
}
