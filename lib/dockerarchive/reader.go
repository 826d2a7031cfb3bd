// Package dockerarchive owns the docker-archive format: what `docker save`
// writes and `docker load` reads.
//
//	manifest.json     [{"Config": "<hex>.json", "RepoTags": ["name:tag"],
//	                    "Layers": ["<hex>/layer.tar", ...]}]
//	<hex>.json        an image config; <hex> is its sha256, the image ID
//	<hex>/layer.tar   one layer, uncompressed, per diffID
//	repositories      {"name": {"tag": "<hex of the top layer>"}}, for old engines
//
// The reader takes what docker save writes (Docker 20.10's layout above
// and Docker 25's, whose members are "blobs/sha256/<hex>" beside an OCI
// index), nixpkgs' archives and this toolkit's, plain, gzip or zstd
// (recognised by content). It treats its input as untrusted: member names
// that are absolute or climb out with "..", link members where a file is
// expected, sizes beyond the archive, oversized JSON and layers that do not
// match their diff_id are refused, and nothing is held in memory but the
// JSON documents.
//
// A layer member may be a symlink or hard link to another member of the
// archive that is a regular file, as docker save before version 25 writes
// a layer shared by two images at different depths; a link that leaves
// the archive, or leads to another link, is refused.
//
// The writer streams an archive member by member, each layer and config
// once.
package dockerarchive

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/opencontainers/go-digest"
)

// Limits on untrusted archives.
const (
	// MaxJSONSize bounds manifest.json, configs and repositories.
	MaxJSONSize = 16 << 20
	// MaxImages bounds the manifest's entries.
	MaxImages = 10000
	// MaxLayers bounds one image's layers (Docker's own limit is 125).
	MaxLayers = 1000
	// MaxMembers bounds the archive's members, whose headers are held
	// while the archive is indexed (docker save writes at most four per
	// layer, and MaxLayerRefs bounds the layers).
	MaxMembers = 1 << 18
	// MaxLayerRefs bounds the layers of all the manifest's images
	// together, so a manifest cannot make the reader hold millions of
	// them (a layer shared by several images counts once per image).
	MaxLayerRefs = 1 << 16
	// MaxConfigBytes bounds the configs of all images together: they
	// are held in memory.
	MaxConfigBytes = 64 << 20
)

// Archive is an image archive opened for reading.
type Archive struct {
	Name    string // the file, as named in messages
	Kind    compress.Kind
	Images  []Image
	f       *os.File
	size    int64
	members map[string]member
	configs map[string]*config // by member name: each read once
	cfgSize int64              // bytes of configs read
}

// config is a config member, read and parsed once however many images
// name it.
type config struct {
	data    []byte
	digest  digest.Digest
	diffIDs []digest.Digest
	err     error
}

// member is where one archive member's data lives.
type member struct {
	hdr    *tar.Header
	offset int64
}

// Image is one entry of the manifest.
type Image struct {
	RepoTags []string
	// ConfigName is the config's member name; Config its bytes, and
	// ConfigDigest their sha256 (the image ID).
	ConfigName   string
	Config       []byte
	ConfigDigest digest.Digest
	Layers       []Layer
}

// Layer is one layer of an image.
type Layer struct {
	Name   string // member name
	DiffID digest.Digest
	// Header is the member's header as read: for a layer stored once
	// and linked to from a second place (docker save before 25), the
	// link's; Size and Open give the data of the file it leads to.
	Header *tar.Header
	ar     *Archive
	offset int64
	size   int64
}

// Size is the layer's size in bytes, as stored.
func (l Layer) Size() int64 { return l.size }

