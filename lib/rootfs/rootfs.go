// Package rootfs owns the root filesystem of an image: its layers applied
// in order, written as one tar (what nixpkgs' exportImage makes in a VM,
// and `crane export` or `docker export` make from a registry or a
// container).
//
// # What the layers mean
//
// The layers are applied oldest first, each entry in its layer's order,
// the way docker and containerd apply them:
//
//   - a name is taken relative to the root ("/nix/store/x", "./x" and "x"
//     are the same file); a name with a ".." component is refused;
//   - a non-directory replaces whatever was at its name (a whole directory
//     tree included); a directory over a directory changes only the
//     directory's metadata (mode, owner, times, extended attributes) and
//     keeps what is inside; missing parent directories are created (mode
//     0755, owner 0:0, mtime 0, as containerd and docker's plain untar
//     make them; docker's layer apply makes them 0600);
//   - a hard link shares the file its target names at that moment (earlier
//     entries of its own layer, or lower layers); replacing or removing the
//     target later leaves the link with the file it had. The link entry's
//     own mode, owner, mtime and extended attributes become the file's, as
//     docker and containerd set them through the new name (tar writers
//     give a link the same metadata as its file, so this rarely shows);
//   - ".wh.NAME" removes NAME and everything below it, and
//     ".wh..wh..opq" empties its directory. As the OCI image spec says,
//     both apply to the lower layers only: what the whiteout's own layer
//     puts there stays, wherever in the layer the whiteout is (docker
//     applies a whiteout where it stands, so one written after what its
//     layer adds, which the spec's writers never do, removes that too;
//     crane export drops what a layer adds below its own whiteout). Other
//     ".wh..wh." names, and what is below a top-level ".wh..wh." directory
//     (AUFS bookkeeping), are ignored, as docker ignores them; so are PAX
//     global headers;
//   - an entry may not be written through a symlink: a name whose parent
//     (or a hard link whose target's parent) is a symlink in the tree built
//     so far is refused, as it could climb out of the root; so is a
//     whiteout that would remove through one, or that names "." or "..";
//     a parent that is another kind of file is an error too; so is a
//     sparse file (GNU tar --sparse: its holes would be written out as
//     zeros, and a layer of a few KiB can claim exabytes).
//
// # The output
//
// Entry order: the layers bottom up, and within a layer the entries that
// survive, in the layer's order. Extracting the output in order therefore
// creates files in the order applying the layers did: each directory comes
// before what it holds and each hard link after its target. A directory is
// written where it was first created, with the metadata of the last entry
// that set it. A hard-linked file whose first name was removed or replaced
// in an upper layer is written, with its contents, under its first
// surviving name, where the file was written in its layer (so it may come
// before that name's directory: tar extractors create it); its other
// names are hard links to that one. The root directory itself is not
// written.
//
// Headers are normalised, so the bytes depend only on the entries'
// content, never on the tar dialect of the layers: the format of package
// pytar (ustar, PAX records where a value does not fit), names relative
// without "./", directories ending in "/", permission bits (mode&07777),
// numeric owners and owner names as found, mtimes in whole seconds (or one
// fixed mtime, Options.Mtime, as exportImage's SOURCE_DATE_EPOCH), device
// numbers for devices only, extended attributes (SCHILY.xattr.*) sorted,
// and nothing else (no atime, ctime, other PAX records or GNU extensions).
// A hard link entry carries its file's metadata. The same layers give the
// same bytes.
//
// # How: two passes, memory in paths, not bytes
//
// The first pass reads every layer's headers (not keeping any data) and
// applies them to a tree of names in memory: the image as it stands after
// each layer, checks included. Every error of the input is found there,
// before a byte is written. The tree then says, for each surviving file,
// which entry of which layer it comes from. The second pass reads the
// layers again, bottom up, and copies those entries to the output; a layer
// holding none is not read again. Memory grows with the number of names in
// the image (about 120 bytes each), never with the bytes of the files; the
// price is reading each layer twice, and each read is checked against the
// layer's diffID.
package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/pytar"
)

