package closure

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// The layers of nixpkgs' flattenReferencesGraph for random graphs and
// pipelines: testdata/pipeline-nixpkgs.json holds cases that
// TestPipelineAgainstNixpkgs wrote from its answers, so that every run
// checks them; TestPipelineAgainstNixpkgs asks it afresh where it is
// installed.

// nixpkgsCase is one case: the input flatten_references_graph takes, and
// its answer (Layers) or its failure (Fails).
type nixpkgsCase struct {
	Graph    []tnode         `json:"graph"`
	Pipeline json.RawMessage `json:"pipeline"`
	Exclude  []string        `json:"exclude_paths"`
	Layers   [][]string      `json:"layers,omitempty"`
	Fails    bool            `json:"fails,omitempty"`
}

const nixpkgsCases = "testdata/pipeline-nixpkgs.json"

var writeCases = flag.Bool("write-nixpkgs-cases", false, "TestPipelineAgainstNixpkgs: write its cases to "+nixpkgsCases)

// TestPipelineNixpkgsCases: the same layers as flattenReferencesGraph for
// the recorded cases, and a failure where it failed.
func TestPipelineNixpkgsCases(t *testing.T) {
	data, err := os.ReadFile(nixpkgsCases)
	if err != nil {
		t.Fatal(err)
	}
	var cases []nixpkgsCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, c := range cases {
		layers, err := runCase(t, c)
		if c.Fails {
			if err == nil {
				t.Errorf("case %d: nixpkgs fails, we give %q\npipeline %s", i, layers, c.Pipeline)
			}
			continue
		}
		if err != nil {
			t.Errorf("case %d: %v\npipeline %s", i, err, c.Pipeline)
		} else if !slices.EqualFunc(layers, c.Layers, slices.Equal) {
			t.Errorf("case %d: got %q\nwant %q\npipeline %s\ngraph %s", i, layers, c.Layers, c.Pipeline, mustJSON(t, c.Graph))
		}
	}
}

func runCase(t *testing.T, c nixpkgsCase) ([][]string, error) {
	t.Helper()
	g := graphOf(t, c.Graph)
	p, err := ParsePipeline(c.Pipeline, "pipeline.json")
	if err != nil {
		return nil, err
	}
	exclude := map[string]bool{}
	for _, x := range c.Exclude {
		exclude[x] = true
	}
	return p.Layers(g, exclude)
}

