// Command closure-popularity reads a closure graph and writes the layer
// plan: which store paths go into which layer, bottom layer first.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/go-dockertools/dockertools/lib/closure"
	"github.com/go-dockertools/dockertools/lib/cmdrun"
	"github.com/urfave/cli/v2"
)

const tool = "closure-popularity"

func main() {
	cmdrun.Setup()
	app := newApp()
	cmdrun.Exit(tool, app.Run(cmdrun.FlagsFirst(os.Args, app.Flags)))
}

func newApp() *cli.App {
	return &cli.App{
		Name:      tool,
		Usage:     "split a Nix closure graph into Docker layers",
		UsageText: "closure-popularity [options] [GRAPH]",
		Description: `Reads a closure graph from GRAPH, or stdin when GRAPH is absent or "-":
an exportReferencesGraph list, "nix path-info --json --recursive" output
(list or object), or a structured-attrs .attrs.json (--key picks the member).
Writes the layer plan: one layer per line, bottom layer first, its store
paths separated by single spaces; with --json, a JSON array of arrays.

--strategy popularity (default) orders the paths as nixpkgs'
references-by-popularity does, most popular first; with --max-layers N the
first N-1 paths get a layer each and the rest share the last one, as in
buildLayeredImage. Without --max-layers it prints one path per line (with
--json, an array of paths).

--strategy auto splits the paths as nixpkgs' auto-layer.py does, into at
most --max-layers layers (default 100); it needs every narSize.

--pipeline FILE runs a layering pipeline instead, as nixpkgs'
streamLayeredImage does with layeringPipeline (flattenReferencesGraph):
FILE is the same JSON list of steps, e.g.
  [["popularity_contest"], ["limit_layers", 99]]
which is streamLayeredImage's own popularity layering for maxLayers 100.
Operations: popularity_contest, limit_layers N, reverse, split_every N,
remove_paths P, subcomponent_in [P...], subcomponent_out [P...],
split_paths [P or {"children_of": P}...], over KEY STEP, pipe [STEP...],
map STEP, flatten. The layers are nixpkgs': the same paths in the same
layers in the same order, empty layers dropped. The pipeline sets the
number of layers (nixpkgs ignores maxLayers when layeringPipeline is set);
--max-layers N only checks it: more than N layers is an error.

Excluded paths (--exclude, --exclude-from) are left out of the plan; with
--pipeline they are taken out of the graph before it runs, as nixpkgs
takes out the image's config and customisation layer, so the paths they
alone referenced become roots.

A pipeline.json that gives the app's closure one layer (the bottom one) and
98 layers by popularity to the rest:
  [["subcomponent_out", ["/nix/store/...-app"]],
   ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 98]]]]]

Examples:
  nix path-info --json -r ./result | closure-popularity --max-layers 100
  closure-popularity --pipeline pipeline.json --json graph.json`,
		Version:         cmdrun.Version,
		HideHelpCommand: true,
		// Store paths hold no commas, but a repeated flag is the way to list
		// several: never split a value.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "strategy", Aliases: []string{"s"}, Value: "popularity", Usage: "`STRATEGY`: popularity or auto"},
			&cli.IntFlag{Name: "max-layers", Aliases: []string{"n"}, Usage: "at most `N` layers (auto: default 100; --pipeline: a check only)"},
			&cli.StringFlag{Name: "pipeline", Aliases: []string{"p"}, Usage: "lay out the layers with the nixpkgs layering pipeline in `FILE` (JSON)"},
			&cli.StringFlag{Name: "key", Usage: "take the graph from member `NAME` of a structured-attrs object"},
			&cli.StringSliceFlag{Name: "exclude", Aliases: []string{"x"}, Usage: "leave store path `PATH` out of the plan (repeatable)"},
			&cli.StringFlag{Name: "exclude-from", Usage: "leave out the store paths listed in `FILE`, one a line"},
			&cli.BoolFlag{Name: "json", Usage: "write the plan as JSON"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write the plan to `FILE` (atomically) instead of stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no informational messages"},
		},
		Action:         run,
		OnUsageError:   func(_ *cli.Context, err error, _ bool) error { return cmdrun.Usage(err) },
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

func run(c *cli.Context) error {
	strategy := c.String("strategy")
	if strategy != "popularity" && strategy != "auto" {
		return cmdrun.Usagef("--strategy: unknown strategy %q (want popularity or auto)", strategy)
	}
	maxLayers := 0
	if c.IsSet("max-layers") {
		if maxLayers = c.Int("max-layers"); maxLayers < 1 {
			return cmdrun.Usagef("--max-layers: %d is not a positive number of layers", maxLayers)
		}
	}
	var pipeline *closure.Pipeline
	if name := c.String("pipeline"); name != "" {
		if c.IsSet("strategy") {
			return cmdrun.Usagef("--pipeline and --strategy: the pipeline is the strategy")
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		if pipeline, err = closure.ParsePipeline(data, name); err != nil {
			return err
		}
	}
	if c.NArg() > 1 {
		return cmdrun.Usagef("one graph at a time (got %d)", c.NArg())
	}
	exclude := map[string]bool{}
	for _, p := range c.StringSlice("exclude") {
		exclude[p] = true
	}
	if name := c.String("exclude-from"); name != "" {
		data, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if p := strings.TrimSpace(line); p != "" {
				exclude[p] = true
			}
		}
	}

	name, in := "stdin", io.Reader(os.Stdin)
	if arg := c.Args().First(); arg != "" && arg != "-" {
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		defer f.Close()
		name, in = arg, f
	}
	g, err := closure.Parse(in, name, c.String("key"))
	if err != nil {
		return err
	}

	var out []byte
	switch {
	case pipeline != nil:
		layers, err := pipeline.Layers(g, exclude)
		if err != nil {
			return err
		}
		if maxLayers > 0 && len(layers) > maxLayers {
			return fmt.Errorf("%s: the pipeline gives %d layers, more than --max-layers %d", c.String("pipeline"), len(layers), maxLayers)
		}
		out = format(layers, c.Bool("json"))
	case strategy == "auto":
		limit := closure.DefaultAutoLimit
		if maxLayers > 0 {
			limit = maxLayers
		}
		layers, err := g.AutoLayers(limit, exclude)
		if err != nil {
			return err
		}
		out = format(layers, c.Bool("json"))
	case maxLayers == 0 && c.Bool("json"):
		out = closure.AppendJSONList(nil, closure.Exclude(g.Popularity(), exclude))
	default:
		out = format(closure.SplitPopular(closure.Exclude(g.Popularity(), exclude), maxLayers), c.Bool("json"))
	}
	return atomicfile.WriteFile(c.String("output"), out)
}

func format(layers [][]string, asJSON bool) []byte {
	if asJSON {
		return closure.AppendJSON(nil, layers)
	}
	return closure.AppendText(nil, layers)
}