// Whiteout names (OCI image spec, "Representing Changes").
const (
	WhiteoutPrefix = ".wh."
	WhiteoutMeta   = ".wh..wh."
	WhiteoutOpaque = ".wh..wh..opq"
)

// Options adjust the output.
type Options struct {
	// ForceMtime writes Mtime (seconds since the epoch) as every entry's
	// modification time, as nixpkgs' exportImage writes
	// SOURCE_DATE_EPOCH; otherwise each entry keeps its own.
	ForceMtime bool
	Mtime      int64
}

// Stats describe what Export wrote.
type Stats struct {
	Entries int   // tar entries written
	Files   int   // of which regular files (hard links not counted)
	Bytes   int64 // bytes of file contents
}

// Export writes the root filesystem of the layers (oldest first) to w as
// one tar. It writes nothing until every layer has been read and checked;
// a failure of w comes back as an *image.WriteError.
func Export(w io.Writer, layers []image.Layer, opts Options) (Stats, error) {
	t := &tree{root: &node{children: map[string]*node{}}}
	for i := range layers {
		t.starts = append(t.starts, t.entries)
		if err := t.readLayer(layers, i); err != nil {
			return Stats{}, err
		}
	}
	return t.write(w, layers, opts)
}

// A key says where the entry a node comes from is, and so where the node
// goes in the output: the entry's index among the entries of all layers,
// shifted left by keyShift; below, the order of the directories the
// entry's name made (parents first), and keyEntry for the entry itself.
const (
	keyShift = 16
	keyEntry = 1<<keyShift - 1
)

// node is a name in the tree. It is kept small: an image has one for
// each of its files.
type node struct {
	name     string
	parent   *node
	children map[string]*node // non-nil for directories only
	meta     *pytar.Header    // directories: the metadata to write (nil: made implicitly)
	ino      *inode           // a file with hard links: what its names share
	at       uint64           // key of the entry that created it
	layer    int32            // layer of its last entry (a higher layer's whiteout removes it)
	typ      byte             // tar type of a non-directory
}

func (n *node) isDir() bool { return n.children != nil }

// path is the node's name from the root.
func (n *node) path() string {
	if n.parent == nil {
		return ""
	}
	if n.parent.parent == nil {
		return n.name
	}
	return n.parent.path() + "/" + n.name
}

// inode is a file that several names share (hard links).
type inode struct {
	at      uint64        // key of the entry holding its header and contents
	meta    *pytar.Header // the metadata the last hard link entry set, if any
	members []*node       // its surviving names, in output order
	hdr     *pytar.Header // second pass: its header, for the links
}

// out is where a node goes in the output: a file whose first surviving
// name is not its first name goes where its contents are.
func (n *node) out() uint64 {
	if n.ino != nil && n.ino.members[0] == n {
		return n.ino.at
	}
	return n.at
}

type tree struct {
	root    *node
	entries uint64   // entries read so far, all layers
	starts  []uint64 // index of each layer's first entry
}

// inputError names the layer and entry of a problem.
type inputError struct {
	layer  string
	entry  string
	reason string
}

func (e *inputError) Error() string {
	return fmt.Sprintf("%s: entry %q %s", e.layer, e.entry, e.reason)
}

func layerName(layers []image.Layer, i int) string {
	src := ""
	if layers[i].Source != nil {
		src = layers[i].Source.String()
	}
	if src == "" {
		src = layers[i].DiffID.String()
	}
	return fmt.Sprintf("layer %d of %d (%s)", i+1, len(layers), src)
}

// readLayer is the first pass over one layer.
func (t *tree) readLayer(layers []image.Layer, li int) error {
	rc := layers[li].Open()
	defer rc.Close()
	tr := tar.NewReader(rc)
	for ord := 1; ; ord++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: reading entry %d: %w", layerName(layers, li), ord, err)
		}
		if err := t.apply(hdr, int32(li)); err != nil {
			var ie *inputError
			if errors.As(err, &ie) {
				ie.layer = layerName(layers, li)
			}
			return err
		}
		t.entries++
	}
	// Read to the end: the source checks the layer against its diffID
	// only once it has written every byte.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("%s: %w", layerName(layers, li), err)
	}
	return nil
}