// TestPipelineAgainstNixpkgs runs nixpkgs' flatten_references_graph (the
// program of its flattenReferencesGraph package) on random graphs and
// pipelines and checks that Layers gives the same layers, or fails where
// it fails. It runs where FLATTEN_REFERENCES_GRAPH names that program, e.g.
//
//	FLATTEN_REFERENCES_GRAPH=$(nix-build '<nixpkgs>' -A flattenReferencesGraph)/bin/flatten_references_graph \
//	  go test ./lib/closure -run AgainstNixpkgs [-args -write-nixpkgs-cases]
//
// (nothing of nixpkgs is part of this project). FLATTEN_REFERENCES_GRAPH_CASES
// sets the number of cases (default 300), FLATTEN_REFERENCES_GRAPH_SEED the
// seed drawing them (default 1); -write-nixpkgs-cases records them
// in testdata for TestPipelineNixpkgsCases.
func TestPipelineAgainstNixpkgs(t *testing.T) {
	tool := os.Getenv("FLATTEN_REFERENCES_GRAPH")
	if tool == "" {
		t.Skip("FLATTEN_REFERENCES_GRAPH is not set (nixpkgs' flatten_references_graph program)")
	}
	n := 300
	if s := os.Getenv("FLATTEN_REFERENCES_GRAPH_CASES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	seed := uint64(1)
	if s := os.Getenv("FLATTEN_REFERENCES_GRAPH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(16, seed))
	dir := t.TempDir()
	var cases []nixpkgsCase
	failed, igraphBug := 0, 0
	for i := range n {
		size := 9
		if rng.IntN(4) == 0 {
			size = 40
		}
		nodes := dedup(randomDAG(rng, size))
		for k := range nodes {
			nodes[k].References = slices.Compact(slices.Sorted(slices.Values(nodes[k].References)))
			if nodes[k].References == nil {
				nodes[k].References = []string{}
			}
		}
		var paths []string
		for _, x := range nodes {
			paths = append(paths, x.Path)
		}
		c := nixpkgsCase{Graph: nodes, Pipeline: randomPipeline(rng, paths), Exclude: []string{}}
		if rng.IntN(3) == 0 {
			for range 1 + rng.IntN(2) {
				c.Exclude = append(c.Exclude, paths[rng.IntN(len(paths))])
			}
		}
		in, err := json.Marshal(map[string]any{"graph": c.Graph, "pipeline": c.Pipeline, "exclude_paths": c.Exclude})
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, fmt.Sprintf("case-%d.json", i))
		if err := os.WriteFile(name, in, 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(tool, name)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		runErr := cmd.Run()
		if _, ok := runErr.(*exec.ExitError); runErr != nil && !ok {
			t.Fatal(runErr)
		}
		if bytes.Contains(stderr.Bytes(), []byte("Assertion failed: capacity >= 0")) {
			// An older igraph (Debian 12's 0.10.2) aborts on an induced
			// subgraph given more vertices, counting repeats, than the
			// graph has (igraph/igraph#2398), as subcomponent_in and _out
			// give it for overlapping subcomponents; a fixed igraph takes
			// each vertex once.
			igraphBug++
			continue
		}
		c.Fails = runErr != nil
		if !c.Fails {
			if err := json.Unmarshal(stdout.Bytes(), &c.Layers); err != nil {
				t.Fatalf("case %d: %v: %s", i, err, stdout.Bytes())
			}
			if c.Layers == nil {
				c.Layers = [][]string{}
			}
			// limit_layers given a split (a Python dict) merges its keys
			// into a graph as new vertices: part names, not paths. That
			// is a failure here.
			if slices.ContainsFunc(slices.Concat(c.Layers...), func(p string) bool { return !slices.Contains(paths, p) }) {
				c.Fails, c.Layers = true, nil
				failed++
			}
		} else {
			failed++
		}
		layers, err := runCase(t, c)
		switch {
		case c.Fails && err == nil:
			t.Errorf("case %d: nixpkgs fails (%s), we give %q\ninput %s", i, lastLine(stderr.Bytes()), layers, in)
		case !c.Fails && err != nil:
			t.Errorf("case %d: nixpkgs gives %q, we fail: %v\ninput %s", i, c.Layers, err, in)
		case !c.Fails && !slices.EqualFunc(layers, c.Layers, slices.Equal):
			t.Errorf("case %d: got %q\nnixpkgs %q\ninput %s", i, layers, c.Layers, in)
		}
		if os.Getenv("FRG_DEBUG") != "" && c.Fails {
			t.Logf("case %d: nixpkgs: %s; we: %v", i, lastLine(stderr.Bytes()), err)
		}
		cases = append(cases, c)
	}
	t.Logf("%d cases: nixpkgs failed %d, igraph aborted %d (left out)", n, failed, igraphBug)

	// The hand-written examples give nixpkgs' layers too, and fail where
	// it fails.
	errGraph, errCases := runErrorExamples()
	examples := slices.Concat(workedExamples(), semanticsExamples())
	for _, c := range errCases {
		examples = append(examples, pipelineExample{name: c.pipeline, graph: errGraph, pipeline: c.pipeline})
	}
	for _, ex := range examples {
		nodes := ex.graph
		if nodes == nil {
			nodes = []tnode{}
		}
		for k := range nodes {
			if nodes[k].References == nil {
				nodes[k].References = []string{}
			}
		}
		exclude := ex.exclude
		if exclude == nil {
			exclude = []string{}
		}
		in, err := json.Marshal(map[string]any{"graph": nodes, "pipeline": json.RawMessage(ex.pipeline), "exclude_paths": exclude})
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, "example.json")
		if err := os.WriteFile(name, in, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(tool, name).Output()
		if ex.want == nil {
			if err == nil {
				t.Errorf("%s: nixpkgs gives %s, we fail", ex.name, out)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: nixpkgs fails: %v", ex.name, err)
			continue
		}
		var layers [][]string
		if err := json.Unmarshal(out, &layers); err != nil {
			t.Fatal(err)
		}
		if layers == nil {
			layers = [][]string{}
		}
		if !slices.EqualFunc(layers, ex.want, slices.Equal) {
			t.Errorf("%s: nixpkgs gives %q, the example says %q", ex.name, layers, ex.want)
		}
	}
	if *writeCases && !t.Failed() {
		// The small graphs only: they keep the file small.
		cases = slices.DeleteFunc(cases, func(c nixpkgsCase) bool { return len(c.Graph) > 9 })
		var buf bytes.Buffer
		buf.WriteString("[\n")
		for i, c := range cases {
			line, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(line)
			if i < len(cases)-1 {
				buf.WriteString(",")
			}
			buf.WriteString("\n")
		}
		buf.WriteString("]\n")
		if err := os.WriteFile(nixpkgsCases, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func lastLine(b []byte) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return string(lines[len(lines)-1])
}
