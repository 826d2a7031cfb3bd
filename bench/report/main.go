// Command report turns what bench/run measured (timeit's JSON lines) into
// docs/BENCHMARKS.md: the machine, one table per section with median
// [min-max] wall time, MiB/s, the ratio to the row's baseline, CPU time and
// peak RSS, and the goals the issues set, each met or not.
//
//	report -results results.jsonl -meta meta.tsv -o docs/BENCHMARKS.md
//
// meta.tsv holds "key<TAB>value" lines, printed in order as the machine
// table; "title" and "intro" are printed above it instead, and each
// "note:SECTION" under that section's table.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
)

type result struct {
	Section string    `json:"section"`
	ID      string    `json:"id"`
	Vs      string    `json:"vs"`
	Label   string    `json:"label"`
	Command string    `json:"command"`
	Bytes   int64     `json:"bytes"`
	Wall    []float64 `json:"wall"`
	CPU     []float64 `json:"cpu"`
	MaxRSS  int64     `json:"maxRSSKiB"`
	Ref     bool      `json:"ref"`
}

func (r *result) median() float64 { return median(r.Wall) }

// mbps is the throughput in MiB per second, or 0.
func (r *result) mbps() float64 {
	if r.Bytes == 0 || r.median() == 0 {
		return 0
	}
	return float64(r.Bytes) / r.median() / (1 << 20)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func main() {
	resultsFile := flag.String("results", "", "timeit's results (JSON lines)")
	metaFile := flag.String("meta", "", "machine and run description (key<TAB>value lines)")
	out := flag.String("o", "", "write the Markdown to `FILE`")
	flag.Parse()
	if *resultsFile == "" || *metaFile == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: report -results FILE -meta FILE -o FILE")
		os.Exit(2)
	}
	if err := run(*resultsFile, *metaFile, *out); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(resultsFile, metaFile, out string) error {
	rs, err := readResults(resultsFile)
	if err != nil {
		return err
	}
	meta, err := readMeta(metaFile)
	if err != nil {
		return err
	}
	byID := map[string]*result{}
	for _, r := range rs {
		if byID[r.ID] != nil {
			return fmt.Errorf("%s: ID %s measured twice", resultsFile, r.ID)
		}
		byID[r.ID] = r
	}
	for _, r := range rs {
		if r.Vs != "" && byID[r.Vs] == nil {
			return fmt.Errorf("%s: %s is compared with %s, which was not measured", resultsFile, r.ID, r.Vs)
		}
	}

	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# %s\n\n", meta.get("title"))
	w("%s\n\n", meta.get("intro"))
	w("## Machine and run\n\n| | |\n|---|---|\n")
	for _, kv := range meta.kvs {
		if kv[0] != "title" && kv[0] != "intro" && !strings.HasPrefix(kv[0], "note:") {
			w("| %s | %s |\n", kv[0], kv[1])
		}
	}
	w("\n## Goals\n\n| goal | measured | |\n|---|---|---|\n")
	for _, g := range goals {
		measured, ok, known := g.check(byID)
		verdict := "not measured here"
		if known {
			verdict = "**met**"
			if !ok {
				verdict = "**not met**"
			}
		}
		w("| %s | %s | %s |\n", cell(g.text), cell(measured), verdict)
	}

	var sections []string
	for _, r := range rs {
		if !slices.Contains(sections, r.Section) {
			sections = append(sections, r.Section)
		}
	}
	for _, s := range sections {
		w("\n## %s\n\n", s)
		w("| | median [min–max] | MiB/s | vs baseline | CPU (median) | peak RSS |\n|---|---|---|---|---|---|\n")
		for _, r := range rs {
			if r.Section != s {
				continue
			}
			w("| %s | %s | %s | %s | %s | %s |\n", cell(r.Label), timeCell(r), mbpsCell(r), ratioCell(r, byID), cpuCell(r), rssCell(r))
		}
		w("\n")
		for _, kv := range meta.kvs {
			if kv[0] == "note:"+s {
				w("%s\n\n", kv[1])
			}
		}
		w("<details><summary>commands</summary>\n\n")
		for _, r := range rs {
			if r.Section == s && !r.Ref {
				w("- %s: `%s`\n", r.Label, strings.ReplaceAll(r.Command, "`", "'"))
			}
		}
		w("\n</details>\n")
	}
	return os.WriteFile(out, b.Bytes(), 0o644)
}

// cell escapes what would end a Markdown table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func timeCell(r *result) string {
	if r.Ref {
		return fmt.Sprintf("%s (quoted)", seconds(r.median()))
	}
	return fmt.Sprintf("%s [%s–%s]", seconds(r.median()), seconds(slices.Min(r.Wall)), seconds(slices.Max(r.Wall)))
}

