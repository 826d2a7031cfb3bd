package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

// flagCase is one command line written several ways, flags placed
// differently: each must do what the first (flags first, the way every
// version of the tools accepts) does.
type flagCase struct {
	tool  string
	stdin string // workspace file on stdin ("": none)
	out   string // output file compared too ("": none)
	code  int    // the exit code each gives
	lines []string
}

// The words LIBC, LIBFOO and LINK stand for the fixture's store paths.
var flagCases = []flagCase{
	{tool: "assemble-image", out: "out.tar", lines: []string{
		"--tag x:1 --config config.json -q -o out.tar layers/0.json layers/1.json",
		"layers/0.json layers/1.json --tag x:1 --config config.json -q -o out.tar",
		"layers/0.json --tag=x:1 layers/1.json -q --config config.json --output=out.tar",
		"-q layers/0.json -o out.tar --tag x:1 layers/1.json --config=config.json",
	}},
	// "-o -" is stdout, not an argument.
	{tool: "assemble-image", lines: []string{"--tag x:1 -o - layers/0.json", "layers/0.json -o - --tag x:1"}},
	// "-" is stdin.
	{tool: "assemble-image", stdin: "layers/0.json", lines: []string{"--tag x:1 -", "- --tag x:1"}},
	{tool: "assemble-image", code: 2, lines: []string{"--tag x:1 -o", "--tag x:1 layers/0.json -o"}},

	{tool: "closure-popularity", out: "plan.json", lines: []string{
		"-n 2 -x LINK --json -o plan.json graph.json",
		"graph.json -n 2 -x LINK --json -o plan.json",
		"graph.json --max-layers=2 --exclude=LINK -o plan.json --json",
		"--json graph.json -x LINK -n 2 --output plan.json",
	}},
	// After "--", "-g.json" is a file and "-n" too.
	{tool: "closure-popularity", lines: []string{"-n 2 ./-g.json", "-n 2 -- -g.json"}},
	{tool: "closure-popularity", code: 2, lines: []string{"-- -g.json -n 2"}},
	{tool: "closure-popularity", stdin: "graph.json", lines: []string{"--strategy auto -", "- --strategy auto", "- -s auto"}},

	{tool: "export-image", out: "root.tar", lines: []string{
		"-q --mtime 2 -o root.tar hello.tar",
		"hello.tar -q --mtime 2 -o root.tar",
		"--mtime=2 hello.tar --output root.tar --quiet",
	}},
	{tool: "export-image", stdin: "release.tar.zst", lines: []string{"--tag web:1.0 -", "- --tag web:1.0"}},

	{tool: "fake-nss", out: "nss.tar", lines: []string{"--user app:1:1 --shadow -o nss.tar", "-o nss.tar --shadow --user app:1:1"}},
	{tool: "fake-nss", code: 2, lines: []string{"--shadow -o nss.tar extra", "extra --shadow -o nss.tar"}},

	{tool: "merge-images", out: "m.tar", lines: []string{
		"-o m.tar --compress gzip web.tar db.tar.zst",
		"web.tar db.tar.zst -o m.tar --compress gzip",
		"web.tar -o m.tar db.tar.zst --compress=gzip",
	}},
	{tool: "merge-images", out: "m.tar", lines: []string{"-q -o m.tar web.tar", "web.tar -q -o m.tar", "-o m.tar web.tar --quiet"}},
	{tool: "merge-images", lines: []string{
		"--list --store-paths --tag web:1 web.tar base.tar",
		"web.tar base.tar --list --tag web:1 --store-paths",
		"web.tar --list base.tar --store-paths --tag=web:1",
	}},
	{tool: "merge-images", stdin: "web.tar", lines: []string{"--list -", "- --list"}},

	{tool: "path-to-layer", out: "l.tar", lines: []string{
		"--index 3 --tarsum -o l.tar LIBC LIBFOO",
		"LIBC LIBFOO --index 3 --tarsum -o l.tar",
		"LIBC --tarsum LIBFOO -o l.tar --index=3",
	}},
	{tool: "path-to-layer", out: "d.json", lines: []string{
		"-o - --descriptor d.json LIBC",
		"LIBC -o - --descriptor d.json",
		"LIBC --descriptor=d.json -o -",
	}},
	{tool: "path-to-layer", out: "l.tar", stdin: "paths.txt", lines: []string{"-o l.tar -", "- -o l.tar"}},
	{tool: "path-to-layer", out: "l.tar", lines: []string{"--root rootfs -o l.tar LIBC", "LIBC --root rootfs -o l.tar"}},

	{tool: "tarsum", lines: []string{
		"--tarsum-version dev --hash sha512 --extra json layer.tar",
		"layer.tar --tarsum-version dev --hash sha512 --extra json",
		"layer.tar -V dev --hash=sha512 --extra json",
		// tarsum's own spelling of --tarsum-version.
		"layer.tar --version dev --hash sha512 --extra json",
		"--version dev layer.tar --hash sha512 -extra json",
	}},
	{tool: "tarsum", stdin: "layer.tar", lines: []string{"-V dev -", "- -V dev", "- --version dev"}},
	// --version alone is the tool's version, wherever it is.
	{tool: "tarsum", lines: []string{"--version", "layer.tar --version", "layer.tar -v"}},
}

