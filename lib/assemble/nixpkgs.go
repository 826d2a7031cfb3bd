package assemble

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

// NixpkgsOptions adjust the drop-in mode.
type NixpkgsOptions struct {
	RepoTag   string // overrides the conf's repo_tag, like the script's --repo_tag
	MaxLayers int
	Compress  compress.Kind
	Log       Logger
}

// nixConf is conf.json as stream_layered_image.py reads it.
type nixConf struct {
	created      pyjson.Time
	mtime        int64
	uid, gid     int64
	uname, gname string
	storeDir     string
	fromImage    string
	storeLayers  [][]string
	custom       string
	repoTag      string
	arch         pyjson.Value
	config       pyjson.Value
}

// confError names the conf file and the key at fault.
func confError(name, key, format string, args ...any) error {
	return fmt.Errorf("%s: %q: %s", name, key, fmt.Sprintf(format, args...))
}

func readConf(name string, data []byte, repoTag string) (*nixConf, error) {
	v, err := pyjson.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if v.Kind != pyjson.Object {
		return nil, fmt.Errorf("%s: not a JSON object", name)
	}
	get := func(key string, kinds ...pyjson.Kind) (pyjson.Value, error) {
		x, ok := v.Get(key)
		if !ok {
			return x, fmt.Errorf("%s: no %q (not a streamLayeredImage conf.json?)", name, key)
		}
		for _, k := range kinds {
			if x.Kind == k {
				return x, nil
			}
		}
		if len(kinds) == 0 {
			return x, nil
		}
		return x, confError(name, key, "has the wrong type")
	}
	str := func(key string) (string, error) {
		x, err := get(key, pyjson.String)
		return x.Str, err
	}
	c := &nixConf{}
	now := pyjson.Now() // one instant for "created" and "mtime", as the script does
	parseTime := func(key string) (pyjson.Time, error) {
		s, err := str(key)
		if err != nil {
			return pyjson.Time{}, err
		}
		if s == "now" {
			return now, nil
		}
		t, err := pyjson.ParseISOTime(s)
		if err != nil {
			return t, confError(name, key, "%v", err)
		}
		return t, nil
	}
	if c.created, err = parseTime("created"); err != nil {
		return nil, err
	}
	mt, err := parseTime("mtime")
	if err != nil {
		return nil, err
	}
	c.mtime = mt.Timestamp()
	for _, f := range []struct {
		key string
		dst *int64
	}{{"uid", &c.uid}, {"gid", &c.gid}} {
		x, err := get(f.key, pyjson.Int, pyjson.String)
		if err != nil {
			return nil, err
		}
		n, err := pythonInt(x)
		if err != nil {
			return nil, confError(name, f.key, "%v", err)
		}
		*f.dst = n
	}
	if c.uname, err = str("uname"); err != nil {
		return nil, err
	}
	if c.gname, err = str("gname"); err != nil {
		return nil, err
	}
	if c.storeDir, err = str("store_dir"); err != nil {
		return nil, err
	}
	fi, err := get("from_image", pyjson.Null, pyjson.String)
	if err != nil {
		return nil, err
	}
	c.fromImage = fi.Str
	sl, err := get("store_layers", pyjson.Array)
	if err != nil {
		return nil, err
	}
	for i, l := range sl.Arr {
		if l.Kind != pyjson.Array {
			return nil, confError(name, "store_layers", "layer %d is not a list of paths", i+1)
		}
		var paths []string
		for _, p := range l.Arr {
			if p.Kind != pyjson.String {
				return nil, confError(name, "store_layers", "layer %d holds something that is not a path", i+1)
			}
			paths = append(paths, p.Str)
		}
		c.storeLayers = append(c.storeLayers, paths)
	}
	if c.custom, err = str("customisation_layer"); err != nil {
		return nil, err
	}
	c.repoTag = repoTag
	if c.repoTag == "" {
		if c.repoTag, err = str("repo_tag"); err != nil {
			return nil, err
		}
	}
	// The script copies any JSON value; docker load reads a string.
	if c.arch, err = get("architecture", pyjson.String); err != nil {
		return nil, err
	}
	if c.config, err = get("config", pyjson.Object); err != nil {
		return nil, err
	}
	return c, nil
}

