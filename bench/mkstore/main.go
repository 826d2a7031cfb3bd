// Command mkstore builds the benchmark store: every installed Debian
// package as a store path <hash>-<name>-<version> holding the package's
// files (hard-linked from the system when they are on the same file
// system, else copied), and its closure graph, whose references are the
// package's installed Depends and Pre-Depends. The store is cached: it is
// rebuilt only when the list of installed packages (or this program's
// format) changes.
//
//	mkstore -dir bench/cache/full            # every installed package
//	mkstore -dir bench/cache/quick -quick    # a small closure (~30 packages, ~50 MiB)
//	mkstore -dir DIR -app N                  # add the app store path, version N
//
// DIR gets store/ (the store directory), graph.json (exportReferencesGraph
// list shape: path, narSize, references) and key (what the cache was built
// from). With -app, a small application store path referencing the
// graph's roots is added to the store (idempotently), DIR/graph-app-N.json
// is the graph with it, and its path is printed: the bench changes it to
// measure a rebuild.
//
// Hashes are the first 32 characters of the nix-base32 sha256 of
// "name-version", so the same packages give the same store on any machine.
// Dependency cycles are broken deterministically: a depth-first search
// from the sorted names, visiting references in sorted order, drops every
// edge that closes a cycle.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// format changes whenever the store layout does, so old caches are rebuilt.
const format = "mkstore-3"

const dpkgFormat = `${db:Status-Abbrev}\t${Package}\t${Version}\t${Installed-Size}\t${Provides}\t${Pre-Depends}\t${Depends}\n`

type pkg struct {
	name, version string
	instSize      int64 // KiB, dpkg's estimate
	provides      []string
	deps          [][]string // alternatives, in order
	refs          []string   // resolved, cycle-free
	path          string     // store path
	narSize       int64
}

func main() {
	dir := flag.String("dir", "", "cache `DIR` (gets store/, graph.json, key)")
	quick := flag.Bool("quick", false, "a small closure of packages instead of all of them")
	app := flag.Int("app", 0, "add the app store path of version `N` and write graph-app-N.json")
	flag.Parse()
	if *dir == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: mkstore -dir DIR [-quick] [-app N]")
		os.Exit(2)
	}
	var err error
	if *app > 0 {
		err = addApp(*dir, *app)
	} else {
		err = build(*dir, *quick)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkstore:", err)
		os.Exit(1)
	}
}

func build(dir string, quick bool) error {
	out, err := exec.Command("dpkg-query", "-W", "-f="+dpkgFormat).Output()
	if err != nil {
		return fmt.Errorf("dpkg-query: %w", err)
	}
	mode := "full"
	if quick {
		mode = "quick"
	}
	sum := sha256.Sum256(append([]byte(format+" "+mode+"\n"), out...))
	key := fmt.Sprintf("%x\n", sum)
	store := filepath.Join(dir, "store")
	graphFile := filepath.Join(dir, "graph.json")
	if old, err := os.ReadFile(filepath.Join(dir, "key")); err == nil && string(old) == key {
		if _, err := os.Stat(graphFile); err == nil {
			fmt.Fprintf(os.Stderr, "mkstore: %s is up to date\n", store)
			return nil
		}
	}
	fmt.Fprintf(os.Stderr, "mkstore: building %s (installed packages changed or no cache)\n", store)
	// What an older store left (its paths, graphs and key) goes; the rest
	// of dir (bench/run's work directory) stays.
	stale, _ := filepath.Glob(filepath.Join(dir, "graph*.json"))
	for _, f := range append(stale, store, filepath.Join(dir, "key")) {
		if err := os.RemoveAll(f); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(store, 0o755); err != nil {
		return err
	}

	pkgs, err := parsePackages(out)
	if err != nil {
		return err
	}
	resolve(pkgs)
	breakCycles(pkgs)
	if quick {
		pkgs = quickSelection(pkgs, 30, 50<<20)
	}
	storeAbs, err := filepath.Abs(store)
	if err != nil {
		return err
	}
	for _, p := range pkgs {
		h := sha256.Sum256([]byte(p.name + "-" + p.version))
		p.path = storeAbs + "/" + nixBase32(h[:])[:32] + "-" + sanitize(p.name+"-"+p.version)
	}
	if err := populate(pkgs); err != nil {
		return err
	}
	if err := writeGraph(graphFile, pkgs); err != nil {
		return err
	}
	var total int64
	for _, p := range pkgs {
		total += p.narSize
	}
	fmt.Fprintf(os.Stderr, "mkstore: %d store paths, %d MiB\n", len(pkgs), total>>20)
	return os.WriteFile(filepath.Join(dir, "key"), []byte(key), 0o644)
}

func parsePackages(out []byte) (map[string]*pkg, error) {
	pkgs := map[string]*pkg{}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			return nil, fmt.Errorf("dpkg-query: unexpected line %q", line)
		}
		if strings.TrimSpace(f[0]) != "ii" {
			continue // not (fully) installed
		}
		p := &pkg{name: f[1], version: f[2]}
		fmt.Sscan(f[3], &p.instSize)
		for _, alts := range parseRelations(f[4]) {
			p.provides = append(p.provides, alts...)
		}
		p.deps = append(parseRelations(f[5]), parseRelations(f[6])...)
		if old, ok := pkgs[p.name]; ok && old.version != p.version {
			return nil, fmt.Errorf("package %s installed twice (%s, %s)", p.name, old.version, p.version)
		}
		pkgs[p.name] = p
	}
	if len(pkgs) == 0 {
		return nil, errors.New("dpkg-query lists no installed package")
	}
	return pkgs, nil
}

