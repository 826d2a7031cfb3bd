// Package synth generates closure graphs shaped like real Nix closures, for
// benchmarks and tests: one root referencing a handful of top-level
// applications, layered dependencies 10 to 30 deep, about 1% hub libraries
// (a libc, a compiler runtime, zlib, ...) that most paths reference, self
// references, heavy-tailed NAR sizes, and store-path-like names.
//
// The output is the exportReferencesGraph list shape: a JSON array of
// {"path", "narHash", "narSize", "references"} objects sorted by path,
// references sorted, as Nix writes them. Every path is in the closure of
// the root. The same n and seed give the same bytes.
package synth

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
)

// nixBase32 is the alphabet of store path hashes.
const nixBase32 = "0123456789abcdfghijklmnpqrsvwxyz"

var syllables = []string{
	"lib", "gtk", "py", "perl", "x", "core", "util", "ssl", "z", "png",
	"font", "glib", "dbus", "sys", "net", "tools", "data", "bin", "ffi", "xml",
	"curl", "gnu", "tls", "ncurses", "readline", "attr", "acl", "bz", "cairo", "pango",
}

// Generate returns a graph of n store paths (none for n < 1).
func Generate(n int, seed int64) []byte {
	if n < 1 {
		return []byte("[]\n")
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	refs := edges(n, rng)

	names := make([]string, n)
	seen := make(map[string]bool, n)
	for i := range names {
		for {
			p := "/nix/store/" + hash(rng, 32) + "-" + pkgName(rng, i)
			if !seen[p] {
				seen[p] = true
				names[i] = p
				break
			}
		}
	}
	sizes := make([]uint64, n)
	for i := range sizes {
		sizes[i] = narSize(rng)
	}
	hashes := make([]string, n)
	for i := range hashes {
		hashes[i] = hash(rng, 52)
	}

	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareStrings(names[a], names[b]) })

	buf := make([]byte, 0, n*600)
	buf = append(buf, '[')
	sorted := make([]string, 0, 64)
	for k, i := range order {
		if k > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n  {\"narHash\": \"sha256:"...)
		buf = append(buf, hashes[i]...)
		buf = append(buf, "\", \"narSize\": "...)
		buf = strconv.AppendUint(buf, sizes[i], 10)
		buf = append(buf, ", \"path\": \""...)
		buf = append(buf, names[i]...)
		buf = append(buf, "\", \"references\": ["...)
		sorted = sorted[:0]
		for _, r := range refs[i] {
			sorted = append(sorted, names[r])
		}
		slices.Sort(sorted)
		for j, r := range sorted {
			if j > 0 {
				buf = append(buf, ", "...)
			}
			buf = append(buf, '"')
			buf = append(buf, r...)
			buf = append(buf, '"')
		}
		buf = append(buf, "]}"...)
	}
	buf = append(buf, "\n]\n"...)
	return buf
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// edges builds the references of node i; every edge goes from a lower index
// to a higher one (or to the node itself), so the graph is acyclic. Node 0 is
// the root; the last nodes are the hubs, the very last the most used (libc).
func edges(n int, rng *rand.Rand) [][]int {
	refs := make([][]int, n)
	hubs := max(1, n/100)
	if hubs >= n {
		hubs = n - 1
	}
	body := n - hubs // nodes 0..body-1: root and ordinary paths
	depth := 10 + rng.IntN(21)
	// level boundaries over the body: level 0 is the root alone, level 1 the
	// top-level applications, then levels growing then shrinking in size.
	start := make([]int, 0, depth+1)
	start = append(start, 0)
	if body > 1 {
		start = append(start, 1)
		apps := min(body-1, max(1, int(math.Sqrt(float64(body)))/2))
		rest := body - 1 - apps
		weights := make([]float64, depth-2)
		total := 0.0
		for l := range weights {
			x := (float64(l) + 0.5) / float64(len(weights))
			weights[l] = math.Sin(math.Pi*x) + 0.2
			total += weights[l]
		}
		at := 1 + apps
		acc := 0.0
		for _, w := range weights {
			start = append(start, at)
			acc += w
			at = 1 + apps + int(float64(rest)*acc/total)
		}
	}
	start = append(start, body)
	levelOf := make([]int, body)
	for l := 0; l+1 < len(start); l++ {
		for i := start[l]; i < start[l+1]; i++ {
			levelOf[i] = l
		}
	}
	add := func(from, to int) {
		if !slices.Contains(refs[from], to) {
			refs[from] = append(refs[from], to)
		}
	}
	// The root references every top-level application.
	if len(start) > 2 {
		for i := start[1]; i < start[2]; i++ {
			add(0, i)
		}
	}
	// Ordinary paths reference a few paths one to three levels down and a
	// Zipf-like selection of hubs; most reference themselves.
	for i := 1; i < body; i++ {
		l := levelOf[i]
		k := 1 + int(rng.ExpFloat64()*2.5)
		for range k {
			dl := 1 + rng.IntN(3)
			tl := l + dl
			if tl+1 >= len(start) {
				break
			}
			lo, hi := start[tl], start[tl+1]
			if lo < hi {
				add(i, lo+rng.IntN(hi-lo))
			}
		}
		for h := range hubs {
			if rng.Float64() < 0.9/float64(h+1) {
				add(i, n-1-h)
			}
		}
		if rng.Float64() < 0.6 {
			add(i, i)
		}
	}
	// Hubs reference some of the hubs below them (libc last).
	for j := body; j < n; j++ {
		rank := n - 1 - j
		for h := 0; h < rank; h++ {
			if rng.Float64() < 0.5/float64(h+1) {
				add(j, n-1-h)
			}
		}
		if rng.Float64() < 0.6 {
			add(j, j)
		}
	}
	// Every path is in the root's closure: give each path nobody references
	// a referrer on an earlier level (the root for the applications).
	referenced := make([]bool, n)
	for i := range n {
		for _, r := range refs[i] {
			if r != i {
				referenced[r] = true
			}
		}
	}
	for j := 1; j < n; j++ {
		if referenced[j] {
			continue
		}
		from := 0
		if j < body && levelOf[j] > 1 {
			l := levelOf[j] - 1
			from = start[l] + rng.IntN(start[l+1]-start[l])
		} else if j >= body && body > 1 {
			from = 1 + rng.IntN(body-1)
		}
		add(from, j)
		referenced[j] = true
	}
	return refs
}

