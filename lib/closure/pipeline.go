package closure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// A Pipeline is a layering pipeline as nixpkgs' streamLayeredImage takes
// it in layeringPipeline (and hands it to flattenReferencesGraph): a JSON
// list of steps, each a list whose first element names an operation and
// whose others are its arguments:
//
//	[["split_paths", ["/nix/store/...-app"]],
//	 ["over", "rest", ["pipe", [["popularity_contest"], ["limit_layers", 99]]]]]
//
// The value flowing through the steps starts as the whole graph and is a
// graph, a list of values, or a split: the named parts main, common and
// rest that split_paths and subcomponent_in/out give. The operations:
//
//	popularity_contest       graph → one single-path graph per path, most
//	                         popular first (Popularity's order)
//	split_every N            graph → graphs of N paths each, in order
//	remove_paths P           graph → the graph without paths P (a path or
//	                         a list of paths; those not in it are ignored)
//	subcomponent_out [P...]  graph → {main: P and everything they reference,
//	                         transitively; rest: the others}
//	subcomponent_in [P...]   graph → {main: P and everything that references
//	                         them, transitively; rest: the others}
//	split_paths [S...]       graph → {main, common, rest}: main holds S and
//	                         the paths only they reach, common the paths
//	                         both they and the rest of the graph reach; an S
//	                         is a path or {"children_of": path or paths}
//	                         (the paths those reference); empty parts are
//	                         left out (all is main when S holds the
//	                         graph's only root)
//	limit_layers N           list → its first N-1 elements, then one graph
//	                         merging all the others (graphs, or split_every's
//	                         lists of graphs)
//	reverse                  list → the list backwards
//	map STEP                 list → STEP applied to each element
//	flatten                  list or split → the graphs in it, nested
//	                         lists and splits opened, in order
//	over KEY STEP            split → the split with STEP applied to part KEY
//	pipe [STEP...]           anything → the steps applied in turn
//
// The result is flattened (as by flatten) into layers, bottom layer first,
// each listing its paths in the graph's order, empty layers dropped.
// Layers says how graphs are ordered and what edges they keep. As in
// flattenReferencesGraph, remove_paths [] gives any value as it is,
// split_paths [] any value as the rest part, and popularity_contest of
// an empty list an empty list.
//
// Where flattenReferencesGraph accepts a pipeline only by accident, this
// one is an error: a count that is not a whole number of at least 1
// (split_every -1 drops every path there), a path that is not a string (a
// number looks up a vertex by its index there), a single path where a
// list is wanted (subcomponent_in/out and split_paths read its characters
// as paths there), a wrong number of arguments to map (the extra ones are
// ignored there), map, reverse or limit_layers given a split (the part
// names become paths there). And where an older igraph (Debian 12's
// 0.10.2, for one) aborts, on subcomponent_in/out of paths whose
// subcomponents together count more paths than the graph has
// (igraph/igraph#2398), the parts are the sets a fixed igraph gives.
type Pipeline struct {
	name  string
	steps []*step
}

type opKind uint8

const (
	opPopularityContest opKind = iota
	opLimitLayers
	opReverse
	opSplitEvery
	opRemovePaths
	opSubcomponentIn
	opSubcomponentOut
	opSplitPaths
	opOver
	opPipe
	opMap
	opFlatten
)

// ops maps operation names to their kinds.
var ops = map[string]opKind{
	"popularity_contest": opPopularityContest,
	"limit_layers":       opLimitLayers,
	"reverse":            opReverse,
	"split_every":        opSplitEvery,
	"remove_paths":       opRemovePaths,
	"subcomponent_in":    opSubcomponentIn,
	"subcomponent_out":   opSubcomponentOut,
	"split_paths":        opSplitPaths,
	"over":               opOver,
	"pipe":               opPipe,
	"map":                opMap,
	"flatten":            opFlatten,
}

// opNames lists the operations for messages, sorted.
const opNames = "flatten, limit_layers, map, over, pipe, popularity_contest, " +
	"remove_paths, reverse, split_every, split_paths, subcomponent_in, subcomponent_out"

// step is one parsed step.
type step struct {
	op    opKind
	where string      // the step's position, for messages: "step 2 (over) > pipe > step 1 (split_every)"
	n     int         // limit_layers, split_every
	paths []string    // remove_paths, subcomponent_in, subcomponent_out
	specs []splitSpec // split_paths
	key   string      // over
	fn    *step       // over, map
	steps []*step     // pipe
}

// splitSpec is one element of split_paths' list: a path, or the paths
// that the paths in childrenOf reference.
type splitSpec struct {
	path       string
	childrenOf []string
	children   bool
}

// ParsePipeline reads a layering pipeline from data; name names it in
// messages. Every error is one line: name, the step by its position
// ("step 3 (split_every)"; a step inside another is named by the path to
// it, "step 2 (over) > pipe > step 1 (subcomponent_in)"), and what is
// wrong: malformed JSON, an unknown operation, a wrong number or type of
// arguments.
func ParsePipeline(data []byte, name string) (*Pipeline, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: the pipeline is %s, not a list of steps", name, jsonKind(v))
	}
	steps, err := parseSteps(list, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Pipeline{name: name, steps: steps}, nil
}

// PopularityPipeline is the pipeline nixpkgs' streamLayeredImage used by
// default before auto-layer (popularity-contest-layering-pipeline.nix):
// popularity_contest, then limit_layers n, n being maxLayers less the
// customisation layer and the base image's layers.
func PopularityPipeline(n int) *Pipeline {
	p, err := ParsePipeline([]byte(`[["popularity_contest"], ["limit_layers", `+strconv.Itoa(n)+`]]`), "popularity pipeline")
	if err != nil {
		panic(err)
	}
	return p
}