// manifestEntry is one element of manifest.json.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Open opens an image archive. Compressed archives are decompressed into
// an unlinked temporary file, so layers can be read in any order; Close
// releases it.
func Open(name string) (*Archive, error) {
	a, err := OpenTar(name)
	if err != nil {
		return nil, err
	}
	if len(a.Images) == 0 { // no manifest.json: readManifest says what is wrong
		err = a.readManifest()
		a.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return a, nil
}

// Close releases the archive.
func (a *Archive) Close() error {
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

type seekable struct {
	file *os.File
	kind compress.Kind
}

// openSeekable opens name ("-" for stdin) as a plain tar that can be read
// at any offset.
func openSeekable(name string) (seekable, error) {
	var in *os.File
	if name == "-" {
		in = os.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return seekable{}, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return seekable{}, err
		}
		if fi.IsDir() {
			f.Close()
			return seekable{}, fmt.Errorf("%s: is a directory, not an image archive", name)
		}
		in = f
	}
	head := make([]byte, 4)
	n, _ := io.ReadFull(in, head)
	head = head[:n]
	kind := compress.None
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		kind = compress.Gzip
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		kind = compress.Zstd
	}
	if kind == compress.None && in != os.Stdin {
		if _, err := in.Seek(0, io.SeekStart); err == nil {
			return seekable{in, kind}, nil
		}
	}
	// Spool: decompress (or copy stdin) into a temporary file.
	defer func() {
		if in != os.Stdin {
			in.Close()
		}
	}()
	tmp, err := os.CreateTemp("", "dockertools-archive-")
	if err != nil {
		return seekable{}, err
	}
	os.Remove(tmp.Name()) // unlinked: gone when closed, even if killed
	r, _, err := compress.NewReader(io.MultiReader(bytes.NewReader(head), in))
	if err != nil {
		tmp.Close()
		return seekable{}, fmt.Errorf("%s: %w", name, err)
	}
	err = spool(tmp, r)
	r.Close()
	if err != nil {
		tmp.Close()
		return seekable{}, fmt.Errorf("%s: decompressing %s: %w", name, kind, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		return seekable{}, err
	}
	return seekable{tmp, kind}, nil
}

// spool copies the tar stream r to w up to the end-of-archive blocks:
// what follows them (docker load ignores it) is not decompressed, so a
// small archive followed by gigabytes of compressed zeros costs neither
// the time nor the disk space. A stream that is not a well-formed tar is
// copied whole, for index to report what is wrong with it.
func spool(w io.Writer, r io.Reader) error {
	tee := io.TeeReader(r, w)
	tr := tar.NewReader(tee)
	for {
		_, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			break
		}
	}
	_, err := io.CopyBuffer(w, r, make([]byte, 1<<20))
	return err
}

// cleanName is a member name as docker load resolves it, or an error for
// a name that would escape the archive's directory.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("member with an empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("member %q has an absolute name", name)
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return "", fmt.Errorf("member %q climbs out of the archive with \"..\"", name)
		}
	}
	if strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("member %q has a NUL byte in its name", name)
	}
	c := path.Clean(name)
	if c == "." {
		return "", nil // the archive root itself
	}
	return c, nil
}

// index reads every member header once, checking names and sizes.
func (a *Archive) index() error {
	fi, err := a.f.Stat()
	if err != nil {
		return err
	}
	a.size = fi.Size()
	a.members = map[string]member{}
	tr := tar.NewReader(a.f)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return errors.New("empty archive: not a docker-archive")
			}
			return nil
		}
		if err != nil {
			if n == 0 {
				return errors.New("not a tar archive, nor a gzip or zstd compressed one")
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return errors.New("truncated archive")
			}
			return fmt.Errorf("reading member %d: %w", n+1, err)
		}
		if n >= MaxMembers {
			return fmt.Errorf("more than %d members", MaxMembers)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		off, err := a.f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		if hdr.Size < 0 || hdr.Size > a.size-off {
			return fmt.Errorf("member %q claims %d bytes but only %d remain in the archive", hdr.Name, hdr.Size, a.size-off)
		}
		if name != "" {
			a.members[name] = member{hdr: hdr, offset: off}
		}
	}
}

// file returns a regular-file member by name.
func (a *Archive) file(name, what string) (member, error) {
	clean, err := cleanName(name)
	if err != nil {
		return member{}, fmt.Errorf("%s: %w", what, err)
	}
	m, ok := a.members[clean]
	if !ok {
		return member{}, fmt.Errorf("%s %q is not in the archive", what, name)
	}
	switch m.hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
	case tar.TypeSymlink, tar.TypeLink:
		return member{}, fmt.Errorf("%s %q is a link, not a file", what, name)
	default:
		return member{}, fmt.Errorf("%s %q is not a regular file (type %q)", what, name, m.hdr.Typeflag)
	}
	return m, nil
}