// parseRelations reads "a (>= 1), b:any | c" into [[a] [b c]].
func parseRelations(s string) [][]string {
	var out [][]string
	for _, group := range strings.Split(s, ",") {
		var alts []string
		for _, alt := range strings.Split(group, "|") {
			alt = strings.TrimSpace(alt)
			if i := strings.IndexAny(alt, " (["); i >= 0 {
				alt = alt[:i]
			}
			alt, _, _ = strings.Cut(alt, ":")
			if alt != "" {
				alts = append(alts, alt)
			}
		}
		if len(alts) > 0 {
			out = append(out, alts)
		}
	}
	return out
}

// resolve turns each dependency into an installed package: the first
// alternative installed under its own name, else the first (by name) of
// the installed packages that provide it.
func resolve(pkgs map[string]*pkg) {
	providers := map[string][]string{}
	for _, p := range pkgs {
		for _, v := range p.provides {
			providers[v] = append(providers[v], p.name)
		}
	}
	for _, ps := range providers {
		slices.Sort(ps)
	}
	for _, p := range pkgs {
		seen := map[string]bool{}
		for _, alts := range p.deps {
			target := ""
			for _, a := range alts {
				if _, ok := pkgs[a]; ok {
					target = a
					break
				}
				if ps := providers[a]; len(ps) > 0 {
					target = ps[0]
					break
				}
			}
			if target != "" && target != p.name && !seen[target] {
				seen[target] = true
				p.refs = append(p.refs, target)
			}
		}
		slices.Sort(p.refs)
	}
}

// breakCycles drops the edges that close a cycle in a depth-first search
// from the sorted names, references visited in sorted order.
func breakCycles(pkgs map[string]*pkg) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		p := pkgs[n]
		kept := p.refs[:0]
		for _, r := range p.refs {
			switch color[r] {
			case grey:
				continue // closes a cycle: drop
			case white:
				visit(r)
			}
			kept = append(kept, r)
		}
		p.refs = kept
		color[n] = black
	}
	for _, n := range sortedNames(pkgs) {
		if color[n] == white {
			visit(n)
		}
	}
}

