package assemble

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

// Descriptor is the JSON path-to-layer prints for a layer.
type Descriptor struct {
	Index  *int          `json:"index,omitempty"`
	File   string        `json:"file,omitempty"`
	DiffID digest.Digest `json:"diffID"`
	Size   int64         `json:"size"`
	TarSum string        `json:"tarsum,omitempty"`
	Paths  []string      `json:"paths,omitempty"`
	Root   string        `json:"root,omitempty"`
}

// ReadDescriptors reads descriptors from r: one JSON object, or several
// (JSON lines, or concatenated). name is used in messages.
func ReadDescriptors(r io.Reader, name string) ([]Descriptor, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var ds []Descriptor
	for {
		var d Descriptor
		err := dec.Decode(&d)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: descriptor %d: %v", name, len(ds)+1, err)
		}
		if err := d.check(); err != nil {
			return nil, fmt.Errorf("%s: descriptor %d: %w", name, len(ds)+1, err)
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%s: no layer descriptor", name)
	}
	return ds, nil
}

func (d Descriptor) check() error {
	if d.File == "" {
		return errors.New("no \"file\": the layer was written to stdout, not to a file assemble-image can read")
	}
	if err := d.DiffID.Validate(); err != nil || d.DiffID.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%s: diffID %q is not a sha256 digest", d.File, d.DiffID)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size", d.File)
	}
	if d.Index != nil && *d.Index < 0 {
		return fmt.Errorf("%s: negative index", d.File)
	}
	return nil
}

// OrderDescriptors orders layers by their index when they all have one
// (so the order xargs -P finishes in does not matter), and keeps the given
// order when none has.
func OrderDescriptors(ds []Descriptor) ([]Descriptor, error) {
	with := 0
	for _, d := range ds {
		if d.Index != nil {
			with++
		}
	}
	if with == 0 {
		return ds, nil
	}
	if with != len(ds) {
		return nil, errors.New("some layer descriptors have an index and some do not: give all or none")
	}
	out := append([]Descriptor(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool { return *out[i].Index < *out[j].Index })
	for i := 1; i < len(out); i++ {
		if *out[i].Index == *out[i-1].Index {
			return nil, fmt.Errorf("two layers have index %d: %s and %s", *out[i].Index, out[i-1].File, out[i].File)
		}
	}
	return out, nil
}

// DefaultCreated is the creation time of an image that does not say:
// nixpkgs' default, one second after the epoch.
const DefaultCreated = "1970-01-01T00:00:01Z"

// NativeSpec is what Native builds.
type NativeSpec struct {
	// Tags are "name" or "name:tag"; a name without a tag gets one
	// derived from the content. The first is the Result's.
	Tags         []string
	Config       imageconfig.Config // may be nil
	Created      string             // RFC 3339; "" means DefaultCreated
	Arch         string             // "" means the base image's, else this machine's
	Variant      string
	Layers       []Descriptor // bottom first
	FromImage    string       // base image (docker-archive, oci-archive or OCI layout), or ""
	FromImageTag string
	MaxLayers    int
	Log          Logger
}

// Native builds the image spec describes, checking every input before a
// byte is written: descriptors against their layer files' sizes, a
// layer file repeated against its descriptor, the base image's names,
// the entrypoint against the architecture. Close the result when done.
func Native(spec NativeSpec) (*Built, error) {
	if len(spec.Tags) == 0 {
		return nil, fmt.Errorf("no image name")
	}
	var refs []reference.Ref
	for _, t := range spec.Tags {
		ref, err := reference.Parse(t)
		if err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	if spec.Created == "" {
		spec.Created = DefaultCreated
	}
	own := make([]image.Layer, len(spec.Layers))
	for i, d := range spec.Layers {
		l, err := d.Layer()
		if err != nil {
			return nil, err
		}
		own[i] = logged(l, spec.Log, "Adding layer %d from %s", i+1, d.File)
	}
	// A layer repeated is stored once: its other copies are checked here.
	seen := map[digest.Digest]bool{}
	for i, l := range own {
		if seen[l.DiffID] {
			if err := spec.Layers[i].checkFile(); err != nil {
				return nil, err
			}
		}
		seen[l.DiffID] = true
	}

	b := &Built{Style: dockerarchive.Native, Mtime: 1}
	var base imageconfig.Base
	var baseLayers []image.Layer
	if spec.FromImage != "" {
		f, err := imagefile.Open(spec.FromImage)
		if err != nil {
			return nil, fmt.Errorf("base image %w", err)
		}
		b.base = f
		bim, err := f.Find(spec.FromImageTag)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("base image: %w", err)
		}
		if base, err = imageconfig.ParseBase(bim.Config); err != nil {
			b.Close()
			return nil, fmt.Errorf("base image %s: %w", spec.FromImage, err)
		}
		for i, l := range bim.Layers {
			baseLayers = append(baseLayers, logged(l, spec.Log, "Adding base layer %d from %s", i+1, spec.FromImage))
		}
	}
	fail := func(err error) (*Built, error) {
		b.Close()
		return nil, err
	}
	if err := checkLayerCount(len(baseLayers)+len(spec.Layers), spec.MaxLayers); err != nil {
		return fail(err)
	}

	cfg := spec.Config
	if base.Config != nil {
		cfg = imageconfig.Overlay(base.Config, spec.Config)
	}
	arch, variant := spec.Arch, spec.Variant
	if arch != "" && base.Arch != "" && base.Arch != arch {
		return fail(fmt.Errorf("base image %s is for %s, the image is for %s: a container would mix architectures", spec.FromImage, base.Arch, arch))
	}
	if arch == "" {
		inherited, v := base.Arch, base.Variant
		if inherited == "" {
			inherited, v = imageconfig.DefaultArch()
		}
		arch = inherited
		if variant == "" {
			variant = v
		}
	}
	if arch == "arm" && variant == "" {
		variant = "v7" // what docker assumes of 32-bit ARM
	}
	if err := imageconfig.CheckExecutable(cfg, arch, carried(spec.Layers)); err != nil {
		return fail(err)
	}

	ic := imageconfig.Image{
		Created: spec.Created, Architecture: arch, Variant: variant, OS: "linux",
		Config: cfg.JSON(), RootFS: imageconfig.RootFS{Type: "layers"},
	}
	if spec.FromImage != "" {
		ic.History = append(ic.History, base.LayerHistory(spec.Created)...)
		for _, l := range baseLayers {
			ic.RootFS.DiffIDs = append(ic.RootFS.DiffIDs, l.DiffID)
		}
	}
	for _, d := range spec.Layers {
		ic.RootFS.DiffIDs = append(ic.RootFS.DiffIDs, d.DiffID)
		ic.History = append(ic.History, imageconfig.History{Created: spec.Created, CreatedBy: "assemble-image", Comment: layerComment(d)})
	}
	blob := ic.JSON()
	id := digest.FromBytes(blob)
	var names []string
	for i := range refs {
		if refs[i].Tag == "" {
			refs[i].Tag = id.Encoded()[:32]
		}
		names = append(names, refs[i].String())
	}
	b.Image = &image.Image{Config: blob, Layers: append(baseLayers, own...), Names: names}
	b.Result = Result{Name: refs[0].Name, Tag: refs[0].Tag, ImageID: id, DiffIDs: ic.RootFS.DiffIDs}
	return b, nil
}

// Layer is the descriptor's layer: its file, checked against it (its
// size now, its bytes as they are written: exactly its size, stopped
// there if the file grew).
func (d Descriptor) Layer() (image.Layer, error) {
	if err := d.check(); err != nil {
		return image.Layer{}, err
	}
	fi, err := os.Stat(d.File)
	if err != nil {
		return image.Layer{}, fmt.Errorf("layer %s: %w", d.File, unwrapPath(err))
	}
	if fi.Size() != d.Size {
		return image.Layer{}, fmt.Errorf("layer %s is %d bytes, its descriptor says %d", d.File, fi.Size(), d.Size)
	}
	copyFile := func(w io.Writer) error {
		f, err := os.Open(d.File)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.File, unwrapPath(err))
		}
		defer f.Close()
		_, err = image.Copy(w, f, "layer "+d.File)
		return err
	}
	want := image.Want{Digest: d.DiffID, Size: d.Size, By: "its descriptor"}
	return image.Layer{DiffID: d.DiffID, Size: d.Size, Source: image.Generated("layer "+d.File, copyFile, want)}, nil
}