// splitName returns the components of an entry's name below the root.
func splitName(name string) ([]string, string) {
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return nil, `climbs out of the root with ".."`
			}
			return nil, `has a ".." component (a layer may not hold one)`
		default:
			parts = append(parts, c)
		}
	}
	return parts, ""
}

// walk returns the directory holding parts[len(parts)-1], creating missing
// directories when create is set (for entry the current entry of layer
// li). Without create, a missing or non-directory parent gives nil. A
// symlink on the way is an error.
func (t *tree) walk(parts []string, create bool, li int32, what string) (*node, error) {
	n := t.root
	made := uint64(0)
	for i, c := range parts[:len(parts)-1] {
		ch := n.children[c]
		switch {
		case ch == nil:
			if !create {
				return nil, nil
			}
			if made == keyEntry {
				return nil, &inputError{reason: fmt.Sprintf("makes more than %d directories", keyEntry)}
			}
			ch = &node{name: strings.Clone(c), parent: n, children: map[string]*node{}, layer: li, at: t.entries<<keyShift | made}
			made++
			n.children[ch.name] = ch
		case ch.isDir():
		case ch.typ == tar.TypeSymlink:
			return nil, &inputError{reason: fmt.Sprintf("%s through the symlink %q: it could climb out of the root", what, strings.Join(parts[:i+1], "/"))}
		default:
			if !create {
				return nil, nil
			}
			return nil, &inputError{reason: fmt.Sprintf("%s below %q, which is not a directory", what, strings.Join(parts[:i+1], "/"))}
		}
		n = ch
	}
	return n, nil
}

// apply applies one entry of layer li in the first pass.
func (t *tree) apply(hdr *tar.Header, li int32) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // no file; docker ignores it too
	}
	parts, bad := splitName(hdr.Name)
	if bad != "" {
		return &inputError{entry: hdr.Name, reason: bad}
	}
	if len(parts) == 0 { // the root itself
		if hdr.Typeflag != tar.TypeDir {
			return &inputError{entry: hdr.Name, reason: "would replace the root directory with a file"}
		}
		return nil
	}
	if strings.HasPrefix(parts[0], WhiteoutMeta) && (len(parts) > 1 || parts[0] != WhiteoutOpaque) {
		return nil // AUFS bookkeeping (.wh..wh.plnk/...), as docker ignores it
	}
	base := parts[len(parts)-1]
	if strings.HasPrefix(base, WhiteoutPrefix) {
		return t.whiteout(hdr.Name, parts, li)
	}
	typ, err := entryType(hdr)
	if err != nil {
		return &inputError{entry: hdr.Name, reason: err.Error()}
	}
	var target *node
	if typ == tar.TypeLink {
		if target, err = t.linkTarget(hdr.Linkname, li); err != nil {
			err.(*inputError).entry = hdr.Name
			return err
		}
	}
	dir, err := t.walk(parts, true, li, "is written")
	if err != nil {
		err.(*inputError).entry = hdr.Name
		return err
	}
	old := dir.children[base]
	if typ == tar.TypeDir && old != nil && old.isDir() {
		old.layer = li
		old.meta = header(hdr)
		return nil
	}
	n := &node{name: strings.Clone(base), parent: dir, layer: li, at: t.entries<<keyShift | keyEntry, typ: typ}
	switch typ {
	case tar.TypeDir:
		n.children = map[string]*node{}
		n.meta = header(hdr)
	case tar.TypeLink:
		if target.ino == nil {
			target.ino = &inode{at: target.at}
		}
		n.typ, n.ino = target.typ, target.ino
		n.ino.meta = header(hdr)
	}
	dir.children[n.name] = n // replaces old, and all below it
	return nil
}

// entryType is the kind of file an entry makes.
func entryType(hdr *tar.Header) (byte, error) {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return 0, errSparse
		}
	}
	switch hdr.Typeflag {
	case tar.TypeGNUSparse:
		return 0, errSparse
	case tar.TypeReg, tar.TypeRegA:
		return tar.TypeReg, nil
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return hdr.Typeflag, nil
	}
	return 0, fmt.Errorf("has a type (%q) that no file system file has", hdr.Typeflag)
}

