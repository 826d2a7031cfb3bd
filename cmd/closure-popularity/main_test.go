package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// bin is the command built from this package, run as users run it.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testutil.MainWithTools(m, func(dir string) { bin = filepath.Join(dir, "closure-popularity") }))
}

type result struct {
	stdout, stderr string
	code           int
}

func runCmd(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	r := testutil.Exec(t, dir, nil, []byte(stdin), bin, args...)
	return result{r.Stdout, r.Stderr, r.Code}
}

const (
	libc   = "/nix/store/00000000000000000000000000000000-fx-libc-2.40"
	libfoo = "/nix/store/11111111111111111111111111111111-fx-libfoo-1.0"
	app    = "/nix/store/22222222222222222222222222222222-fx-app-1.0"
	data   = "/nix/store/33333333333333333333333333333333-fx-data"
	link   = "/nix/store/44444444444444444444444444444444-fx-link-to-libfoo"
	single = "/nix/store/55555555555555555555555555555555-fx-single-file"
)

// fixtureGraph is conformance/mkstore.py's graph.json.
const fixtureGraph = `[
 {"path": "` + libc + `", "references": ["` + libc + `"], "narSize": 1000},
 {"path": "` + libfoo + `", "references": ["` + libc + `", "` + libfoo + `"], "narSize": 2000},
 {"path": "` + app + `", "references": ["` + libfoo + `", "` + libc + `", "` + app + `", "` + data + `", "` + single + `"], "narSize": 3000},
 {"path": "` + data + `", "references": [], "narSize": 4000000},
 {"path": "` + link + `", "references": ["` + libfoo + `"], "narSize": 100},
 {"path": "` + single + `", "references": [], "narSize": 50}
]`

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func TestHappyPaths(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("graph.json", fixtureGraph)
	write("keyed.json", `{"/s/a-x": {"references": ["/s/b-y"], "narSize": 1}, "/s/b-y": {"references": [], "narSize": 2}}`)
	write("attrs.json", `{"name": "img", "closure": `+fixtureGraph+`, "other": [{"path": "/s/a", "references": []}]}`)
	write("excl.txt", "  "+link+"\n\n"+data+"\n")
	popular := []string{libc, libfoo, data, single, app, link}

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"conformance popularity order", "", []string{"graph.json"}, lines(popular...)},
		{"stdin", fixtureGraph, nil, lines(popular...)},
		{"stdin as -", fixtureGraph, []string{"-"}, lines(popular...)},
		{"max layers", "", []string{"--max-layers", "3", "graph.json"},
			lines(libc, libfoo, strings.Join([]string{data, single, app, link}, " "))},
		{"max layers over the paths", "", []string{"-n", "10", "graph.json"}, lines(popular...)},
		{"json order", "", []string{"--json", "graph.json"},
			`["` + strings.Join(popular, `", "`) + `"]` + "\n"},
		{"json layers", "", []string{"--json", "--max-layers", "2", "graph.json"},
			`[["` + libc + `"], ["` + strings.Join(popular[1:], `", "`) + `"]]` + "\n"},
		{"exclude", "", []string{"--exclude", libc, "--exclude", app, "-n", "3", "graph.json"},
			lines(libfoo, data, single+" "+link)},
		{"exclude-from", "", []string{"--exclude-from", "excl.txt", "graph.json"}, lines(libc, libfoo, single, app)},
		{"conformance auto layers", "", []string{"--strategy", "auto", "--max-layers", "3", "--json", "graph.json"},
			`[["` + link + `"], ["` + data + `"], ["` + app + `", "` + libc + `", "` + libfoo + `", "` + single + `"]]` + "\n"},
		{"auto text, default limit", "", []string{"-s", "auto", "graph.json"}, lines(single, libc, libfoo, link, data, app)},
		{"auto excluding", "", []string{"-s", "auto", "-n", "3", "--exclude-from", "excl.txt", "graph.json"},
			lines(app + " " + libc + " " + libfoo + " " + single)},
		{"path-info object", "", []string{"keyed.json"}, lines("/s/b-y", "/s/a-x")},
		{"structured attrs", "", []string{"--key", "closure", "-n", "2", "attrs.json"}, lines(libc, strings.Join(popular[1:], " "))},
		{"empty graph", "[]", nil, ""},
		{"empty graph, json", "[]", []string{"--json"}, "[]\n"},
		{"empty graph, auto json", "{}", []string{"-s", "auto", "--json"}, "[]\n"},
		{"quiet", "", []string{"-q", "graph.json"}, lines(popular...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, dir, tt.stdin, tt.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if r.stdout != tt.want {
				t.Errorf("stdout\n%s\nwant\n%s", r.stdout, tt.want)
			}
		})
	}
}