// decodeJSON decodes one JSON value, numbers kept as written.
func decodeJSON(data []byte) (any, error) {
	if !json.Valid(data) {
		var raw json.RawMessage
		err := json.Unmarshal(data, &raw)
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("malformed JSON at byte %d: %s", se.Offset, se)
		}
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("malformed JSON: %v", err) // json.Valid said it is not
	}
	return v, nil
}

func parseSteps(list []any, parent string) ([]*step, error) {
	steps := make([]*step, 0, len(list))
	for i, v := range list {
		pos := fmt.Sprintf("%sstep %d", parent, i+1)
		s, err := parseStep(v, pos, func(op string) string { return pos + " (" + op + ")" })
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// parseStep reads one step. where names its position for messages before
// its operation is known, named once it is.
func parseStep(v any, where string, named func(op string) string) (*step, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: %s, not a step [operation, arguments...]", where, jsonKind(v))
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: an empty list, not a step [operation, arguments...]", where)
	}
	name, ok := list[0].(string)
	if !ok {
		return nil, fmt.Errorf("%s: the operation is %s, not a name", where, jsonKind(list[0]))
	}
	op, ok := ops[name]
	if !ok {
		return nil, fmt.Errorf("%s: unknown operation (known: %s)", named(printable(name)), opNames)
	}
	s := &step{op: op, where: named(name)}
	args := list[1:]
	want := map[opKind]int{
		opPopularityContest: 0, opReverse: 0, opFlatten: 0,
		opLimitLayers: 1, opSplitEvery: 1, opRemovePaths: 1, opSubcomponentIn: 1,
		opSubcomponentOut: 1, opSplitPaths: 1, opPipe: 1, opMap: 1,
		opOver: 2,
	}[op]
	if len(args) != want {
		return nil, fmt.Errorf("%s: wants %s, got %d", s.where, plural(want, "argument"), len(args))
	}
	fnOf := func(v any) (*step, error) {
		return parseStep(v, s.where+" > function", func(op string) string { return s.where + " > " + op })
	}
	var err error
	switch op {
	case opLimitLayers:
		s.n, err = wholeNumber(args[0], "layers")
	case opSplitEvery:
		s.n, err = wholeNumber(args[0], "paths")
	case opRemovePaths:
		if p, ok := args[0].(string); ok {
			s.paths = []string{p}
		} else {
			s.paths, err = pathList(args[0], "a store path or a list of store paths")
		}
	case opSubcomponentIn, opSubcomponentOut:
		s.paths, err = pathList(args[0], "a list of store paths")
	case opSplitPaths:
		s.specs, err = splitSpecs(args[0])
	case opOver:
		key, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("%s: wants the name of a part (main, common or rest) first, got %s", s.where, jsonKind(args[0]))
		}
		s.key = key
		if s.fn, err = fnOf(args[1]); err != nil {
			return nil, err
		}
	case opMap:
		if s.fn, err = fnOf(args[0]); err != nil {
			return nil, err
		}
	case opPipe:
		list, ok := args[0].([]any)
		if !ok {
			return nil, fmt.Errorf("%s: wants a list of steps, got %s", s.where, jsonKind(args[0]))
		}
		if s.steps, err = parseSteps(list, s.where+" > "); err != nil {
			return nil, err
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	return s, nil
}

// wholeNumber reads a count of at least 1; counts beyond what an int
// holds mean "no limit".
func wholeNumber(v any, what string) (int, error) {
	num, ok := v.(json.Number)
	s := string(num)
	if !ok || strings.ContainsAny(s, ".eE") {
		return 0, fmt.Errorf("wants a whole number of %s, got %s", what, jsonKind(v))
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && n > 0 {
		n = math.MaxInt32 // out of range: larger than any graph
	}
	if n < 1 {
		return 0, fmt.Errorf("wants a number of %s of at least 1, got %s", what, s)
	}
	return int(min(n, math.MaxInt32)), nil
}

func pathList(v any, want string) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("wants %s, got %s", want, jsonKind(v))
	}
	out := make([]string, len(list))
	for i, e := range list {
		p, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("wants %s, got %s in the list", want, jsonKind(e))
		}
		out[i] = p
	}
	return out, nil
}

func splitSpecs(v any) ([]splitSpec, error) {
	const want = `a list of store paths and {"children_of": ...} objects`
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("wants %s, got %s", want, jsonKind(v))
	}
	out := make([]splitSpec, len(list))
	for i, e := range list {
		switch e := e.(type) {
		case string:
			out[i] = splitSpec{path: e}
		case map[string]any:
			c, ok := e["children_of"]
			if !ok {
				return nil, fmt.Errorf(`wants %s, got an object without "children_of"`, want)
			}
			out[i].children = true
			if p, ok := c.(string); ok {
				out[i].childrenOf = []string{p}
				continue
			}
			paths, err := pathList(c, `"children_of": a store path or a list of store paths`)
			if err != nil {
				return nil, err
			}
			out[i].childrenOf = paths
		default:
			return nil, fmt.Errorf("wants %s, got %s in the list", want, jsonKind(e))
		}
	}
	return out, nil
}

// jsonKind names the type of a decoded JSON value for messages.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + string(v)
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func plural(n int, word string) string {
	switch n {
	case 0:
		return "no " + word + "s"
	case 1:
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