func seconds(s float64) string {
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	}
	return fmt.Sprintf("%.0f ms", s*1000)
}

func mbpsCell(r *result) string {
	if m := r.mbps(); m > 0 {
		return fmt.Sprintf("%.0f", m)
	}
	return ""
}

// ratio is how many times faster r is than its baseline: by throughput
// when both have a size (a reference figure may be for another input
// size), else by time.
func ratio(r, base *result) float64 {
	if r.mbps() > 0 && base.mbps() > 0 {
		return r.mbps() / base.mbps()
	}
	return base.median() / r.median()
}

func ratioCell(r *result, byID map[string]*result) string {
	if r.Vs == "" {
		return ""
	}
	if r.Vs == r.ID {
		return "baseline"
	}
	x := ratio(r, byID[r.Vs])
	if x >= 1 {
		return fmt.Sprintf("%.2f× faster", x)
	}
	return fmt.Sprintf("%.2f× slower", 1/x)
}

func cpuCell(r *result) string {
	if len(r.CPU) == 0 {
		return ""
	}
	return seconds(median(r.CPU))
}

func rssCell(r *result) string {
	if r.MaxRSS == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f MiB", float64(r.MaxRSS)/1024)
}

// goal is one target from the issues, checked against the measurements.
type goal struct {
	text  string
	check func(map[string]*result) (measured string, ok, known bool)
}

// faster: each of the rows named is at least as fast as base (median wall
// time); names alternate ID and the name to print.
func faster(base string, names ...string) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		b := m[base]
		if b == nil {
			return "", false, false
		}
		var parts []string
		ok, any := true, false
		for i := 0; i+1 < len(names); i += 2 {
			r := m[names[i]]
			if r == nil {
				continue
			}
			any = true
			x := ratio(r, b)
			ok = ok && x >= 1
			parts = append(parts, fmt.Sprintf("%s %s (%.2f×)", names[i+1], seconds(r.median()), x))
		}
		return strings.Join(parts, "; ") + fmt.Sprintf("; baseline %s", seconds(b.median())), ok, any
	}
}

// rssBelow: the peak RSS of each of ids is under mib.
func rssBelow(mib float64, ids ...string) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		var worst float64
		any := false
		for _, id := range ids {
			if r := m[id]; r != nil {
				any = true
				worst = math.Max(worst, float64(r.MaxRSS)/1024)
			}
		}
		return fmt.Sprintf("at most %.1f MiB", worst), worst < mib, any
	}
}

// within: id's median wall time is under limit seconds (and its peak RSS
// under rssMiB when that is not 0).
func within(id string, limit, rssMiB float64) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		r := m[id]
		if r == nil {
			return "", false, false
		}
		rss := float64(r.MaxRSS) / 1024
		s := fmt.Sprintf("%s, %.0f MiB", seconds(r.median()), rss)
		return s, r.median() < limit && (rssMiB == 0 || rss < rssMiB), true
	}
}

// throughputAtLeast: id's MB/s is at least frac times base's.
func throughputAtLeast(id, base string, frac float64) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		r, b := m[id], m[base]
		if r == nil || b == nil {
			return "", false, false
		}
		return fmt.Sprintf("%.0f MiB/s vs %.0f MiB/s (%.2f×)", r.mbps(), b.mbps(), r.mbps()/b.mbps()), r.mbps() >= frac*b.mbps(), true
	}
}

// cpuAtMost: id's median CPU time is at most frac of base's.
func cpuAtMost(id, base string, frac float64) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		r, b := m[id], m[base]
		if r == nil || b == nil {
			return "", false, false
		}
		x := median(r.CPU) / median(b.CPU)
		return fmt.Sprintf("CPU %s vs %s (%.2f)", seconds(median(r.CPU)), seconds(median(b.CPU)), x), x <= frac, true
	}
}