func hash(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = nixBase32[rng.IntN(len(nixBase32))]
	}
	return string(b)
}

func pkgName(rng *rand.Rand, i int) string {
	name := syllables[rng.IntN(len(syllables))]
	for range rng.IntN(3) {
		name += syllables[rng.IntN(len(syllables))]
	}
	switch rng.IntN(6) {
	case 0:
		name += "-" + syllables[rng.IntN(len(syllables))]
	case 1:
		name += strconv.Itoa(i % 7)
	}
	if rng.IntN(8) == 0 { // some paths carry no version (data, scripts)
		return name
	}
	v := strconv.Itoa(rng.IntN(12)) + "." + strconv.Itoa(rng.IntN(40))
	if rng.IntN(2) == 0 {
		v += "." + strconv.Itoa(rng.IntN(20))
	}
	return name + "-" + v
}

// narSize draws a heavy-tailed size: log-normal around 200 KiB with a Pareto
// tail of very large paths, a multiple of 8 as NAR sizes are.
func narSize(rng *rand.Rand) uint64 {
	s := math.Exp(12.2 + 2*rng.NormFloat64())
	if rng.IntN(50) == 0 {
		s = 50e6 / math.Pow(1-rng.Float64(), 1/1.2) // Pareto, alpha 1.2
	}
	s = min(max(s, 120), 1<<40)
	return uint64(s) &^ 7
}
