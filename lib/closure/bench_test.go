package closure

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/go-dockertools/dockertools/lib/closure/synth"
)

var (
	benchMu     sync.Mutex
	benchGraphs = map[int][]byte{}
)

// benchGraph returns a synthetic graph of n paths (seed 1), generated once.
func benchGraph(b *testing.B, n int) []byte {
	benchMu.Lock()
	defer benchMu.Unlock()
	if benchGraphs[n] == nil {
		benchGraphs[n] = synth.Generate(n, 1)
	}
	return benchGraphs[n]
}

func benchParsed(b *testing.B, n int) *Graph {
	g, err := Parse(bytes.NewReader(benchGraph(b, n)), "synth.json", "")
	if err != nil {
		b.Fatal(err)
	}
	return g
}

var sizes = []int{1000, 5000, 20000, 100000}

func BenchmarkParse(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			data := benchGraph(b, n)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(data), "synth.json", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPopularity(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g := benchParsed(b, n)
			for b.Loop() {
				g.Popularity()
			}
		})
	}
}

func BenchmarkAutoLayers(b *testing.B) {
	for _, n := range sizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g := benchParsed(b, n)
			for b.Loop() {
				if _, err := g.AutoLayers(DefaultAutoLimit, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPopularity20k and BenchmarkAuto20k are the goals: the
// whole job (parse and layer) on 20,000 paths, under 2 s and 0.3 s.
func BenchmarkPopularity20k(b *testing.B) {
	data := benchGraph(b, 20000)
	for b.Loop() {
		g, err := Parse(bytes.NewReader(data), "synth.json", "")
		if err != nil {
			b.Fatal(err)
		}
		SplitPopular(g.Popularity(), 100)
	}
}

func BenchmarkAuto20k(b *testing.B) {
	data := benchGraph(b, 20000)
	for b.Loop() {
		g, err := Parse(bytes.NewReader(data), "synth.json", "")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := g.AutoLayers(DefaultAutoLimit, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPipeline: nixpkgs' popularity pipeline (popularity_contest,
// limit_layers 99) and a split_paths pipeline on parsed graphs.
func BenchmarkPipeline(b *testing.B) {
	for _, n := range sizes {
		g := benchParsed(b, n)
		top := g.paths[g.topo[0]] // the root
		child := g.paths[g.references(g.topo[0])[0]]
		for name, src := range map[string]string{
			"popularity": `[["popularity_contest"], ["limit_layers", 99]]`,
			"split": `[["split_paths", ["` + child + `"]], ["over", "main", ["subcomponent_in", ["` + child + `"]]],
				["over", "rest", ["pipe", [["remove_paths", "` + top + `"], ["popularity_contest"], ["limit_layers", 90]]]]]`,
		} {
			p, err := ParsePipeline([]byte(src), "pipeline.json")
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Layers(g, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPipeline20k is the layering pipeline's goal: the whole job
// (parse the graph and nixpkgs' popularity pipeline, run it) on 20,000
// paths under 0.5 s.
func BenchmarkPipeline20k(b *testing.B) {
	data := benchGraph(b, 20000)
	src := []byte(`[["popularity_contest"], ["limit_layers", 99]]`)
	for b.Loop() {
		g, err := Parse(bytes.NewReader(data), "synth.json", "")
		if err != nil {
			b.Fatal(err)
		}
		p, err := ParsePipeline(src, "pipeline.json")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Layers(g, nil); err != nil {
			b.Fatal(err)
		}
	}
}
