package closure

import (
	"math/big"
	"math/bits"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Popularity orders the store paths as nixpkgs' references-by-popularity
// (closure-graph.py) does: by popularity, most popular first, equal
// popularities by package name (the path without its hash, then the hash).
//
// closure-graph.py expands the graph into a tree with one copy of a path
// per way of reaching it from a root (a path nobody references) and scores
// each path by merging counters up the tree. That score works out to
//
//	score(q) = Σ paths(x) over every x that is q or can reach q,
//
// where paths(x) is the number of distinct reference chains from a root to
// x. Scores grow exponentially with the depth of the graph, and ties decide
// the order, so they are computed exactly: paths with math/big, the sums in
// fixed-width integers wide enough for the largest.
func (g *Graph) Popularity() []string {
	order := g.popularityOrder()
	out := make([]string, len(order))
	for i, v := range order {
		out[i] = g.paths[v]
	}
	return out
}

// popularityOrder is Popularity as path indices.
func (g *Graph) popularityOrder() []int32 {
	n := len(g.paths)
	if n == 0 {
		return []int32{}
	}
	p := g.newPopular()
	score := p.scores()
	L := p.limbs
	keys := make([]string, n)
	for i, path := range g.paths {
		keys[i] = packageName(path)
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i)
	}
	// Sort in topological positions (where the scores are), then map back.
	slices.SortFunc(order, func(a, b int32) int {
		pa, pb := p.pos[a], p.pos[b]
		sa, sb := score[int(pa)*L:int(pa)*L+L], score[int(pb)*L:int(pb)*L+L]
		for k := L - 1; k >= 0; k-- {
			if sa[k] != sb[k] {
				if sa[k] > sb[k] {
					return -1
				}
				return 1
			}
		}
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return strings.Compare(g.paths[a], g.paths[b])
	})
	return order
}

// packageName is closure-graph.py's sort key: the path split at "-", its
// first part (the store directory and hash) moved to the end.
func packageName(path string) string {
	first, rest, ok := strings.Cut(path, "-")
	if !ok {
		return path
	}
	return rest + "-" + first
}

// popular holds the graph in topological positions: position 0 is first in
// g.topo, and every reference goes to a higher position.
type popular struct {
	n     int
	pos   []int32 // path index -> position
	off   []int32 // children of position v: child[off[v]:off[v+1]]
	child []int32
	limbs int      // width of the fixed-size integers, in 64-bit words
	paths []uint64 // paths(x) by position, limbs words each, little-endian
}

func (g *Graph) newPopular() *popular {
	n := len(g.paths)
	p := &popular{n: n, pos: make([]int32, n), off: make([]int32, n+1), child: make([]int32, 0, len(g.refs))}
	for v, i := range g.topo {
		p.pos[i] = int32(v)
	}
	for v, i := range g.topo {
		for _, c := range g.references(i) {
			p.child = append(p.child, p.pos[c])
		}
		p.off[v+1] = int32(len(p.child))
	}

	// paths(x): 1 for a root, else the sum over its referrers.
	count := make([]big.Int, n)
	maxBits := 1
	for v := range n {
		if count[v].Sign() == 0 {
			count[v].SetInt64(1)
		}
		maxBits = max(maxBits, count[v].BitLen())
		for _, c := range p.child[p.off[v]:p.off[v+1]] {
			count[c].Add(&count[c], &count[v])
		}
	}
	// Every score is at most n·max(paths).
	p.limbs = (maxBits + bits.Len(uint(n)) + 63) / 64
	L := p.limbs
	p.paths = make([]uint64, n*L)
	for v := range n {
		putWords(p.paths[v*L:v*L+L], &count[v])
		count[v] = big.Int{}
	}
	return p
}

// A pass propagates the sources of one block: a mask of maskWords words,
// one bit per source.
const (
	maskWords = 4
	block     = 64 * maskWords
)