// errSparse refuses sparse files: the output would hold their holes as
// zeros, and a layer of a few KiB can claim a file of exabytes.
var errSparse = errors.New("is a sparse file (GNU tar --sparse), which is not supported: its holes would be written out in full")

// linkTarget finds the file a hard link names.
func (t *tree) linkTarget(linkname string, li int32) (*node, error) {
	parts, bad := splitName(linkname)
	if bad != "" {
		return nil, &inputError{reason: fmt.Sprintf("is a hard link to %q, which %s", linkname, bad)}
	}
	if len(parts) == 0 {
		return nil, &inputError{reason: fmt.Sprintf("is a hard link to %q, the root directory", linkname)}
	}
	dir, err := t.walk(parts, false, li, fmt.Sprintf("is a hard link to %q, reached", linkname))
	if err != nil {
		return nil, err
	}
	var n *node
	if dir != nil {
		n = dir.children[parts[len(parts)-1]]
	}
	switch {
	case n == nil:
		return nil, &inputError{reason: fmt.Sprintf("is a hard link to %q, which is not in the image at that point", linkname)}
	case n.isDir():
		return nil, &inputError{reason: fmt.Sprintf("is a hard link to %q, a directory", linkname)}
	}
	return n, nil
}

// whiteout applies a whiteout entry of layer li.
func (t *tree) whiteout(name string, parts []string, li int32) error {
	base := parts[len(parts)-1]
	fail := func(reason string) error { return &inputError{entry: name, reason: reason} }
	opaque := base == WhiteoutOpaque
	if !opaque && strings.HasPrefix(base, WhiteoutMeta) {
		return nil // AUFS bookkeeping, as docker ignores it
	}
	if opaque {
		dir, err := t.walk(parts, false, li, "empties its directory")
		if err != nil {
			err.(*inputError).entry = name
			return err
		}
		if dir != nil {
			pruneLower(dir, li)
		}
		return nil
	}
	target := strings.TrimPrefix(base, WhiteoutPrefix)
	switch target {
	case "":
		return fail("is a whiteout of no name")
	case ".":
		return fail("is a whiteout of its own directory")
	case "..":
		return fail("is a whiteout of \"..\": it climbs out of the root")
	}
	d, err := t.walk(parts, false, li, "removes files")
	if err != nil {
		err.(*inputError).entry = name
		return err
	}
	if d == nil {
		return nil
	}
	if n := d.children[target]; n != nil && !keepLower(n, li) {
		delete(d.children, target)
	}
	return nil
}

// pruneLower removes what layers below li put in dir.
func pruneLower(dir *node, li int32) {
	for name, ch := range dir.children {
		if !keepLower(ch, li) {
			delete(dir.children, name)
		}
	}
}

// keepLower prunes what layers below li put in n and reports whether n
// stays: it does if layer li wrote it, or, for a directory, wrote
// something below it.
func keepLower(n *node, li int32) bool {
	if n.isDir() {
		pruneLower(n, li)
		return n.layer == li || len(n.children) > 0
	}
	return n.layer == li
}

// output lists the nodes of the final tree in output order.
func (t *tree) output() []*node {
	var out []*node
	var linked []*inode
	var visit func(*node)
	visit = func(n *node) {
		for _, ch := range n.children {
			out = append(out, ch)
			if ch.isDir() {
				visit(ch)
			} else if ch.ino != nil {
				if len(ch.ino.members) == 0 {
					linked = append(linked, ch.ino)
				}
				ch.ino.members = append(ch.ino.members, ch)
			}
		}
	}
	visit(t.root)
	for _, ino := range linked {
		sort.Slice(ino.members, func(i, j int) bool { return ino.members[i].at < ino.members[j].at })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].out() < out[j].out() })
	return out
}