// operands are an argument of each command, for the cases every command
// shares.
var operands = map[string]string{
	"assemble-image":     "layers/0.json",
	"closure-popularity": "graph.json",
	"export-image":       "hello.tar",
	"fake-nss":           "extra",
	"merge-images":       "web.tar",
	"path-to-layer":      "LIBC",
	"tarsum":             "layer.tar",
}

// TestFlagsAnywhere runs each case's command lines in fresh copies of the
// workspace and compares their exit codes, stdout, stderr and output
// files; and, for every command, an unknown flag after an argument must
// be the usage error it is before one, and --help after an argument
// must show the help.
func TestFlagsAnywhere(t *testing.T) {
	tools, err := os.ReadDir(filepath.Join(testutil.RepoRoot(), "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	cases := slices.Clone(flagCases)
	for _, tool := range tools {
		op, ok := operands[tool.Name()]
		if !ok {
			t.Errorf("command %s has no entry in operands", tool.Name())
			continue
		}
		cases = append(cases,
			flagCase{tool: tool.Name(), code: 2, lines: []string{"--bogus " + op, op + " --bogus"}},
			flagCase{tool: tool.Name(), lines: []string{"--help", op + " --help", op + " -h"}},
		)
	}
	w := newWorkspace(t)
	paths := strings.NewReplacer("LIBC", testutil.Libc, "LIBFOO", testutil.Libfoo, "LINK", testutil.Link)
	for _, c := range cases {
		t.Run(c.tool+" "+c.lines[0], func(t *testing.T) {
			var first flagRun
			for i, line := range c.lines {
				r := w.runLine(t, c, strings.Fields(paths.Replace(line)))
				if i == 0 {
					first = r
					if r.Code != c.code {
						t.Fatalf("%s %s: exit %d, want %d\nstderr: %s", c.tool, line, r.Code, c.code, r.Stderr)
					}
					if c.out != "" && c.code == 0 && r.out == nil {
						t.Fatalf("%s %s wrote no %s", c.tool, line, c.out)
					}
					continue
				}
				if r.Code != first.Code || r.Stdout != first.Stdout || r.Stderr != first.Stderr || !bytes.Equal(r.out, first.out) {
					t.Errorf("%s %s: exit %d, stdout %.200q, stderr %q, %s of %d bytes;\n%s %s: exit %d, stdout %.200q, stderr %q, %s of %d bytes",
						c.tool, line, r.Code, r.Stdout, r.Stderr, c.out, len(r.out),
						c.tool, c.lines[0], first.Code, first.Stdout, first.Stderr, c.out, len(first.out))
				}
			}
		})
	}
}

type flagRun struct {
	testutil.Result
	out []byte // nil: no output file
}

func (w *workspace) runLine(t *testing.T, c flagCase, args []string) flagRun {
	t.Helper()
	dir := w.copy(t)
	stdin := []byte{}
	if c.stdin != "" {
		stdin = readFile(t, filepath.Join(dir, c.stdin))
	}
	r := flagRun{Result: testutil.Exec(t, dir, nil, stdin, filepath.Join(binDir, c.tool), args...)}
	if c.out != "" {
		if b, err := os.ReadFile(filepath.Join(dir, c.out)); err == nil {
			r.out = b
		}
	}
	return r
}
