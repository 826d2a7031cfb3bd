// Command gen-graph writes a synthetic closure graph shaped like a Nix
// closure (see lib/closure/synth) on stdout, for benchmarks:
//
//	gen-graph -n 20000 -seed 1 > g.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/go-dockertools/dockertools/lib/closure/synth"
)

func main() {
	n := flag.Int("n", 1000, "number of store paths")
	seed := flag.Int64("seed", 1, "random seed (same n and seed, same bytes)")
	flag.Parse()
	if flag.NArg() != 0 || *n < 0 {
		fmt.Fprintln(os.Stderr, "usage: gen-graph [-n PATHS] [-seed N] > graph.json")
		os.Exit(2)
	}
	if _, err := os.Stdout.Write(synth.Generate(*n, *seed)); err != nil {
		fmt.Fprintln(os.Stderr, "gen-graph:", err)
		os.Exit(1)
	}
}