func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "graph.json"), []byte(fixtureGraph), 0o644)
	r := runCmd(t, dir, "", "-o", "plan.txt", "-n", "2", "graph.json")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Fatalf("%+v", r)
	}
	got, err := os.ReadFile(filepath.Join(dir, "plan.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := lines(libc, strings.Join([]string{libfoo, data, single, app, link}, " ")); string(got) != want {
		t.Errorf("plan.txt\n%s\nwant\n%s", got, want)
	}
	// A failure leaves no output file behind.
	r = runCmd(t, dir, "[", "-o", "bad.txt")
	if r.code != 1 {
		t.Fatalf("%+v", r)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "graph.json" && e.Name() != "plan.txt" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("graph.json", fixtureGraph)
	write("malformed.json", `[{"path": "/s/a", "references": [}]`)
	write("shape.json", `"a string"`)
	write("missing.json", `[{"path": "/s/a", "references": ["/s/b"]}]`)
	write("cycle.json", `[{"path": "/s/a", "references": ["/s/b"]}, {"path": "/s/b", "references": ["/s/a"]}]`)
	write("twice.json", `[{"path": "/s/a", "references": []}, {"path": "/s/a", "references": ["/s/a", "/s/b"]}, {"path": "/s/b", "references": []}]`)
	write("size.json", `[{"path": "/s/a", "references": [], "narSize": "big"}]`)
	write("empty.json", "")

	tests := []struct {
		name string
		args []string
		code int
		want string // the whole stderr line
	}{
		{"malformed JSON", []string{"malformed.json"}, 1, "malformed.json: malformed JSON at byte 34: invalid character '}' looking for beginning of value"},
		{"unknown shape", []string{"shape.json"}, 1, "shape.json: unknown shape: a string, not a list or an object"},
		{"missing reference", []string{"missing.json"}, 1, "missing.json: /s/a references /s/b, which is not in the graph"},
		{"cycle", []string{"cycle.json"}, 1, "cycle.json: cycle between /s/b and /s/a"},
		{"twice with different references", []string{"twice.json"}, 1, "twice.json: /s/a appears twice with different references"},
		{"narSize with auto", []string{"-s", "auto", "size.json"}, 1, "size.json: /s/a: narSize is a string, not a non-negative integer"},
		{"no such file", []string{"nope.json"}, 1, "open nope.json: no such file or directory"},
		{"a directory", []string{"."}, 1, ".: is a directory"},
		{"empty file", []string{"empty.json"}, 1, "empty.json: malformed JSON at byte 0: unexpected end of JSON input"},
		{"no exclude file", []string{"--exclude-from", "nope.txt", "graph.json"}, 1, "open nope.txt: no such file or directory"},
		{"missing key", []string{"--key", "closure", "graph.json"}, 1, `graph.json: the graph is a list, it has no member "closure"`},
		{"unknown strategy", []string{"--strategy", "fast", "graph.json"}, 2, `--strategy: unknown strategy "fast" (want popularity or auto)`},
		{"max layers 0", []string{"--max-layers", "0", "graph.json"}, 2, "--max-layers: 0 is not a positive number of layers"},
		{"max layers not a number", []string{"--max-layers", "many", "graph.json"}, 2, ""},
		{"two graphs", []string{"graph.json", "graph.json"}, 2, "one graph at a time (got 2)"},
		{"unknown flag", []string{"--frobnicate", "graph.json"}, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, dir, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d", r.code, tt.code)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
				t.Errorf("stderr is not one line: %q", r.stderr)
			}
			if tt.want != "" && r.stderr != "closure-popularity: "+tt.want+"\n" {
				t.Errorf("stderr %q\nwant   %q", r.stderr, "closure-popularity: "+tt.want+"\n")
			}
		})
	}
	// The same bad narSize does not matter to popularity.
	if r := runCmd(t, dir, "", "size.json"); r.code != 0 || r.stdout != "/s/a\n" {
		t.Errorf("popularity with a bad narSize: %+v", r)
	}
	// Errors on stdin name it.
	if r := runCmd(t, dir, "[1,", "-"); r.stderr != "closure-popularity: stdin: malformed JSON at byte 3: unexpected end of JSON input\n" {
		t.Errorf("stdin: %+v", r)
	}
}