var pyIntPattern = regexp.MustCompile(`^[+-]?[0-9](?:_?[0-9])*$`)

// pythonInt converts a JSON int, or a string as Python's int() reads it.
func pythonInt(v pyjson.Value) (int64, error) {
	var n *big.Int
	if v.Kind == pyjson.Int {
		n = v.Int
	} else {
		s := strings.TrimSpace(v.Str)
		if !pyIntPattern.MatchString(s) {
			return 0, fmt.Errorf("%q is not an integer", v.Str)
		}
		n, _ = new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 10)
	}
	if !n.IsInt64() || n.Int64() < 0 || n.Int64() > math.MaxInt32 {
		return 0, fmt.Errorf("%s is out of range", n)
	}
	return n.Int64(), nil
}

// nonFinite returns where in v the first NaN or infinite number is (the
// script writes them as NaN and Infinity, which are not JSON).
func nonFinite(v pyjson.Value, at string) (string, bool) {
	switch v.Kind {
	case pyjson.Float:
		return at, math.IsInf(v.Float, 0) || math.IsNaN(v.Float)
	case pyjson.Array:
		for i, x := range v.Arr {
			if p, ok := nonFinite(x, fmt.Sprintf("%s[%d]", at, i)); ok {
				return p, true
			}
		}
	case pyjson.Object:
		for _, m := range v.Obj {
			if p, ok := nonFinite(m.Value, at+"."+m.Key); ok {
				return p, true
			}
		}
	}
	return "", false
}

// layerInfo is what the manifest and config need of each layer.
type layerInfo struct {
	checksum string // hex sha256
	path     string // member name
	paths    []string
}