// scores returns score(x) by position, limbs words each.
//
// The sources are taken in blocks of 256 consecutive positions. A pass sends
// a 256-bit mask down the references from the block's sources (no position
// before the block can be reached from it), so each position learns which
// of the 256 it is reachable from, and adds their paths(x), looked up a
// byte of the mask at a time in tables of subset sums. Blocks are
// independent: workers take them in turn, each summing into its own array.
func (p *popular) scores() []uint64 {
	n, L := p.n, p.limbs
	blocks := (n + block - 1) / block
	workers := min(runtime.GOMAXPROCS(0), blocks)
	// Each worker holds n·(L+maskWords) words; keep them under 1 GiB
	// together.
	if perWorker := n * (L + maskWords) * 8; perWorker > 0 {
		workers = max(1, min(workers, (1<<30)/perWorker))
	}
	sums := make([][]uint64, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			acc := make([]uint64, n*L)
			mask := make([]uint64, n*maskWords)
			table := make([]uint64, maskWords*8*256*L)
			for {
				b := int(next.Add(1) - 1)
				if b >= blocks {
					break
				}
				p.pass(b*block, acc, mask, table)
			}
			sums[w] = acc
		})
	}
	wg.Wait()
	total := sums[0]
	for _, acc := range sums[1:] {
		for v := range n {
			addTo(total[v*L:v*L+L], acc[v*L:v*L+L])
		}
	}
	return total
}

// pass adds the contributions of the sources first..first+block-1 to acc.
// mask is all zero on entry and on return.
func (p *popular) pass(first int, acc, mask, table []uint64) {
	n, L := p.n, p.limbs
	last := min(first+block, n)
	// table[j][m] = Σ paths(first+8j+i) over the bits i of the byte m.
	for j := 0; j < 8*maskWords && first+8*j < last; j++ {
		t := table[j*256*L : (j+1)*256*L]
		clear(t[:L])
		for m := 1; m < 256; m++ {
			low := bits.TrailingZeros(uint(m))
			dst := t[m*L : m*L+L]
			copy(dst, t[(m&(m-1))*L:(m&(m-1))*L+L])
			if src := first + 8*j + low; src < last {
				addTo(dst, p.paths[src*L:src*L+L])
			}
		}
	}
	for v := first; v < n; v++ {
		mv := (*[maskWords]uint64)(mask[v*maskWords:])
		m := *mv
		if v < last {
			m[(v-first)/64] |= 1 << ((v - first) % 64)
		} else if m == [maskWords]uint64{} {
			continue
		}
		*mv = [maskWords]uint64{}
		for _, c := range p.child[p.off[v]:p.off[v+1]] {
			mc := (*[maskWords]uint64)(mask[int(c)*maskWords:])
			for k := range maskWords {
				mc[k] |= m[k]
			}
		}
		if L == 1 { // the common case, summed in a register
			var sum uint64
			for k, w := range m {
				for j := k * 8; w != 0; j, w = j+1, w>>8 {
					sum += table[j*256+int(w&0xff)]
				}
			}
			acc[v] += sum
			continue
		}
		dst := acc[v*L : v*L+L]
		for k, w := range m {
			for j := k * 8; w != 0; j, w = j+1, w>>8 {
				if b := int(w & 0xff); b != 0 {
					addTo(dst, table[(j*256+b)*L:(j*256+b)*L+L])
				}
			}
		}
	}
}

// addTo adds x to dst, both little-endian words of the same width; the
// width is chosen so the carry out is always zero.
func addTo(dst, x []uint64) {
	if len(dst) == 1 {
		dst[0] += x[0]
		return
	}
	var carry uint64
	for k := range dst {
		dst[k], carry = bits.Add64(dst[k], x[k], carry)
	}
}

// putWords stores x, which fits, in little-endian 64-bit words.
func putWords(dst []uint64, x *big.Int) {
	for k, w := range x.Bits() {
		if bits.UintSize == 64 {
			dst[k] = uint64(w)
		} else {
			dst[k/2] |= uint64(w) << (32 * (k % 2))
		}
	}
}
