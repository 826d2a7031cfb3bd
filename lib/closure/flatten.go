package closure

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Layers runs the pipeline on the graph as nixpkgs' flattenReferencesGraph
// does and returns the layers, bottom layer first, empty layers dropped.
//
// The excluded paths are taken out of the graph first, with the references
// to them (flattenReferencesGraph's exclude_paths; streamLayeredImage
// excludes its config and customisation layer this way, so the paths they
// reference become roots). The graph's paths are then ordered by narSize,
// smallest first, equal sizes in input order: that is the order of the
// paths in every layer that is not a popularity_contest single, and the
// order split_every cuts. Popularity_contest ranks each graph it is given
// on its own edges, its roots being the paths nothing in it references.
//
// Graphs keep the edges between their own paths only: the parts of a
// split lose the edges between them (split_paths also the edges into the
// paths it splits off), and a graph that limit_layers merges has the edges
// of its parts, none between them, as igraph's induced subgraphs and
// disjoint unions have.
//
// It fails, naming the step, when a step gets a value it does not take (a
// graph where a list is wanted, ...), when over names a part the split
// does not have, when the result is a single graph, not layers (nixpkgs
// fails in each case too), and when a narSize is not a non-negative
// integer.
func (p *Pipeline) Layers(g *Graph, exclude map[string]bool) ([][]string, error) {
	if g.sizeErr != "" {
		return nil, fmt.Errorf("%s: %s", g.name, g.sizeErr)
	}
	r := &runner{p: p, g: g, index: make(map[string]int32, len(g.paths)), stamp: make([]uint32, len(g.paths)), at: make([]int32, len(g.paths))}
	for i, path := range g.paths {
		r.index[path] = int32(i)
	}
	v, err := r.steps(p.steps, r.initial(exclude))
	if err != nil {
		return nil, err
	}
	if _, ok := v.(*view); ok {
		return nil, fmt.Errorf("%s: the pipeline gives a single graph, not layers: end it with a step that makes a list, such as popularity_contest or split_every", p.name)
	}
	var views []*view
	if err := flattenInto(&views, v); err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	layers := make([][]string, 0, len(views))
	for _, w := range views {
		if len(w.v) == 0 {
			continue
		}
		l := make([]string, len(w.v))
		for i, x := range w.v {
			l[i] = g.paths[x]
		}
		layers = append(layers, l)
	}
	return layers, nil
}

// A pipeline value is a *view (a graph), a []any (a list of values), a
// graphList or a *split.

// view is a graph: its paths (indices into the Graph) in order, and its own
// edges, between its paths, by position. Views are never changed once
// made, so they may share slices.
type view struct {
	v   []int32 // path indices
	off []int32 // successors of position i: adj[off[i]:off[i+1]]
	adj []int32 // positions
}

func (w *view) succ(i int32) []int32 { return w.adj[w.off[i]:w.off[i+1]] }

func (gl graphList) list() []any {
	out := make([]any, len(gl))
	for i, w := range gl {
		out[i] = w
	}
	return out
}

// split is the result of split_paths and subcomponent_in/out: named parts
// in order.
type split struct {
	keys []string
	vals []any
}

// graphList is the list of graphs split_every gives. It is a list like any
// other, but one that limit_layers can merge into a graph as the graphs in
// it: split_every gives a Python list, and igraph adds a list of graphs
// (or an empty list) to a graph, where other lists (Python iterators) are
// an error.
type graphList []*view

var emptyView = &view{off: []int32{0}}

// runner runs one pipeline on one graph.
type runner struct {
	p     *Pipeline
	g     *Graph
	index map[string]int32 // path -> index

	// stamp[i] == gen marks path i as in the view being worked on, at[i]
	// being its position.
	stamp []uint32
	gen   uint32
	at    []int32
}

// initial is the graph without the excluded paths, ordered by narSize.
func (r *runner) initial(exclude map[string]bool) *view {
	g := r.g
	var keep []int32
	for i, p := range g.paths {
		if !exclude[p] {
			keep = append(keep, int32(i))
		}
	}
	slices.SortStableFunc(keep, func(a, b int32) int { return cmp.Compare(g.narSize[a], g.narSize[b]) })
	w := &view{v: keep, off: make([]int32, 1, len(keep)+1)}
	r.enter(w)
	for _, i := range keep {
		for _, c := range g.references(i) {
			if r.in(c) {
				w.adj = append(w.adj, r.at[c])
			}
		}
		w.off = append(w.off, int32(len(w.adj)))
	}
	return w
}