// Nixpkgs writes the image described by the conf.json file confPath to w:
// the bytes nixpkgs' stream_layered_image.py writes for it.
func Nixpkgs(w io.Writer, confPath string, opts NixpkgsOptions) (Result, error) {
	data, err := os.ReadFile(confPath)
	if err != nil {
		return Result{}, err
	}
	c, err := readConf(confPath, data, opts.RepoTag)
	if err != nil {
		return Result{}, err
	}
	ref, err := reference.ParseRepoTag(c.repoTag)
	if err != nil {
		return Result{}, fmt.Errorf("%s: repo_tag: %w", confPath, err)
	}
	if at, ok := nonFinite(c.config, "config"); ok {
		return Result{}, fmt.Errorf("%s: %s is NaN or infinite (a number out of range?), which docker load cannot read", confPath, at)
	}
	cfgJSON := pyjson.DumpsCompact(c.config)
	userCfg, err := imageconfig.Parse(cfgJSON)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", confPath, err)
	}
	for i, l := range c.storeLayers {
		for _, p := range l {
			if _, err := layer.CheckStorePath(p, c.storeDir); err != nil {
				return Result{}, fmt.Errorf("%s: store layer %d: %w", confPath, i+1, err)
			}
		}
	}
	custom, err := openCustomisation(c.custom)
	if err != nil {
		return Result{}, fmt.Errorf("%s: customisation_layer: %w", confPath, err)
	}
	defer custom.f.Close()

	var baseLayers []dockerarchive.Layer
	var baseEnv []string
	if c.fromImage != "" {
		ar, err := dockerarchive.Open(c.fromImage)
		if err != nil {
			return Result{}, fmt.Errorf("from_image %w", err)
		}
		defer ar.Close()
		im := ar.Images[0] // the script takes the manifest's first image
		baseLayers = im.Layers
		base, err := imageconfig.ParseBase(im.Config)
		if err != nil {
			return Result{}, fmt.Errorf("from_image %s: %w", c.fromImage, err)
		}
		baseEnv = base.Config.Strings("Env")
	}
	if err := checkLayerCount(len(baseLayers)+len(c.storeLayers)+1, opts.MaxLayers); err != nil {
		return Result{}, err
	}
	if c.fromImage != "" {
		// The script's overlay: only Env is taken from the base, merged
		// one entry per variable; the key keeps its place or is appended.
		env := imageconfig.MergeEnv(baseEnv, userCfg.Strings("Env"))
		if len(env) > 0 {
			c.config.Set("Env", pyjson.Strings(env))
		}
	}
	// An image without an architecture runs as this machine's.
	arch := c.arch.Str
	if arch == "" {
		arch, _ = imageconfig.DefaultArch()
	}
	// The script writes whatever the conf says: a doubt is a warning.
	var storePaths []string
	for _, l := range c.storeLayers {
		storePaths = append(storePaths, l...)
	}
	if err := imageconfig.CheckExecutable(userCfg, arch, imageconfig.Files{StorePaths: storePaths}); err != nil {
		opts.Log.printf("warning: %s: %v", confPath, err)
	}

	out, err := newOutput(w, opts.Compress)
	if err != nil {
		return Result{}, err
	}
	tw := pytar.NewWriter(out)
	var layers []layerInfo
	written := map[string]bool{} // member names, cleaned
	for i, l := range baseLayers {
		opts.Log.printf("Adding base layer %d from %s", i+1, l.Name)
		hdr, err := ownHeader(c.fromImage, l)
		if err != nil {
			return Result{}, err
		}
		h := baseHeader(hdr)
		// docker save before version 25 stores a layer repeated at another
		// depth once and links to it. The script copies the link member;
		// it resolves in the output when its target was copied before.
		// Otherwise it would dangle where docker load cannot follow it,
		// so the data goes in its place.
		link := isLink(hdr)
		if link && !written[linkTarget(hdr)] {
			link = false
			h.Typeflag, h.Linkname, h.Size = pytar.TypeReg, "", l.Size()
		}
		if err := tw.WriteHeader(&h); err != nil {
			return Result{}, err
		}
		// A link's data was checked against the diff_id where it was copied.
		if !link {
			if err := l.CopyTo(tw); err != nil {
				return Result{}, err
			}
		}
		written[path.Clean(hdr.Name)] = true
		layers = append(layers, layerInfo{checksum: l.DiffID.Encoded(), path: hdr.Name, paths: []string{hdr.Name}})
	}

	lopts := layer.Options{
		Mtime: c.mtime, Uid: c.uid, Gid: c.gid, Uname: c.uname, Gname: c.gname,
		StoreDir: c.storeDir, Leading: []string{"/nix", "/nix/store"},
	}
	ahead := measureAhead(c.storeLayers, lopts)
	defer ahead.stop()
	for i, paths := range c.storeLayers {
		opts.Log.printf("Creating layer %d from paths: %s", len(layers)+1, pyjson.ReprList(paths))
		m := ahead.next(i)
		if m.err != nil {
			return Result{}, m.err
		}
		name := m.res.DiffID.Encoded() + "/layer.tar"
		if err := tw.WriteHeader(&pytar.Header{Name: name, Mode: 0o644, Size: m.res.Size, Mtime: c.mtime, Typeflag: pytar.TypeReg}); err != nil {
			return Result{}, err
		}
		// Second pass: the bytes themselves, checked against the first.
		crc := crc32.New(castagnoli)
		second := lopts
		second.NoDiffID = true
		res, err := layer.WriteStorePaths(io.MultiWriter(tw, crc), paths, second)
		if err != nil {
			return Result{}, err
		}
		if res.Size != m.res.Size || crc.Sum32() != m.crc {
			return Result{}, fmt.Errorf("store layer %d changed while the image was written (its paths were modified): %s", len(layers)+1, strings.Join(paths, " "))
		}
		layers = append(layers, layerInfo{checksum: m.res.DiffID.Encoded(), path: name, paths: paths})
	}

	opts.Log.printf("Creating layer %d with customisation...", len(layers)+1)
	if err := custom.write(tw, c.mtime); err != nil {
		return Result{}, err
	}
	layers = append(layers, layerInfo{checksum: custom.checksum, path: custom.checksum + "/layer.tar", paths: []string{c.custom}})

	opts.Log.printf("Adding manifests...")
	created := pyjson.StringOf(c.created.ISOFormat())
	var diffIDs, history []pyjson.Value
	res := Result{Name: ref.Name, Tag: ref.Tag}
	for _, l := range layers {
		diffIDs = append(diffIDs, pyjson.StringOf("sha256:"+l.checksum))
		res.DiffIDs = append(res.DiffIDs, digest.Digest("sha256:"+l.checksum))
		history = append(history, pyjson.ObjectOf(
			pyjson.Member{Key: "created", Value: created},
			pyjson.Member{Key: "comment", Value: pyjson.StringOf("store paths: " + pyjson.ReprList(l.paths))},
		))
	}
	imageJSON := pyjson.Dumps(pyjson.ObjectOf(
		pyjson.Member{Key: "created", Value: created},
		pyjson.Member{Key: "architecture", Value: c.arch},
		pyjson.Member{Key: "os", Value: pyjson.StringOf("linux")},
		pyjson.Member{Key: "config", Value: c.config},
		pyjson.Member{Key: "rootfs", Value: pyjson.ObjectOf(
			pyjson.Member{Key: "diff_ids", Value: pyjson.Value{Kind: pyjson.Array, Arr: diffIDs}},
			pyjson.Member{Key: "type", Value: pyjson.StringOf("layers")},
		)},
		pyjson.Member{Key: "history", Value: pyjson.Value{Kind: pyjson.Array, Arr: history}},
	), 4)
	res.ImageID = digest.FromBytes(imageJSON)
	configName := res.ImageID.Encoded() + ".json"
	if err := addBytes(tw, configName, imageJSON, c.mtime); err != nil {
		return Result{}, err
	}
	var layerPaths []string
	for _, l := range layers {
		layerPaths = append(layerPaths, l.path)
	}
	manifest := pyjson.Dumps(pyjson.Value{Kind: pyjson.Array, Arr: []pyjson.Value{pyjson.ObjectOf(
		pyjson.Member{Key: "Config", Value: pyjson.StringOf(configName)},
		pyjson.Member{Key: "RepoTags", Value: pyjson.Strings([]string{c.repoTag})},
		pyjson.Member{Key: "Layers", Value: pyjson.Strings(layerPaths)},
	)}}, 4)
	if err := addBytes(tw, "manifest.json", manifest, c.mtime); err != nil {
		return Result{}, err
	}
	if err := tw.Close(); err != nil {
		return Result{}, err
	}
	if err := out.close(); err != nil {
		return Result{}, err
	}
	opts.Log.printf("Done.")
	return res, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// measured is the first pass over a store layer: its size, diffID and a