// readJSON returns a small member's bytes.
func (a *Archive) readJSON(name, what string) ([]byte, error) {
	m, err := a.file(name, what)
	if err != nil {
		return nil, err
	}
	if m.hdr.Size > MaxJSONSize {
		return nil, fmt.Errorf("%s %q is %d bytes, more than the %d a JSON document may have here", what, name, m.hdr.Size, MaxJSONSize)
	}
	buf := make([]byte, m.hdr.Size)
	if _, err := a.f.ReadAt(buf, m.offset); err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, name, err)
	}
	return buf, nil
}

// imageConfig holds what the reader needs of a config.
type imageConfig struct {
	RootFS struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

func (a *Archive) readManifest() error {
	data, err := a.readJSON("manifest.json", "manifest")
	if err != nil {
		if _, ok := a.members["manifest.json"]; !ok {
			return errors.New("no manifest.json: not an image archive from docker save, nixpkgs or this toolkit")
		}
		return err
	}
	entries, err := decodeManifest(data)
	if err != nil {
		return fmt.Errorf("manifest.json: %w", err)
	}
	if len(entries) == 0 {
		return errors.New("manifest.json lists no image")
	}
	for i, e := range entries {
		img, err := a.readImage(e)
		if err != nil {
			return fmt.Errorf("image %d of manifest.json: %w", i+1, err)
		}
		a.Images = append(a.Images, img)
	}
	return nil
}

// decodeManifest decodes manifest.json entry by entry, so that the limits
// on images and layers hold before memory is spent on what is beyond them.
func decodeManifest(data []byte) ([]manifestEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, errors.New("not a JSON array")
	}
	var entries []manifestEntry
	refs := 0
	for dec.More() {
		if len(entries) == MaxImages {
			return nil, fmt.Errorf("lists more than %d images", MaxImages)
		}
		var e manifestEntry
		if err := dec.Decode(&e); err != nil {
			return nil, err
		}
		if len(e.Layers) > MaxLayers {
			return nil, fmt.Errorf("image %d has %d layers, more than %d", len(entries)+1, len(e.Layers), MaxLayers)
		}
		if refs += len(e.Layers); refs > MaxLayerRefs {
			return nil, fmt.Errorf("its images have more than %d layers in all", MaxLayerRefs)
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ]
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON document")
	}
	return entries, nil
}

func (a *Archive) readImage(e manifestEntry) (Image, error) {
	if e.Config == "" {
		return Image{}, errors.New("no Config")
	}
	if len(e.Layers) > MaxLayers {
		return Image{}, fmt.Errorf("%d layers, more than %d", len(e.Layers), MaxLayers)
	}
	c, err := a.readConfig(e.Config)
	if err != nil {
		return Image{}, err
	}
	if len(c.diffIDs) != len(e.Layers) {
		return Image{}, fmt.Errorf("config %q has %d diff_ids for %d layers", e.Config, len(c.diffIDs), len(e.Layers))
	}
	img := Image{RepoTags: e.RepoTags, ConfigName: e.Config, Config: c.data, ConfigDigest: c.digest}
	for i, name := range e.Layers {
		own, data, err := a.layerFile(name)
		if err != nil {
			return Image{}, err
		}
		img.Layers = append(img.Layers, Layer{Name: name, DiffID: c.diffIDs[i], Header: own.hdr, ar: a, offset: data.offset, size: data.hdr.Size})
	}
	return img, nil
}

