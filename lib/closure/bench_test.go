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
