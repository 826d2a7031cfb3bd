package assemble

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pyjson"
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

// Nixpkgs builds the image described by the conf.json file confPath:
// the image whose docker-archive is the bytes nixpkgs'
// stream_layered_image.py writes for it. The store layers are measured
// first, two at a time, and written again from the store as the image
// is written, each checked against its measure. Close the result.
func Nixpkgs(confPath string, opts NixpkgsOptions) (*Built, error) {
	data, err := os.ReadFile(confPath)
	if err != nil {
		return nil, err
	}
	c, err := readConf(confPath, data, opts.RepoTag)
	if err != nil {
		return nil, err
	}
	ref, err := reference.ParseRepoTag(c.repoTag)
	if err != nil {
		return nil, fmt.Errorf("%s: repo_tag: %w", confPath, err)
	}
	if at, ok := nonFinite(c.config, "config"); ok {
		return nil, fmt.Errorf("%s: %s is NaN or infinite (a number out of range?), which docker load cannot read", confPath, at)
	}
	cfgJSON := pyjson.DumpsCompact(c.config)
	userCfg, err := imageconfig.Parse(cfgJSON)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", confPath, err)
	}
	for i, l := range c.storeLayers {
		for _, p := range l {
			if _, err := layer.CheckStorePath(p, c.storeDir); err != nil {
				return nil, fmt.Errorf("%s: store layer %d: %w", confPath, i+1, err)
			}
		}
	}
	custom, err := customisationLayer(c.custom, c.mtime)
	if err != nil {
		return nil, fmt.Errorf("%s: customisation_layer: %w", confPath, err)
	}

	b := &Built{Style: dockerarchive.Nixpkgs, Mtime: c.mtime}
	fail := func(err error) (*Built, error) {
		b.Close()
		return nil, err
	}
	var layers []image.Layer
	var comments []string
	var baseEnv []string
	if c.fromImage != "" {
		f, err := imagefile.Open(c.fromImage)
		if err != nil {
			return fail(fmt.Errorf("from_image %w", err))
		}
		b.base = f
		im := f.Images[0] // the script takes the manifest's first image
		base, err := imageconfig.ParseBase(im.Config)
		if err != nil {
			return fail(fmt.Errorf("from_image %s: %w", c.fromImage, err))
		}
		baseEnv = base.Config.Strings("Env")
		for i, l := range im.Layers {
			name := dockerarchive.LayerName(l.DiffID)
			if l.Member != nil {
				name = l.Member.Name
			}
			layers = append(layers, logged(l, opts.Log, "Adding base layer %d from %s", i+1, name))
			comments = append(comments, pyjson.ReprList([]string{name}))
		}
	}
	if err := checkLayerCount(len(layers)+len(c.storeLayers)+1, opts.MaxLayers); err != nil {
		return fail(err)
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

	lopts := layer.Options{
		Mtime: c.mtime, Uid: c.uid, Gid: c.gid, Uname: c.uname, Gname: c.gname,
		StoreDir: c.storeDir, Leading: []string{"/nix", "/nix/store"},
	}
	// The store layers are measured in the background, in order, while
	// the image is written: the first layer's member goes out as soon as
	// it is measured, and the config, which names every diffID, last.
	p := &nixPending{
		base: len(layers), paths: c.storeLayers, log: opts.Log,
		results: measureInOrder(c.storeLayers, lopts, b.stop()),
		layers:  layers,
	}
	for range c.storeLayers {
		p.layers = append(p.layers, image.Layer{}) // known once measured
	}
	p.layers = append(p.layers, logged(custom, opts.Log, "Creating layer %d with customisation...", len(p.layers)+1))
	for _, paths := range c.storeLayers {
		comments = append(comments, pyjson.ReprList(paths))
	}
	comments = append(comments, pyjson.ReprList([]string{c.custom}))
	p.config = func(layers []image.Layer) []byte {
		created := pyjson.StringOf(c.created.ISOFormat())
		var diffIDs, history []pyjson.Value
		res := Result{Name: ref.Name, Tag: ref.Tag}
		for i, l := range layers {
			diffIDs = append(diffIDs, pyjson.StringOf(l.DiffID.String()))
			res.DiffIDs = append(res.DiffIDs, l.DiffID)
			history = append(history, pyjson.ObjectOf(
				pyjson.Member{Key: "created", Value: created},
				pyjson.Member{Key: "comment", Value: pyjson.StringOf("store paths: " + comments[i])},
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
		b.Result = res
		return imageJSON
	}
	b.Result = Result{Name: ref.Name, Tag: ref.Tag} // the rest once the image is written
	b.Image = &image.Image{Layers: make([]image.Layer, len(p.layers)), Names: []string{c.repoTag}, Pending: p}
	return b, nil
}

// nixPending is the drop-in's image while its store layers are measured.
type nixPending struct {
	base    int // layers before the store layers (the base image's)
	paths   [][]string
	log     Logger
	results []chan measured
	layers  []image.Layer // known so far
	config  func([]image.Layer) []byte
	done    []bool
	cfg     []byte
}

type measured struct {
	l   image.Layer
	err error
}

func (p *nixPending) Layer(i int) (image.Layer, error) {
	k := i - p.base
	if k < 0 || k >= len(p.paths) {
		return p.layers[i], nil
	}
	if p.done == nil {
		p.done = make([]bool, len(p.paths))
	}
	if !p.done[k] {
		m := <-p.results[k]
		if m.err != nil {
			p.results[k] <- m // for a second call
			return image.Layer{}, m.err
		}
		p.layers[i] = logged(m.l, p.log, "Creating layer %d from paths: %s", i+1, pyjson.ReprList(p.paths[k]))
		p.done[k] = true
	}
	return p.layers[i], nil
}

func (p *nixPending) Config() ([]byte, error) {
	if p.cfg == nil {
		for i := range p.layers {
			if _, err := p.Layer(i); err != nil {
				return nil, err
			}
		}
		p.cfg = p.config(p.layers)
	}
	return p.cfg, nil
}

// measureInOrder measures the store layers in the background, two at a
// time, in order (each result on its own channel); after stop is closed
// no new measurement starts.
func measureInOrder(layers [][]string, o layer.Options, stop <-chan struct{}) []chan measured {
	results := make([]chan measured, len(layers))
	for i := range results {
		results[i] = make(chan measured, 1)
	}
	go func() {
		slots := make(chan struct{}, 2)
		for i, paths := range layers {
			select {
			case slots <- struct{}{}:
			case <-stop:
				for _, r := range results[i:] {
					r <- measured{err: errors.New("stopped")}
				}
				return
			}
			go func() {
				defer func() { <-slots }()
				l, err := layer.MeasureStorePaths(paths, o)
				results[i] <- measured{l, err}
			}()
		}
	}()
	return results
}

// customisationLayer is the customisation layer's store path (layer.tar
// and its checksum file) as a layer: under the member header tarfile's
// gettarinfo gives the file (its own mode and owner, names looked up;
// the conf's mtime), checked against the checksum file when written.
func customisationLayer(dir string, mtime int64) (image.Layer, error) {
	sumFile := filepath.Join(dir, "checksum")
	b, err := os.ReadFile(sumFile)
	if err != nil {
		return image.Layer{}, err
	}
	sum := strings.TrimSpace(string(b))
	if len(sum) != 64 || strings.Trim(sum, "0123456789abcdef") != "" {
		return image.Layer{}, fmt.Errorf("invalid sha256 in %s", sumFile)
	}
	p := filepath.Join(dir, "layer.tar")
	fi, err := os.Lstat(p)
	if err != nil {
		return image.Layer{}, err
	}
	if !fi.Mode().IsRegular() {
		return image.Layer{}, fmt.Errorf("%s is not a regular file", p)
	}
	h := &tar.Header{
		Name: sum + "/layer.tar", Mode: int64(fi.Mode().Perm()) | specialBits(fi.Mode()),
		Size: fi.Size(), ModTime: time.Unix(mtime, 0), Typeflag: tar.TypeReg,
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
		if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
			h.Uname = u.Username
		}
		if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
			h.Gname = g.Name
		}
	}
	copyFile := func(w io.Writer) error {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(w, f, make([]byte, 1<<20))
		return err
	}
	diffID := digest.NewDigestFromEncoded(digest.SHA256, sum)
	want := image.Want{Digest: diffID, Size: fi.Size(), By: "its checksum file"}
	return image.Layer{DiffID: diffID, Size: fi.Size(), Source: image.Generated(p, copyFile, want), Member: h}, nil
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