// readConfig reads and parses a config member, once however many images
// name it.
func (a *Archive) readConfig(name string) (*config, error) {
	key, err := cleanName(name)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if a.configs == nil {
		a.configs = map[string]*config{}
	}
	if c, ok := a.configs[key]; ok {
		return c, c.err
	}
	c := &config{}
	a.configs[key] = c
	c.err = func() error {
		if m, ok := a.members[key]; ok && a.cfgSize+m.hdr.Size > MaxConfigBytes {
			return fmt.Errorf("config %q: the configs add up to more than %d bytes", name, MaxConfigBytes)
		}
		data, err := a.readJSON(name, "config")
		if err != nil {
			return err
		}
		a.cfgSize += int64(len(data))
		var ic imageConfig
		if err := json.Unmarshal(data, &ic); err != nil {
			return fmt.Errorf("config %q: %w", name, err)
		}
		for _, s := range ic.RootFS.DiffIDs {
			d, err := digest.Parse(s)
			if err != nil || d.Algorithm() != digest.SHA256 {
				return fmt.Errorf("config %q: diff_id %q is not a sha256 digest", name, s)
			}
			c.diffIDs = append(c.diffIDs, d)
		}
		c.data, c.digest = data, digest.FromBytes(data)
		return nil
	}()
	return c, c.err
}

// layerFile returns a layer's member and the member holding its data: a
// regular file, or a link and the regular file elsewhere in the archive it
// leads to.
func (a *Archive) layerFile(name string) (own, data member, err error) {
	clean, err := cleanName(name)
	if err != nil {
		return member{}, member{}, fmt.Errorf("layer: %w", err)
	}
	m, ok := a.members[clean]
	if !ok || (m.hdr.Typeflag != tar.TypeSymlink && m.hdr.Typeflag != tar.TypeLink) {
		m, err := a.file(name, "layer")
		return m, m, err
	}
	target := m.hdr.Linkname
	if m.hdr.Typeflag == tar.TypeSymlink && !strings.HasPrefix(target, "/") {
		target = path.Join(path.Dir(clean), target) // relative to the link
	}
	if strings.HasPrefix(target, "/") || target == ".." || strings.HasPrefix(target, "../") {
		return member{}, member{}, fmt.Errorf("layer %q is a link to %q, outside the archive", name, m.hdr.Linkname)
	}
	t, err := a.file(target, "layer")
	if err != nil {
		return member{}, member{}, fmt.Errorf("layer %q is a link to %q: %w", name, m.hdr.Linkname, err)
	}
	return m, t, nil
}

// Open returns the layer member's bytes, as stored.
func (l Layer) Open() io.Reader {
	return io.NewSectionReader(l.ar.f, l.offset, l.size)
}

// CopyTo copies the layer member's bytes to w, checking on the way that
// they (or, for a compressed member, their decompressed form) hash to the
// layer's diff_id.
func (l Layer) CopyTo(w io.Writer) error {
	r := l.Open()
	br := make([]byte, 4)
	n, _ := l.ar.f.ReadAt(br, l.offset)
	br = br[:n]
	compressed := bytes.HasPrefix(br, []byte{0x1f, 0x8b}) || bytes.HasPrefix(br, []byte{0x28, 0xb5, 0x2f, 0xfd})
	buf := make([]byte, 1<<20)
	if !compressed {
		h := sha256.New()
		if _, err := io.CopyBuffer(io.MultiWriter(w, h), r, buf); err != nil {
			return err
		}
		return l.check(digest.NewDigest(digest.SHA256, h))
	}
	// Hash the decompressed bytes in a second goroutine while the stored
	// bytes are copied.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	var got digest.Digest
	go func() {
		zr, _, err := compress.NewReader(pr)
		if err == nil {
			h := sha256.New()
			_, err = io.Copy(h, zr)
			zr.Close()
			got = digest.NewDigest(digest.SHA256, h)
		}
		pr.CloseWithError(err)
		done <- err
	}()
	_, err := io.CopyBuffer(io.MultiWriter(w, pw), r, buf)
	pw.CloseWithError(err)
	if zerr := <-done; err == nil && zerr != nil {
		return fmt.Errorf("layer %q of %s: decompressing: %w", l.Name, l.ar.Name, zerr)
	}
	if err != nil {
		return err
	}
	return l.check(got)
}

func (l Layer) check(got digest.Digest) error {
	if got != l.DiffID {
		return fmt.Errorf("layer %q of %s does not match its diff_id: content is %s, config says %s", l.Name, l.ar.Name, got, l.DiffID)
	}
	return nil
}

// Verify reads the layer to its end and checks it against its diff_id.
func (l Layer) Verify() error { return l.CopyTo(io.Discard) }