func TestPipeline(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("graph.json", fixtureGraph)
	write("popularity.json", `[["popularity_contest"], ["limit_layers", 3]]`)
	write("contest.json", `[["popularity_contest"]]`)
	write("split.json", `[["split_paths", ["`+app+`"]]]`)
	write("bad.json", `[["popularity_contest"], ["split_every", 2, 3]]`)
	write("over.json", `[["subcomponent_out", ["`+app+`"]], ["over", "common", ["popularity_contest"]]]`)
	write("excl.txt", app+"\n")

	t.Run("layers", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want string
		}{
			// nixpkgs' popularity pipeline is the popularity strategy.
			{"popularity pipeline", []string{"--pipeline", "popularity.json", "graph.json"},
				lines(libc, libfoo, strings.Join([]string{data, single, app, link}, " "))},
			{"json", []string{"-p", "popularity.json", "--json", "graph.json"},
				`[["` + libc + `"], ["` + libfoo + `"], ["` + strings.Join([]string{data, single, app, link}, `", "`) + `"]]` + "\n"},
			// main: app and what only it reaches; common: what link
			// reaches too; rest: link. Each in narSize order.
			{"split_paths", []string{"-p", "split.json", "graph.json"},
				lines(single+" "+app+" "+data, libc+" "+libfoo, link)},
			// Excluded paths leave the graph first: with app gone, link,
			// data and single are roots, so link ranks with them...
			{"exclude before the pipeline", []string{"-p", "contest.json", "--exclude-from", "excl.txt", "graph.json"},
				lines(libc, libfoo, data, link, single)},
			// ...where the popularity strategy ranks the whole graph and
			// then leaves app out.
			{"exclude after the popularity strategy", []string{"--exclude-from", "excl.txt", "graph.json"},
				lines(libc, libfoo, data, single, link)},
			{"max layers holds", []string{"-p", "contest.json", "-n", "6", "graph.json"},
				lines(libc, libfoo, data, single, app, link)},
			{"stdin graph", []string{"-p", "popularity.json"}, lines(libc, libfoo, strings.Join([]string{data, single, app, link}, " "))},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				stdin := ""
				if !slices.Contains(tt.args, "graph.json") {
					stdin = fixtureGraph
				}
				r := runCmd(t, dir, stdin, tt.args...)
				if r.code != 0 || r.stderr != "" {
					t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
				}
				if r.stdout != tt.want {
					t.Errorf("stdout\n%s\nwant\n%s", r.stdout, tt.want)
				}
			})
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			code int
			want string
		}{
			{"bad pipeline", []string{"-p", "bad.json", "graph.json"}, 1, "bad.json: step 2 (split_every): wants 1 argument, got 2"},
			{"over a missing part", []string{"-p", "over.json", "graph.json"}, 1, `over.json: step 2 (over): the split has no part "common" (it has main, rest)`},
			{"too many layers", []string{"-p", "contest.json", "-n", "5", "graph.json"}, 1, "contest.json: the pipeline gives 6 layers, more than --max-layers 5"},
			{"no pipeline file", []string{"-p", "nope.json", "graph.json"}, 1, "open nope.json: no such file or directory"},
			{"with a strategy", []string{"-p", "contest.json", "-s", "auto", "graph.json"}, 2, "--pipeline and --strategy: the pipeline is the strategy"},
			{"with the default strategy named", []string{"-p", "contest.json", "-s", "popularity", "graph.json"}, 2, "--pipeline and --strategy: the pipeline is the strategy"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := runCmd(t, dir, "", tt.args...)
				if r.code != tt.code || r.stdout != "" || r.stderr != "closure-popularity: "+tt.want+"\n" {
					t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stderr %q", r.code, r.stdout, r.stderr, tt.code, tt.want)
				}
			})
		}
	})
}
