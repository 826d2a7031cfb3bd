// Package closure owns closure graphs: parsing every shape Nix emits, and
// layering them into plans.
//
// A Graph is a set of store paths and their references, acyclic apart from
// self references. Two layerings are offered, each reproducing a nixpkgs
// script exactly:
//
//   - Popularity orders the paths as references-by-popularity
//     (closure-graph.py) does, most popular first; SplitPopular turns that
//     order into the classic buildLayeredImage plan.
//   - AutoLayers splits the paths as nixpkgs' auto-layer.py does.
//
// A plan is a list of layers, bottom layer first, each a list of store paths.
package closure

// Graph is a parsed closure graph. Paths are numbered in the order they
// first appear in the input; references are sets (duplicates and self
// references dropped).
type Graph struct {
	name    string   // input name for messages
	paths   []string // by index, input order
	refOff  []int32  // references of i: refs[refOff[i]:refOff[i+1]]
	refs    []int32
	narSize []uint64
	sizeErr string  // first narSize that is not a non-negative integer, if any
	topo    []int32 // indices, every path before the paths it references
}

// Len returns the number of store paths.
func (g *Graph) Len() int { return len(g.paths) }

// Paths returns the store paths in input order.
func (g *Graph) Paths() []string { return append([]string(nil), g.paths...) }

func (g *Graph) references(i int32) []int32 { return g.refs[g.refOff[i]:g.refOff[i+1]] }

// Exclude returns the paths not in exclude, in their order.
func Exclude(paths []string, exclude map[string]bool) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !exclude[p] {
			out = append(out, p)
		}
	}
	return out
}

// SplitPopular turns a popularity order into layers as buildLayeredImage
// does: the first maxLayers-1 paths one per layer, all the others in the
// last layer. maxLayers < 1 means no limit: one path per layer. There are
// never empty layers.
func SplitPopular(order []string, maxLayers int) [][]string {
	n := len(order)
	if maxLayers >= 1 {
		n = min(n, maxLayers)
	}
	layers := make([][]string, 0, n)
	for i, p := range order {
		if maxLayers >= 1 && i >= maxLayers-1 {
			layers = append(layers, order[i:])
			break
		}
		layers = append(layers, []string{p})
	}
	return layers
}
