package closure

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
)

// Parse reads a closure graph in any shape Nix writes:
//
//   - a list of {"path", "references", "narSize", ...} objects
//     (exportReferencesGraph; nix path-info --json --recursive before 2.19);
//   - an object keyed by store path whose values hold "references" and
//     "narSize" (nix path-info --json --recursive since 2.19);
//   - an object with a member holding such a list (a structured-attrs
//     .attrs.json): the member named key, or when key is "" the only member
//     that is a list of objects.
//
// A path may appear twice if its references are the same (the first entry
// counts). narSize is only checked by AutoLayers. Errors start with name
// and say what is wrong: malformed JSON (with the byte offset), an unknown
// shape, a reference to a path not in the graph, a cycle between two
// different paths, a path listed twice with different references.
func Parse(r io.Reader, name, key string) (*Graph, error) {
	data, err := readAll(r)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err // the name says which file
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g, err := parse(data, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g.name = name
	return g, nil
}

// readAll reads r to the end, in one allocation when r is a regular file.
func readAll(r io.Reader) ([]byte, error) {
	f, ok := r.(interface{ Stat() (fs.FileInfo, error) })
	if !ok {
		return io.ReadAll(r)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() <= 0 || fi.Size() > 1<<40 {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, fi.Size()+1) // +1: EOF without growing
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

func parse(data []byte, key string) (*Graph, error) {
	b := &builder{r: reader{data: data}, ids: make(map[string]int32)}
	err := b.document(key)
	if err == nil {
		return b.finish()
	}
	// Malformation wins over any other problem, wherever the walk stopped,
	// and encoding/json words it.
	if !json.Valid(data) {
		var v json.RawMessage
		err := json.Unmarshal(data, &v)
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return nil, fmt.Errorf("malformed JSON at byte %d: %s", se.Offset, se)
		}
		return nil, fmt.Errorf("malformed JSON: %v", err)
	}
	if err == errSyntax { // the reader and encoding/json disagree: a bug
		return nil, fmt.Errorf("malformed JSON at byte %d", b.r.pos)
	}
	return nil, err
}

// builder collects entries while the reader walks the document.
type builder struct {
	r reader

	ids   map[string]int32 // every path seen, as a path or a reference
	names []string         // by id
	entry []int32          // by id: index of the entry defining it, or -1
	refBy []int32          // by id: entry that first referenced it

	// entries, in input order
	entryID []int32
	refOff  []int32
	refs    []int32 // ids, sorted, unique, no self
	narSize []uint64
	sizeErr string

	scratch []int32
	refStr  []jstring
}

func (b *builder) intern(s jstring) int32 {
	var name string
	if !s.escaped {
		if id, ok := b.ids[string(s.raw)]; ok {
			return id
		}
		name = string(s.raw)
	} else {
		name = s.String()
		if id, ok := b.ids[name]; ok {
			return id
		}
	}
	id := int32(len(b.names))
	b.ids[name] = id
	b.names = append(b.names, name)
	b.entry = append(b.entry, -1)
	b.refBy = append(b.refBy, int32(len(b.entryID)))
	return id
}

func (b *builder) document(key string) error {
	r := &b.r
	switch r.peek() {
	case '[':
		if key != "" {
			return fmt.Errorf("the graph is a list, it has no member %q", key)
		}
		if err := b.list(); err != nil {
			return err
		}
	case '{':
		if err := b.object(key); err != nil {
			return err
		}
	case 0:
		return errSyntax
	default:
		return fmt.Errorf("unknown shape: %s, not a list or an object", r.kind())
	}
	return r.end()
}

// list reads a list of entries.
func (b *builder) list() error {
	return b.r.array(func() error { return b.entryValue(nil) })
}

// keyed reads an object of entries keyed by path.
func (b *builder) keyed() error {
	return b.r.object(func(k jstring) error { return b.entryValue(&k) })
}

// member is a member of a top-level object, as the first pass saw it.
type member struct {
	name  string
	pos   int  // offset of the value
	kind  byte // first byte of the value
	items int  // elements, for a list
	objs  bool // a list whose elements are all objects
}

func (b *builder) object(key string) error {
	r := &b.r
	start := r.pos
	var members []member
	err := r.object(func(k jstring) error {
		m := member{name: k.String(), pos: r.pos, kind: r.peek(), objs: true}
		var err error
		if m.kind == '[' {
			err = r.array(func() error {
				m.items++
				m.objs = m.objs && r.peek() == '{'
				return r.skip()
			})
		} else {
			err = r.skip()
		}
		members = append(members, m)
		return err
	})
	if err != nil {
		return err
	}
	end := r.pos
	// A later member of the same name replaces an earlier one.
	last := make(map[string]int, len(members))
	for i, m := range members {
		last[m.name] = i
	}
	uniq := members[:0:0]
	for i, m := range members {
		if last[m.name] == i {
			uniq = append(uniq, m)
		}
	}
	pick := func(m member) error {
		var err error
		r.pos = m.pos
		switch m.kind {
		case '[':
			err = b.list()
		case '{':
			err = b.keyed()
		default:
			return fmt.Errorf("member %q is %s, not a list of store paths", m.name, r.kind())
		}
		r.pos = end
		return err
	}

	if key != "" {
		for _, m := range uniq {
			if m.name == key {
				return pick(m)
			}
		}
		return fmt.Errorf("no member %q (members: %s)", key, nameList(uniq))
	}
	keyed := true
	for _, m := range uniq {
		keyed = keyed && (m.kind == '{' || m.kind == 'n')
	}
	if keyed {
		r.pos = start
		err := b.keyed()
		r.pos = end
		return err
	}
	var lists, empty []member
	for _, m := range uniq {
		switch {
		case m.kind == '[' && m.items > 0 && m.objs:
			lists = append(lists, m)
		case m.kind == '[' && m.items == 0:
			empty = append(empty, m)
		}
	}
	if len(lists) == 0 {
		lists = empty
	}
	switch len(lists) {
	case 1:
		return pick(lists[0])
	case 0:
		return fmt.Errorf("unknown shape: an object with no list of store paths (members: %s)", nameList(uniq))
	default:
		return fmt.Errorf("several lists of store paths (%s): choose one with a key", nameList(lists))
	}
}

func nameList(ms []member) string {
	var names []string
	for i, m := range ms {
		if i == 10 {
			names = append(names, "...")
			break
		}
		names = append(names, strconv.Quote(m.name))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// entryValue reads one entry: an object with "path" (unless key gives the
// path), "references" and "narSize".
func (b *builder) entryValue(key *jstring) error {
	r := &b.r
	at := r.pos
	where := func() string {
		if key != nil {
			return strconv.Quote(key.String())
		}
		return fmt.Sprintf("entry at byte %d", at)
	}
	switch c := r.peek(); {
	case c == 'n' && key != nil:
		return fmt.Errorf("%s: null, not a valid store path", where())
	case c != '{':
		return fmt.Errorf("%s: %s, not an object", where(), r.kind())
	}
	var (
		path     jstring
		hasPath  bool
		hasRefs  bool
		size     []byte
		sizeKind string
	)
	if key != nil {
		path, hasPath = *key, true
	}
	err := r.object(func(k jstring) error {
		switch {
		case key == nil && k.is("path"):
			if r.peek() != '"' {
				return fmt.Errorf("%s: path is %s, not a string", where(), r.kind())
			}
			var err error
			path, err = r.str()
			hasPath = true
			return err
		case k.is("references"):
			if r.peek() != '[' {
				return fmt.Errorf("%s: references is %s, not a list", where(), r.kind())
			}
			hasRefs = true
			b.refStr = b.refStr[:0] // a later "references" replaces an earlier one
			return r.array(func() error {
				if r.peek() != '"' {
					return fmt.Errorf("%s: a reference is %s, not a string", where(), r.kind())
				}
				s, err := r.str()
				b.refStr = append(b.refStr, s)
				return err
			})
		case k.is("narSize"):
			start := r.pos
			if c := r.peek(); c == '-' || '0' <= c && c <= '9' {
				sizeKind = "number"
				var err error
				size, err = r.number()
				return err
			}
			sizeKind = r.kind()
			err := r.skip()
			size = r.data[start:r.pos]
			return err
		default:
			return r.skip()
		}
	})
	if err != nil {
		return err
	}
	if !hasPath {
		return fmt.Errorf("%s: no path", where())
	}
	name := path.String()
	if err := checkPath(name); err != nil {
		return err
	}
	if !hasRefs {
		return fmt.Errorf("%s: no references", name)
	}
	id := b.intern(path)
	refs := b.scratch[:0]
	for _, s := range b.refStr {
		refs = append(refs, b.intern(s))
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	if i, ok := slices.BinarySearch(refs, id); ok {
		refs = slices.Delete(refs, i, i+1)
	}
	b.scratch = refs

	if e := b.entry[id]; e >= 0 {
		if !slices.Equal(refs, b.refs[b.refOff[e]:b.refOff[e+1]]) {
			return fmt.Errorf("%s appears twice with different references", name)
		}
		return nil
	}
	e := int32(len(b.entryID))
	b.entry[id] = e
	b.entryID = append(b.entryID, id)
	if len(b.refOff) == 0 {
		b.refOff = append(b.refOff, 0)
	}
	b.refs = append(b.refs, refs...)
	b.refOff = append(b.refOff, int32(len(b.refs)))
	n, problem := narSize(size, sizeKind)
	if problem != "" && b.sizeErr == "" {
		b.sizeErr = fmt.Sprintf("%s: %s", name, problem)
	}
	b.narSize = append(b.narSize, n)
	return nil
}

// checkPath rejects what cannot stand in a layer plan line.
func checkPath(p string) error {
	if p == "" {
		return errors.New("an empty store path")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%q is not a store path (white space or control character)", p)
		}
	}
	return nil
}

// printable returns p as it is when it could be a store path, quoted
// (Go syntax) when it holds white space or control characters, so that an
// error message stays one readable line.
func printable(p string) string {
	if p == "" || checkPath(p) != nil {
		return strconv.Quote(p)
	}
	return p
}

// narSize reads a narSize value; problem says why it is not a
// non-negative integer.
func narSize(raw []byte, kind string) (n uint64, problem string) {
	switch kind {
	case "":
		return 0, "no narSize"
	case "number":
	default:
		return 0, fmt.Sprintf("narSize is %s, not a non-negative integer", kind)
	}
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, fmt.Sprintf("narSize %s is not a non-negative integer", raw)
		}
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Sprintf("narSize %s is too large", raw)
	}
	return n, ""
}

// finish checks the references and orders the graph.
func (b *builder) finish() (*Graph, error) {
	for id, e := range b.entry {
		if e < 0 {
			referrer := b.names[b.entryID[b.refBy[id]]]
			return nil, fmt.Errorf("%s references %s, which is not in the graph", referrer, printable(b.names[id]))
		}
	}
	g := &Graph{
		paths:   make([]string, len(b.entryID)),
		refOff:  b.refOff,
		refs:    b.refs,
		narSize: b.narSize,
		sizeErr: b.sizeErr,
	}
	if len(g.refOff) == 0 {
		g.refOff = []int32{0}
	}
	for i, id := range b.entryID {
		g.paths[i] = b.names[id]
	}
	for i, id := range g.refs {
		g.refs[i] = b.entry[id]
	}
	// References were sorted by id; keep them sorted by index.
	for i := range g.paths {
		slices.Sort(g.references(int32(i)))
	}
	if err := g.sortTopo(); err != nil {
		return nil, err
	}
	return g, nil
}

// sortTopo orders the paths so that each comes before every path it
// references (Kahn's algorithm, ties in input order), or names two paths
// of a cycle.
func (g *Graph) sortTopo() error {
	n := len(g.paths)
	indeg := make([]int32, n)
	for _, c := range g.refs {
		indeg[c]++
	}
	topo := make([]int32, 0, n)
	for i := range n {
		if indeg[i] == 0 {
			topo = append(topo, int32(i))
		}
	}
	for k := 0; k < len(topo); k++ {
		for _, c := range g.references(topo[k]) {
			if indeg[c]--; indeg[c] == 0 {
				topo = append(topo, c)
			}
		}
	}
	if len(topo) == n {
		g.topo = topo
		return nil
	}
	// Every path left is referenced by another path left: walk back from
	// the first one along such referrers until one repeats.
	referrer := make(map[int32]int32)
	first := int32(-1)
	for i := range n {
		if indeg[i] == 0 {
			continue
		}
		if first < 0 {
			first = int32(i)
		}
		for _, c := range g.references(int32(i)) {
			if _, ok := referrer[c]; !ok && indeg[c] > 0 {
				referrer[c] = int32(i)
			}
		}
	}
	seen := make(map[int32]bool)
	v := first
	for !seen[v] {
		seen[v] = true
		v = referrer[v]
	}
	return fmt.Errorf("cycle between %s and %s", g.paths[referrer[v]], g.paths[v])
}