// fast checksum the second pass is compared with.
type measured struct {
	res layer.Result
	crc uint32
	err error
}

// measurer runs the first pass of the store layers in order, in the
// background, at most two layers ahead of the writing: hashing the next
// layer overlaps with streaming the current one, and the files read are
// still in the page cache when the second pass reads them again.
type measurer struct {
	results []chan measured
	slots   chan struct{}
	done    chan struct{}
}

func measureAhead(layers [][]string, o layer.Options) *measurer {
	m := &measurer{
		results: make([]chan measured, len(layers)),
		slots:   make(chan struct{}, 2),
		done:    make(chan struct{}),
	}
	for i := range m.results {
		m.results[i] = make(chan measured, 1)
	}
	go func() {
		for i, paths := range layers {
			select {
			case m.slots <- struct{}{}:
			case <-m.done:
				return
			}
			crc := crc32.New(castagnoli)
			res, err := layer.WriteStorePaths(crc, paths, o)
			m.results[i] <- measured{res: res, crc: crc.Sum32(), err: err}
			if err != nil {
				return
			}
		}
	}()
	return m
}

// next waits for layer i's first pass.
func (m *measurer) next(i int) measured {
	r := <-m.results[i]
	<-m.slots
	return r
}

// stop ends the background work early.
func (m *measurer) stop() { close(m.done) }

// ownHeader returns the header of the member the base image's manifest
// names for a layer: the link itself when the layer is a link to another
// member, whichever header the reader keeps.
func ownHeader(archive string, l dockerarchive.Layer) (*tar.Header, error) {
	if isLink(l.Header) || path.Clean(l.Name) == path.Clean(l.Header.Name) {
		return l.Header, nil
	}
	// The reader gave the header of the link's target: read the link's.
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("from_image %w", err)
	}
	defer f.Close()
	r, _, err := compress.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("from_image %s: %w", archive, err)
	}
	defer r.Close()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("from_image %s: reading layer %s again: %w", archive, l.Name, err)
		}
		if path.Clean(h.Name) == path.Clean(l.Name) {
			return h, nil
		}
	}
}