// enter stamps the paths of w with their positions.
func (r *runner) enter(w *view) {
	r.gen++
	if r.gen == 0 {
		clear(r.stamp)
		r.gen = 1
	}
	for i, x := range w.v {
		r.stamp[x] = r.gen
		r.at[x] = int32(i)
	}
}

func (r *runner) in(x int32) bool { return r.stamp[x] == r.gen }

// find returns the position of path name in the view last entered.
func (r *runner) find(name string) (int32, bool) {
	x, ok := r.index[name]
	if !ok || !r.in(x) {
		return 0, false
	}
	return r.at[x], true
}

func (r *runner) steps(steps []*step, v any) (any, error) {
	for _, s := range steps {
		var err error
		if v, err = r.step(s, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (r *runner) step(s *step, v any) (any, error) {
	switch s.op {
	case opPipe:
		return r.steps(s.steps, v)
	case opFlatten:
		if _, ok := v.(*view); ok {
			return nil, r.wrongValue(s, v, "a list or a split")
		}
		var views []*view
		if err := flattenInto(&views, v); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", r.p.name, s.where, err)
		}
		out := make([]any, len(views))
		for i, w := range views {
			out[i] = w
		}
		return out, nil
	case opOver:
		sp, ok := v.(*split)
		if !ok {
			return nil, r.wrongValue(s, v, "a split (main, common, rest)")
		}
		k := slices.Index(sp.keys, s.key)
		if k < 0 {
			return nil, fmt.Errorf("%s: %s: the split has no part %q (it has %s)", r.p.name, s.where, s.key, keyList(sp.keys))
		}
		x, err := r.step(s.fn, sp.vals[k])
		if err != nil {
			return nil, err
		}
		out := &split{keys: sp.keys, vals: slices.Clone(sp.vals)}
		out.vals[k] = x
		return out, nil
	case opMap, opReverse, opLimitLayers:
		list, ok := v.([]any)
		if gl, isGL := v.(graphList); isGL {
			list, ok = gl.list(), true
		}
		if !ok {
			return nil, r.wrongValue(s, v, "a list")
		}
		switch s.op {
		case opMap:
			out := make([]any, len(list))
			for i, x := range list {
				var err error
				if out[i], err = r.step(s.fn, x); err != nil {
					return nil, err
				}
			}
			return out, nil
		case opReverse:
			out := slices.Clone(list)
			slices.Reverse(out)
			return out, nil
		default:
			return r.limitLayers(s, list)
		}
	}
	// With nothing to look up, flattenReferencesGraph never touches the
	// value: remove_paths [] gives it as it is, split_paths [] as the rest
	// part, whatever it is; popularity_contest ranks an empty list (read
	// as an empty exportReferencesGraph list) as nothing.
	switch {
	case s.op == opRemovePaths && len(s.paths) == 0:
		return v, nil
	case s.op == opSplitPaths && len(s.specs) == 0:
		return &split{keys: []string{"rest"}, vals: []any{v}}, nil
	case s.op == opPopularityContest && isEmptyList(v):
		return []any{}, nil
	}
	w, ok := v.(*view)
	if !ok {
		return nil, r.wrongValue(s, v, "a graph")
	}
	switch s.op {
	case opPopularityContest:
		return r.popularity(w), nil
	case opSplitEvery:
		out := graphList{}
		for k := 0; k < len(w.v); k += s.n {
			out = append(out, w.slice(k, min(k+s.n, len(w.v))))
		}
		return out, nil
	case opRemovePaths:
		r.enter(w)
		drop := make([]bool, len(w.v))
		found := false
		for _, p := range s.paths {
			if i, ok := r.find(p); ok {
				drop[i], found = true, true
			}
		}
		if !found {
			return w, nil
		}
		return w.sub(not(drop), nil), nil
	case opSubcomponentIn, opSubcomponentOut:
		r.enter(w)
		var starts []int32
		for _, p := range s.paths {
			if i, ok := r.find(p); ok {
				starts = append(starts, i)
			}
		}
		next := w.succ
		if s.op == opSubcomponentIn {
			next = w.predecessors()
		}
		main := w.reach(starts, next, nil)
		return &split{keys: []string{"main", "rest"}, vals: []any{w.sub(main, nil), w.sub(not(main), nil)}}, nil
	case opSplitPaths:
		return r.splitPaths(s, w), nil
	}
	panic("closure: unknown pipeline operation")
}

func isEmptyList(v any) bool {
	switch v := v.(type) {
	case []any:
		return len(v) == 0
	case graphList:
		return len(v) == 0
	}
	return false
}

func (r *runner) wrongValue(s *step, v any, want string) error {
	return fmt.Errorf("%s: %s: wants %s, got %s", r.p.name, s.where, want, valueKind(v))
}

func valueKind(v any) string {
	switch v := v.(type) {
	case *view:
		return "a graph"
	case []any, graphList:
		return "a list"
	case *split:
		return "a split (" + keyList(v.keys) + ")"
	}
	return fmt.Sprintf("%T", v)
}

func keyList(keys []string) string {
	if len(keys) == 0 {
		return "no parts"
	}
	return strings.Join(keys, ", ")
}

// flattenInto appends the graphs in v, lists and splits opened, in order.
func flattenInto(out *[]*view, v any) error {
	switch v := v.(type) {
	case *view:
		*out = append(*out, v)
	case []any:
		for _, x := range v {
			if err := flattenInto(out, x); err != nil {
				return err
			}
		}
	case graphList:
		*out = append(*out, v...)
	case *split:
		for _, x := range v.vals {
			if err := flattenInto(out, x); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("cannot flatten %T", v)
	}
	return nil
}

// limitLayers keeps the first n-1 elements and merges the others, which
// must be graphs or split_every's lists of graphs, into one (an empty one
// when there are none).
func (r *runner) limitLayers(s *step, list []any) (any, error) {
	keep := min(s.n-1, len(list))
	out := make([]any, 0, keep+1)
	out = append(out, list[:keep]...)
	rest := make([]*view, 0, len(list)-keep)
	for _, x := range list[keep:] {
		switch x := x.(type) {
		case *view:
			rest = append(rest, x)
		case graphList:
			rest = append(rest, x...)
		default:
			return nil, fmt.Errorf("%s: %s: can only merge graphs, got %s", r.p.name, s.where, valueKind(x))
		}
	}
	return append(out, merge(rest)), nil
}

// merge is the disjoint union of graphs: their paths in turn, each with
// its own edges.
func merge(ws []*view) *view {
	switch len(ws) {
	case 0:
		return emptyView
	case 1:
		return ws[0]
	}
	n, e := 0, 0
	for _, w := range ws {
		n += len(w.v)
		e += len(w.adj)
	}
	out := &view{v: make([]int32, 0, n), off: make([]int32, 1, n+1), adj: make([]int32, 0, e)}
	for _, w := range ws {
		base := int32(len(out.v))
		out.v = append(out.v, w.v...)
		for i := range w.v {
			for _, c := range w.succ(int32(i)) {
				out.adj = append(out.adj, base+c)
			}
			out.off = append(out.off, int32(len(out.adj)))
		}
	}
	return out
}

// sub is the graph of the positions in keep, in order, with the edges
// between them, less the edges into the positions in cut (if not nil).
func (w *view) sub(keep, cut []bool) *view {
	pos := make([]int32, len(w.v))
	out := &view{off: make([]int32, 1, len(w.v)+1)}
	for i, x := range w.v {
		if keep[i] {
			pos[i] = int32(len(out.v))
			out.v = append(out.v, x)
		}
	}
	for i := range w.v {
		if !keep[i] {
			continue
		}
		for _, c := range w.succ(int32(i)) {
			if keep[c] && (cut == nil || !cut[c]) {
				out.adj = append(out.adj, pos[c])
			}
		}
		out.off = append(out.off, int32(len(out.adj)))
	}
	return out
}

// slice is the graph of the positions from..to-1.
func (w *view) slice(from, to int) *view {
	out := &view{v: w.v[from:to], off: make([]int32, 1, to-from+1)}
	for i := from; i < to; i++ {
		for _, c := range w.succ(int32(i)) {
			if int(c) >= from && int(c) < to {
				out.adj = append(out.adj, c-int32(from))
			}
		}
		out.off = append(out.off, int32(len(out.adj)))
	}
	return out
}

// predecessors returns the function giving the referrers of a position.
func (w *view) predecessors() func(int32) []int32 {
	n := len(w.v)
	off := make([]int32, n+1)
	for _, c := range w.adj {
		off[c+1]++
	}
	for i := range n {
		off[i+1] += off[i]
	}
	pred := make([]int32, len(w.adj))
	fill := slices.Clone(off[:n])
	for i := range n {
		for _, c := range w.succ(int32(i)) {
			pred[fill[c]] = int32(i)
			fill[c]++
		}
	}
	return func(i int32) []int32 { return pred[off[i]:off[i+1]] }
}

// reach marks the positions reachable from starts (included) along next,
// not entering the positions in cut (if not nil).
func (w *view) reach(starts []int32, next func(int32) []int32, cut []bool) []bool {
	seen := make([]bool, len(w.v))
	stack := make([]int32, 0, len(starts))
	for _, i := range starts {
		if !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range next(i) {
			if !seen[c] && (cut == nil || !cut[c]) {
				seen[c] = true
				stack = append(stack, c)
			}
		}
	}
	return seen
}

func not(b []bool) []bool {
	out := make([]bool, len(b))
	for i, x := range b {
		out[i] = !x
	}
	return out
}

// popularity is popularity_contest: one single-path graph per path of w,
// in Popularity's order over w's own edges.
func (r *runner) popularity(w *view) []any {
	g := &Graph{paths: make([]string, len(w.v)), refOff: w.off, refs: w.adj}
	for i, x := range w.v {
		g.paths[i] = r.g.paths[x]
	}
	if err := g.sortTopo(); err != nil {
		panic("closure: a cycle in a subgraph of an acyclic graph: " + err.Error())
	}
	order := g.popularityOrder()
	out := make([]any, len(order))
	single := []int32{0, 0}
	for i, k := range order {
		out[i] = &view{v: w.v[k : k+1], off: single}
	}
	return out
}

// splitPaths is split_paths. The split paths are the paths named and the
// paths that the paths in children_of reference. Below a root joining the
// graph's roots (or its only root), the edges into the split paths are
// cut; main is the split paths and what only they reach, common what both
// they and the root still reach, rest what only the root reaches; each
// keeps its edges less those cut. When no path is split, all is rest; when
// the graph's only root is split, all is main.
func (r *runner) splitPaths(s *step, w *view) *split {
	r.enter(w)
	cut := make([]bool, len(w.v))
	var starts []int32
	mark := func(i int32) {
		if !cut[i] {
			cut[i] = true
			starts = append(starts, i)
		}
	}
	for _, spec := range s.specs {
		if !spec.children {
			if i, ok := r.find(spec.path); ok {
				mark(i)
			}
			continue
		}
		for _, p := range spec.childrenOf {
			if i, ok := r.find(p); ok {
				for _, c := range w.succ(i) {
					mark(c)
				}
			}
		}
	}
	if len(starts) == 0 {
		return &split{keys: []string{"rest"}, vals: []any{w}}
	}
	referenced := make([]bool, len(w.v))
	for _, c := range w.adj {
		referenced[c] = true
	}
	var roots []int32
	for i := range w.v {
		if !referenced[i] {
			roots = append(roots, int32(i))
		}
	}
	if len(roots) == 1 && cut[roots[0]] {
		return &split{keys: []string{"main"}, vals: []any{w}}
	}
	var top []int32
	for _, i := range roots {
		if !cut[i] {
			top = append(top, i)
		}
	}
	off := w.reach(starts, w.succ, nil)
	rest := w.reach(top, w.succ, cut)
	main := make([]bool, len(w.v))
	common := make([]bool, len(w.v))
	for i := range w.v {
		common[i] = off[i] && rest[i]
		main[i] = off[i] && !rest[i]
		rest[i] = rest[i] && !off[i]
	}
	out := &split{}
	for k, part := range [][]bool{main, common, rest} {
		if slices.Contains(part, true) {
			out.keys = append(out.keys, []string{"main", "common", "rest"}[k])
			out.vals = append(out.vals, w.sub(part, cut))
		}
	}
	return out
}