func sortedNames(pkgs map[string]*pkg) []string {
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func closureOf(pkgs map[string]*pkg, root string, into map[string]bool) {
	if into[root] {
		return
	}
	into[root] = true
	for _, r := range pkgs[root].refs {
		closureOf(pkgs, r, into)
	}
}

// quickSelection picks a closed set of packages (every reference inside
// it) of at most maxCount packages and about maxBytes: packages by
// decreasing installed size, none over an eighth of maxBytes so no single
// package dominates, each taken with its closure when the whole still fits.
func quickSelection(pkgs map[string]*pkg, maxCount int, maxBytes int64) map[string]*pkg {
	names := sortedNames(pkgs)
	slices.SortStableFunc(names, func(a, b string) int {
		return int(pkgs[b].instSize - pkgs[a].instSize)
	})
	chosen := map[string]bool{}
	var bytes int64
	for _, n := range names {
		c := map[string]bool{}
		for k := range chosen {
			c[k] = true
		}
		closureOf(pkgs, n, c)
		var b int64
		for k := range c {
			if !chosen[k] {
				b += pkgs[k].instSize << 10
			}
		}
		if pkgs[n].instSize<<10 <= maxBytes/8 && len(c) <= maxCount && bytes+b <= maxBytes {
			chosen, bytes = c, bytes+b
		}
	}
	out := map[string]*pkg{}
	for k := range chosen {
		out[k] = pkgs[k]
	}
	return out
}

// populate fills each package's store path from `dpkg -L`, a few packages
// at a time.
func populate(pkgs map[string]*pkg) error {
	names := sortedNames(pkgs)
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, n := range names {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = populateOne(pkgs[n])
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func populateOne(p *pkg) error {
	out, err := exec.Command("dpkg", "-L", p.name).Output()
	if err != nil {
		return fmt.Errorf("dpkg -L %s: %w", p.name, err)
	}
	var files []string
	for _, l := range strings.Split(string(out), "\n") {
		// Skip "/.", blank lines and dpkg's diversion notes.
		if strings.HasPrefix(l, "/") && l != "/." {
			files = append(files, l)
		}
	}
	// A listed path that other listed paths are below is a directory in
	// the package, even where the system has a symlink (merged /usr: /bin).
	parents := map[string]bool{}
	for _, f := range files {
		for d := filepath.Dir(f); d != "/"; d = filepath.Dir(d) {
			parents[d] = true
		}
	}
	if err := os.Mkdir(p.path, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		dst := p.path + f
		if parents[f] {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			if fi, err := os.Stat(f); err == nil && fi.IsDir() {
				os.Chmod(dst, fi.Mode()&fs.ModePerm|fi.Mode()&(fs.ModeSetgid|fs.ModeSticky))
			}
			continue
		}
		fi, err := os.Lstat(f)
		if err != nil {
			continue // listed but absent (excluded docs, say)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch fi.Mode().Type() {
		case fs.ModeDir:
			if err := os.MkdirAll(dst, fi.Mode().Perm()); err != nil {
				return err
			}
		case fs.ModeSymlink:
			target, err := os.Readlink(f)
			if err != nil {
				continue
			}
			if err := os.Symlink(target, dst); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case 0:
			n, err := linkOrCopy(f, dst, fi)
			if err != nil {
				continue // cannot be read: skip it
			}
			p.narSize += n
		}
	}
	return nil
}

func linkOrCopy(src, dst string, fi fs.FileInfo) (int64, error) {
	if err := os.Link(src, dst); err == nil {
		return fi.Size(), nil
	} else if errors.Is(err, fs.ErrExist) {
		return 0, err
	}
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(dst, fi.Mode().Perm()|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	if err != nil {
		os.Remove(dst)
		return 0, err
	}
	return n, nil
}

type node struct {
	Path       string   `json:"path"`
	NarSize    int64    `json:"narSize"`
	References []string `json:"references"`
}

func writeGraph(file string, pkgs map[string]*pkg) error {
	var nodes []node
	for _, p := range pkgs {
		refs := []string{}
		for _, r := range p.refs {
			refs = append(refs, pkgs[r].path)
		}
		slices.Sort(refs)
		nodes = append(nodes, node{Path: p.path, NarSize: p.narSize, References: refs})
	}
	return saveGraph(file, nodes)
}

// saveGraph writes the nodes sorted by path, as Nix does.
func saveGraph(file string, nodes []node) error {
	slices.SortFunc(nodes, func(a, b node) int { return strings.Compare(a.Path, b.Path) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", " ")
	if err := enc.Encode(nodes); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

// addApp adds the application store path of version n: a small program
// tree referencing the graph's roots, so its closure is the whole store.
func addApp(dir string, n int) error {
	data, err := os.ReadFile(filepath.Join(dir, "graph.json"))
	if err != nil {
		return fmt.Errorf("%w (build the store first)", err)
	}
	var nodes []node
	if err := json.Unmarshal(data, &nodes); err != nil {
		return err
	}
	referenced := map[string]bool{}
	for _, nd := range nodes {
		for _, r := range nd.References {
			if r != nd.Path {
				referenced[r] = true
			}
		}
	}
	var roots []string
	for _, nd := range nodes {
		if !referenced[nd.Path] {
			roots = append(roots, nd.Path)
		}
	}
	store, err := filepath.Abs(filepath.Join(dir, "store"))
	if err != nil {
		return err
	}
	version := fmt.Sprintf("1.%d", n)
	// The app's bytes: a 2 MiB "binary" and a version file, both
	// depending on n.
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	bin := make([]byte, 2<<20)
	for i := range bin {
		bin[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"bin/bench-app":              bin,
		"share/bench-app/VERSION":    []byte(version + "\n"),
		"share/bench-app/references": []byte(strings.Join(roots, "\n") + "\n"),
	}
	h := sha256.New()
	for _, k := range []string{"bin/bench-app", "share/bench-app/VERSION", "share/bench-app/references"} {
		h.Write([]byte(k))
		h.Write(files[k])
	}
	path := store + "/" + nixBase32(h.Sum(nil))[:32] + "-bench-app-" + version
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".tmp"
		os.RemoveAll(tmp)
		for k, v := range files {
			f := filepath.Join(tmp, k)
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				return err
			}
			mode := os.FileMode(0o444)
			if strings.HasPrefix(k, "bin/") {
				mode = 0o555
			}
			if err := os.WriteFile(f, v, mode); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	var size int64
	for _, v := range files {
		size += int64(len(v))
	}
	slices.Sort(roots)
	nodes = append(nodes, node{Path: path, NarSize: size, References: roots})
	if err := saveGraph(filepath.Join(dir, fmt.Sprintf("graph-app-%d.json", n)), nodes); err != nil {
		return err
	}
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, path)
	return w.Flush()
}

// nixBase32 encodes b the way Nix prints hashes (its own alphabet, least
// significant bits last).
func nixBase32(b []byte) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	n := (len(b)*8-1)/5 + 1
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		bit := i * 5
		j, k := bit/8, uint(bit%8)
		c := b[j] >> k
		if j+1 < len(b) {
			c |= b[j+1] << (8 - k)
		}
		out[n-1-i] = alphabet[c&0x1f]
	}
	return string(out)
}

// sanitize keeps the characters Nix allows in store path names.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("+-._?=", r):
			return r
		}
		return '_'
	}, s)
}