func isLink(h *tar.Header) bool {
	return h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink
}

// linkTarget is the member a link member leads to: a symlink's target is
// relative to its directory, a hard link's to the archive's root.
func linkTarget(h *tar.Header) string {
	if h.Typeflag == tar.TypeSymlink && !strings.HasPrefix(h.Linkname, "/") {
		return path.Join(path.Dir(path.Clean(h.Name)), h.Linkname)
	}
	return path.Clean(h.Linkname)
}

// addBytes adds a small file the way the script's add_bytes does.
func addBytes(tw *pytar.Writer, name string, data []byte, mtime int64) error {
	if err := tw.WriteHeader(&pytar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Mtime: mtime, Typeflag: pytar.TypeReg}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// baseHeader is the header the script writes for a layer copied from the
// base image: the member as tarfile read it, written again.
func baseHeader(h *tar.Header) pytar.Header {
	out := pytar.Header{
		Name: h.Name, Mode: h.Mode, Uid: int64(h.Uid), Gid: int64(h.Gid), Size: h.Size,
		Mtime: h.ModTime.Unix(), Typeflag: h.Typeflag, Linkname: h.Linkname,
		Uname: h.Uname, Gname: h.Gname, Devmajor: h.Devmajor, Devminor: h.Devminor,
	}
	// tarfile keeps the extended records it read and writes them back;
	// archive/tar does not keep their order, so known keys come in the
	// order tarfile writes them, then the rest sorted.
	order := []string{"path", "linkpath", "uname", "gname", "uid", "gid", "size", "mtime"}
	seen := map[string]bool{}
	for _, k := range order {
		if v, ok := h.PAXRecords[k]; ok {
			out.PAX = append(out.PAX, pytar.Record{Key: k, Value: v})
			seen[k] = true
		}
	}
	var rest []string
	for k := range h.PAXRecords {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out.PAX = append(out.PAX, pytar.Record{Key: k, Value: h.PAXRecords[k]})
	}
	if v, ok := h.PAXRecords["mtime"]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out.Mtime = int64(math.RoundToEven(f)) // Python's round()
		}
	}
	return out
}

// customisation is the customisation layer's store path: layer.tar and
// its checksum file.
type customisation struct {
	f        *os.File
	fi       os.FileInfo
	checksum string
}

func openCustomisation(dir string) (*customisation, error) {
	sumFile := filepath.Join(dir, "checksum")
	b, err := os.ReadFile(sumFile)
	if err != nil {
		return nil, err
	}
	sum := strings.TrimSpace(string(b))
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("invalid sha256 in %s", sumFile)
	}
	p := filepath.Join(dir, "layer.tar")
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	return &customisation{f: f, fi: fi, checksum: sum}, nil
}

// write adds layer.tar with the header tarfile's gettarinfo gives it: the
// file's own mode and owner (names looked up), the conf's mtime.
func (c *customisation) write(tw *pytar.Writer, mtime int64) error {
	st, _ := c.fi.Sys().(*syscall.Stat_t)
	h := pytar.Header{
		Name: c.checksum + "/layer.tar", Mode: int64(c.fi.Mode().Perm()) | specialBits(c.fi.Mode()),
		Size: c.fi.Size(), Mtime: mtime, Typeflag: pytar.TypeReg,
	}
	if st != nil {
		h.Uid, h.Gid = int64(st.Uid), int64(st.Gid)
		if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
			h.Uname = u.Username
		}
		if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
			h.Gname = g.Name
		}
	}
	if err := tw.WriteHeader(&h); err != nil {
		return err
	}
	sum := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tw, sum), io.LimitReader(c.f, c.fi.Size()+1), make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != c.fi.Size() {
		return errors.New(c.f.Name() + " changed size while it was read")
	}
	if got := fmt.Sprintf("%x", sum.Sum(nil)); got != c.checksum {
		return fmt.Errorf("%s does not match its checksum file: sha256 %s, checksum says %s", c.f.Name(), got, c.checksum)
	}
	return nil
}

func specialBits(m os.FileMode) int64 {
	var b int64
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}
