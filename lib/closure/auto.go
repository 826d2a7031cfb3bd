package closure

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// DefaultAutoLimit is auto-layer.py's default layer limit.
const DefaultAutoLimit = 100

// AutoLayers splits the graph into at most limit layers as nixpkgs'
// auto-layer.py does (the default layering of buildLayeredImage since
// nixpkgs 25.05), then leaves out the excluded paths and the layers left
// empty.
//
// The paths are taken largest narSize first (equal sizes: later in the
// input first). Each becomes a primary path with a layer of its own, taking
// along the dependencies that nothing outside its closure uses; a
// dependency shared by several primary paths goes to a layer identified by
// that set of primary paths. This stops before the number of layers would
// exceed limit. A layer lists its paths by name, then hash; layers are
// ordered by closure size (the narSize of the layer's paths and all their
// dependencies).
//
// Where auto-layer.py has no defined answer, this one is deterministic:
// layers of equal closure size, which Python leaves in set-hash order, are
// ordered by their first path; a path listed twice in the graph counts
// once, at its first place (Python fails its own size check); a path with
// no "-" sorts as a hash with an empty name (Python stops with an error).
//
// It fails if a narSize is not a non-negative integer.
func (g *Graph) AutoLayers(limit int, exclude map[string]bool) ([][]string, error) {
	if g.sizeErr != "" {
		return nil, fmt.Errorf("%s: %s", g.name, g.sizeErr)
	}
	a := g.newAuto()
	a.run(limit)
	layers := a.layers()

	out := make([][]string, 0, len(layers))
	for _, l := range layers {
		var paths []string
		for _, v := range l {
			if p := g.paths[v]; !exclude[p] {
				paths = append(paths, p)
			}
		}
		if len(paths) > 0 {
			out = append(out, paths)
		}
	}
	return out, nil
}

// auto is the state of auto-layer.py's main loop. A layer is identified by
// the set of primary paths that share it (sorted path indices), interned to
// a small number; split maps each path to its layer.
type auto struct {
	g       *Graph
	userOff []int32 // referrers of i: user[userOff[i]:userOff[i+1]]
	user    []int32

	split    []int32
	ids      map[string]int32
	members  [][]int32 // by layer id: its primary paths
	refs     []int32   // by layer id: number of paths in it
	distinct int       // layer ids with refs > 0
}

func (g *Graph) newAuto() *auto {
	n := len(g.paths)
	a := &auto{g: g, split: make([]int32, n), ids: make(map[string]int32)}
	a.userOff = make([]int32, n+1)
	for _, c := range g.refs {
		a.userOff[c+1]++
	}
	for i := range n {
		a.userOff[i+1] += a.userOff[i]
	}
	a.user = make([]int32, len(g.refs))
	fill := slices.Clone(a.userOff[:n])
	for i := range n {
		for _, c := range g.references(int32(i)) {
			a.user[fill[c]] = int32(i)
			fill[c]++
		}
	}
	empty := a.intern(nil)
	a.refs[empty] = int32(n)
	if n > 0 {
		a.distinct = 1
	}
	return a
}

func (a *auto) users(i int32) []int32 { return a.user[a.userOff[i]:a.userOff[i+1]] }

// intern returns the layer id of a set of primary paths.
func (a *auto) intern(primaries []int32) int32 {
	key := make([]byte, 0, 4*len(primaries))
	for _, q := range primaries {
		key = append(key, byte(q), byte(q>>8), byte(q>>16), byte(q>>24))
	}
	if id, ok := a.ids[string(key)]; ok {
		return id
	}
	id := int32(len(a.members))
	a.ids[string(key)] = id
	a.members = append(a.members, slices.Clip(slices.Clone(primaries)))
	a.refs = append(a.refs, 0)
	return id
}

// move puts path v into layer id, keeping the count of non-empty layers.
func (a *auto) move(v, id int32) {
	old := a.split[v]
	if a.refs[old]--; a.refs[old] == 0 {
		a.distinct--
	}
	if a.refs[id]++; a.refs[id] == 1 {
		a.distinct++
	}
	a.split[v] = id
}