// checkFile reads the descriptor's layer file through, checking it.
func (d Descriptor) checkFile() error {
	l, err := d.Layer()
	if err != nil {
		return err
	}
	return l.Stream(io.Discard)
}

// logged is a layer that says so when it is written.
func logged(l image.Layer, log Logger, format string, args ...any) image.Layer {
	if log == nil {
		return l
	}
	msg := fmt.Sprintf(format, args...)
	l.Source = loggedSource{l.Source, log, msg}
	if l.Stored != nil {
		stored := *l.Stored
		stored.Source = loggedSource{stored.Source, log, msg}
		l.Stored = &stored
	}
	return l
}

type loggedSource struct {
	image.Source
	log Logger
	msg string
}

func (s loggedSource) Stream(w io.Writer) error {
	s.log.printf("%s", s.msg)
	return s.Source.Stream(w)
}

// carried is what the layers show of the image's files: their store
// paths, and the roots of layers made from a directory.
func carried(ds []Descriptor) imageconfig.Files {
	var fs imageconfig.Files
	for _, d := range ds {
		if d.Root != "" {
			fs.Roots = append(fs.Roots, d.Root)
		} else {
			fs.StorePaths = append(fs.StorePaths, d.Paths...)
		}
	}
	return fs
}

func layerComment(d Descriptor) string {
	if len(d.Paths) > 0 {
		return "store paths: " + pyjson.ReprList(d.Paths)
	}
	return "customisation layer"
}

// unwrapPath drops an *os.PathError's operation and path, for messages
// that name the file already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