// header is the normalised header of an entry, without its name.
func header(hdr *tar.Header) *pytar.Header {
	typ, _ := entryType(hdr)
	h := &pytar.Header{
		Mode:     hdr.Mode & 0o7777,
		Uid:      int64(hdr.Uid),
		Gid:      int64(hdr.Gid),
		Uname:    hdr.Uname,
		Gname:    hdr.Gname,
		Mtime:    hdr.ModTime.Unix(),
		Typeflag: typ,
	}
	switch typ {
	case tar.TypeReg:
		h.Size = hdr.Size
	case tar.TypeSymlink:
		h.Linkname = hdr.Linkname
	case tar.TypeChar, tar.TypeBlock:
		h.Devmajor, h.Devminor = hdr.Devmajor, hdr.Devminor
	}
	var keys []string
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		h.PAX = append(h.PAX, pytar.Record{Key: k, Value: hdr.PAXRecords[k]})
	}
	return h
}

// writeErrors marks the output's failures as *image.WriteError.
type writeErrors struct{ w io.Writer }

func (o writeErrors) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	if err != nil {
		err = &image.WriteError{Err: err}
	}
	return n, err
}

// write is the second pass.
func (t *tree) write(w io.Writer, layers []image.Layer, opts Options) (Stats, error) {
	out := t.output()
	t.root = nil // the nodes to write hold what is still needed
	tw := pytar.NewWriter(writeErrors{w})
	var st Stats
	emit := func(h *pytar.Header) error {
		if opts.ForceMtime {
			h.Mtime = opts.Mtime
		}
		st.Entries++
		return tw.WriteHeader(h)
	}
	for li := range layers {
		end := t.entries
		if li+1 < len(layers) {
			end = t.starts[li+1]
		}
		k := 0
		for k < len(out) && out[k].out()>>keyShift < end {
			k++
		}
		if k == 0 {
			continue // nothing of this layer survives
		}
		if err := writeLayer(tw, layers, li, t.starts[li], out[:k], emit, &st); err != nil {
			return st, err
		}
		out = out[k:]
	}
	return st, tw.Close()
}

// writeLayer copies the surviving entries of one layer, whose first
// entry has index start.
func writeLayer(tw *pytar.Writer, layers []image.Layer, li int, start uint64, nodes []*node, emit func(*pytar.Header) error, st *Stats) error {
	rc := layers[li].Open()
	defer rc.Close()
	tr := tar.NewReader(rc)
	changed := func(ord uint64, what string) error {
		return fmt.Errorf("%s: entry %d is %s on a second read: the layer changed while it was exported", layerName(layers, li), ord+1, what)
	}
	for idx := start; len(nodes) > 0; idx++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return changed(idx-start, "missing")
		}
		if err != nil {
			return fmt.Errorf("%s: reading entry %d: %w", layerName(layers, li), idx-start+1, err)
		}
		for len(nodes) > 0 && nodes[0].out()>>keyShift == idx {
			n := nodes[0]
			nodes = nodes[1:]
			name := n.path()
			switch {
			case n.isDir():
				h := pytar.Header{Mode: 0o755, Typeflag: pytar.TypeDir}
				if n.meta != nil {
					h = *n.meta
				}
				h.Name = name
				if err := emit(&h); err != nil {
					return err
				}
			case n.ino == nil || n.ino.members[0] == n: // the file, with its contents
				typ, _ := entryType(hdr)
				if typ != n.typ {
					return changed(idx-start, fmt.Sprintf("of type %q, not %q", hdr.Typeflag, n.typ))
				}
				h := header(hdr)
				if ino := n.ino; ino != nil {
					if m := ino.meta; m != nil {
						h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.Mtime, h.PAX = m.Mode, m.Uid, m.Gid, m.Uname, m.Gname, m.Mtime, m.PAX
					}
					ino.hdr = h
				}
				c := *h
				c.Name = name
				if err := emit(&c); err != nil {
					return err
				}
				if typ == tar.TypeReg {
					st.Files++
					k, err := io.Copy(tw, tr)
					st.Bytes += k
					if err != nil {
						return err
					}
				}
			default: // another name of a file written before
				if hdr.Typeflag != tar.TypeLink {
					return changed(idx-start, "not a hard link")
				}
				h := *n.ino.hdr
				h.Name = name
				h.Typeflag = pytar.TypeLink
				h.Linkname = n.ino.members[0].path()
				h.Size = 0
				if err := emit(&h); err != nil {
					return err
				}
			}
		}
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("%s: %w", layerName(layers, li), err)
	}
	return nil
}