// run is auto-layer.py's main loop.
func (a *auto) run(limit int) {
	g := a.g
	n := len(g.paths)
	bySize := make([]int32, n)
	for i := range bySize {
		bySize[i] = int32(i)
	}
	slices.SortStableFunc(bySize, func(x, y int32) int { return cmp.Compare(g.narSize[x], g.narSize[y]) })

	depMark := make([]int32, n) // iteration that found the path a dependency
	userMark := make([]int32, n)
	var (
		deps, users, stack []int32
		memoAt             []int32 // by old layer id: iteration of memoTo's value
		memoTo             []int32 // by old layer id: its new layer id
		tmp                []int32
	)
	type change struct{ v, old int32 }
	var changes []change
	set := func(v, id int32) {
		changes = append(changes, change{v, a.split[v]})
		a.move(v, id)
	}
	// walk marks everything reachable from p (p excluded) along next.
	walk := func(p, it int32, mark []int32, next func(int32) []int32, out []int32) []int32 {
		stack = append(stack[:0], p)
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, c := range next(v) {
				if mark[c] != it {
					mark[c] = it
					out = append(out, c)
					stack = append(stack, c)
				}
			}
		}
		return out
	}

	for k := n - 1; k >= 0; k-- {
		p := bySize[k]
		it := int32(n - k)
		deps = walk(p, it, depMark, g.references, deps[:0])
		users = walk(p, it, userMark, a.users, users[:0])

		changes = changes[:0]
		set(p, a.intern([]int32{p}))
		for _, d := range deps {
			old := a.split[d]
			if int(old) >= len(memoAt) {
				memoAt = append(memoAt, make([]int32, len(a.members)-len(memoAt))...)
				memoTo = append(memoTo, make([]int32, len(a.members)-len(memoTo))...)
			}
			if memoAt[old] != it {
				// the layer's primary paths minus p's users; p joins them
				// unless one of them is a dependency of p.
				tmp = tmp[:0]
				shared := false
				for _, q := range a.members[old] {
					if userMark[q] != it {
						tmp = append(tmp, q)
						shared = shared || depMark[q] == it
					}
				}
				if !shared {
					i, _ := slices.BinarySearch(tmp, p)
					tmp = slices.Insert(tmp, i, p)
				}
				memoAt[old], memoTo[old] = it, a.intern(tmp)
			}
			set(d, memoTo[old])
		}
		if a.distinct > limit {
			for i := len(changes) - 1; i >= 0; i-- {
				a.move(changes[i].v, changes[i].old)
			}
			break
		}
	}
}

// layers groups the paths by layer, each sorted by pathKey, the layers by
// closure size, then by first path.
func (a *auto) layers() [][]int32 {
	g := a.g
	index := make(map[int32]int, a.distinct)
	var layers [][]int32
	for v, id := range a.split {
		k, ok := index[id]
		if !ok {
			k = len(layers)
			index[id] = k
			layers = append(layers, nil)
		}
		layers[k] = append(layers[k], int32(v))
	}
	for _, l := range layers {
		slices.SortFunc(l, func(x, y int32) int { return comparePathKey(g.paths[x], g.paths[y]) })
	}
	size := g.closureSizes(a.split, index, len(layers))
	order := make([]int, len(layers))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		if c := size[x].cmp(size[y]); c != 0 {
			return c
		}
		return comparePathKey(g.paths[layers[x][0]], g.paths[layers[y][0]])
	})
	out := make([][]int32, len(layers))
	for i, k := range order {
		out[i] = layers[k]
	}
	return out
}

// u128 is a sum of narSizes, which may overflow 64 bits.
type u128 struct{ hi, lo uint64 }

func (x *u128) add(n uint64) {
	var c uint64
	x.lo, c = bits.Add64(x.lo, n, 0)
	x.hi += c
}

func (x u128) cmp(y u128) int {
	if c := cmp.Compare(x.hi, y.hi); c != 0 {
		return c
	}
	return cmp.Compare(x.lo, y.lo)
}

// closureSizes returns, for each layer, the narSize of its paths and all
// their dependencies. It sends a mask of 64 layers at a time down the
// references in topological order.
func (g *Graph) closureSizes(split []int32, index map[int32]int, layers int) []u128 {
	n := len(g.paths)
	size := make([]u128, layers)
	layerOf := make([]int, n)
	for v, id := range split {
		layerOf[v] = index[id]
	}
	mask := make([]uint64, n)
	for first := 0; first < layers; first += 64 {
		for _, v := range g.topo {
			m := mask[v]
			if k := layerOf[v] - first; 0 <= k && k < 64 {
				m |= 1 << k
			}
			if m == 0 {
				continue
			}
			mask[v] = 0
			for _, c := range g.references(v) {
				mask[c] |= m
			}
			for ; m != 0; m &= m - 1 {
				size[first+bits.TrailingZeros64(m)].add(g.narSize[v])
			}
		}
	}
	return size
}

// comparePathKey orders paths as auto-layer.py's path_key does: by the
// name after the hash, then by the hash (the part before the first "-"),
// then, for paths those two do not tell apart, by the path itself.
func comparePathKey(a, b string) int {
	ha, na, _ := strings.Cut(a, "-")
	hb, nb, _ := strings.Cut(b, "-")
	if c := strings.Compare(na, nb); c != 0 {
		return c
	}
	if c := strings.Compare(ha, hb); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}