// fasterBy: id's median wall time is at least factor times shorter than
// base's.
func fasterBy(id, base string, factor float64) func(map[string]*result) (string, bool, bool) {
	return func(m map[string]*result) (string, bool, bool) {
		r, b := m[id], m[base]
		if r == nil || b == nil {
			return "", false, false
		}
		x := ratio(r, b)
		return fmt.Sprintf("%s vs %s (%.2f×)", seconds(r.median()), seconds(b.median()), x), x >= factor, true
	}
}

var goals = []goal{
	{"path-to-layer over every store path, one process per layer, no slower than `tar --sort=name … | sha256sum` over the same paths",
		faster("tar-all", "p2l-null-p1", "to /dev/null", "p2l-file-p1", "to files")},
	{"path-to-layer peak RSS < 64 MiB", rssBelow(64, "p2l-null-p1", "p2l-null-p2", "p2l-file-p1", "p2l-file-p2")},
	{"assemble-image --nixpkgs-conf ≥ 5× stream_layered_image.py (the issue's figure, 528 MiB in 5.6 s: ≥ 471 MiB/s)",
		throughputAtLeast("asm-nix", "ref-slim", 5)},
	{"assemble-image (--nixpkgs-conf and native) no slower than tar | sha256sum", faster("asm-tar", "asm-nix", "--nixpkgs-conf", "asm-native", "native")},
	{"assemble-image peak RSS < 64 MiB, every format", rssBelow(64, "asm-nix", "asm-native", "asm-digest", "asm-nix-gzip", "asm-native-gzip", "asm-nix-zstd", "asm-native-zstd", "oci-gzip", "oci-zstd")},
	{"assemble-image --nixpkgs-conf: CPU time at most 60% of the last version before the image model", cpuAtMost("asm-nix", "asm-nix-old", 0.6)},
	{"assemble-image --nixpkgs-conf: wall time at least 1.6× faster than the last version before the image model", fasterBy("asm-nix", "asm-nix-old", 1.6)},
	{"assemble-image from --digest-only descriptors (no layer files) at least 4× tar | sha256sum over the same paths", fasterBy("asm-digest", "asm-tar", 4)},
	{"OCI with gzip layers faster than tar | pigz -6", faster("pigz", "oci-gzip", "oci-archive gzip")},
	{"OCI with zstd layers no slower than tar | zstd -T0", faster("zstd", "oci-zstd", "oci-archive zstd")},
	{"assemble-image --compress gzip no slower than tar | pigz -6", faster("pigz", "asm-nix-gzip", "--nixpkgs-conf", "asm-native-gzip", "native")},
	{"assemble-image --compress zstd no slower than tar | zstd -T0", faster("zstd", "asm-nix-zstd", "--nixpkgs-conf", "asm-native-zstd", "native")},
	{"closure-popularity popularity, 20,000 paths: < 2 s and < 512 MiB", within("pop-20000", 2, 512)},
	{"closure-popularity auto, 20,000 paths: < 0.3 s", within("auto-20000", 0.3, 0)},
	{"tarsum ≥ 80% of sha256's throughput (sha256sum) on the same layer", throughputAtLeast("tarsum", "sha256sum", 0.8)},
}

func readResults(name string) ([]*result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rs []*result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(r.Wall) == 0 {
			return nil, fmt.Errorf("%s: %s has no time", name, r.ID)
		}
		rs = append(rs, &r)
	}
	return rs, sc.Err()
}

type meta struct{ kvs [][2]string }

func (m meta) get(k string) string {
	for _, kv := range m.kvs {
		if kv[0] == k {
			return kv[1]
		}
	}
	return ""
}

func readMeta(name string) (meta, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return meta{}, err
	}
	var m meta
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if !ok {
			return m, fmt.Errorf("%s: %q is not KEY<TAB>VALUE", name, line)
		}
		m.kvs = append(m.kvs, [2]string{k, strings.ReplaceAll(v, `\n`, "\n")})
	}
	return m, nil
}
