package assemble

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
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
	Tag          string             // "name" or "name:tag"; without a tag, one is derived from the content
	Config       imageconfig.Config // may be nil
	Created      string             // RFC 3339; "" means DefaultCreated
	Arch         string             // "" means the base image's, else this machine's
	Variant      string
	Layers       []Descriptor // bottom first
	FromImage    string       // base image archive, or ""
	FromImageTag string
	MaxLayers    int
	Compress     compress.Kind
	Log          Logger
}

// Native writes the image archive of spec to w.
func Native(w io.Writer, spec NativeSpec) (Result, error) {
	ref, err := reference.Parse(spec.Tag)
	if err != nil {
		return Result{}, err
	}
	if spec.Created == "" {
		spec.Created = DefaultCreated
	}
	for _, d := range spec.Layers {
		if err := d.check(); err != nil {
			return Result{}, err
		}
		fi, err := os.Stat(d.File)
		if err != nil {
			return Result{}, fmt.Errorf("layer %s: %w", d.File, unwrapPath(err))
		}
		if fi.Size() != d.Size {
			return Result{}, fmt.Errorf("layer %s is %d bytes, its descriptor says %d", d.File, fi.Size(), d.Size)
		}
	}

	var base imageconfig.Base
	var baseImage *dockerarchive.Image
	if spec.FromImage != "" {
		ar, err := dockerarchive.Open(spec.FromImage)
		if err != nil {
			return Result{}, fmt.Errorf("base image %w", err)
		}
		defer ar.Close()
		if baseImage, err = ar.FindImage(spec.FromImageTag); err != nil {
			return Result{}, fmt.Errorf("base image: %w", err)
		}
		if base, err = imageconfig.ParseBase(baseImage.Config); err != nil {
			return Result{}, fmt.Errorf("base image %s: %w", spec.FromImage, err)
		}
	}
	var baseLayers []dockerarchive.Layer
	if baseImage != nil {
		baseLayers = baseImage.Layers
	}
	if err := checkLayerCount(len(baseLayers)+len(spec.Layers), spec.MaxLayers); err != nil {
		return Result{}, err
	}

	cfg := spec.Config
	if base.Config != nil {
		cfg = imageconfig.Overlay(base.Config, spec.Config)
	}
	arch, variant := spec.Arch, spec.Variant
	if arch != "" && base.Arch != "" && base.Arch != arch {
		return Result{}, fmt.Errorf("base image %s is for %s, the image is for %s: a container would mix architectures", spec.FromImage, base.Arch, arch)
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
		return Result{}, err
	}

	im := imageconfig.Image{
		Created: spec.Created, Architecture: arch, Variant: variant, OS: "linux",
		Config: cfg.JSON(), RootFS: imageconfig.RootFS{Type: "layers"},
	}
	if baseImage != nil {
		im.History = append(im.History, base.LayerHistory(spec.Created)...)
		for _, l := range baseLayers {
			im.RootFS.DiffIDs = append(im.RootFS.DiffIDs, l.DiffID)
		}
	}
	for _, d := range spec.Layers {
		im.RootFS.DiffIDs = append(im.RootFS.DiffIDs, d.DiffID)
		im.History = append(im.History, imageconfig.History{Created: spec.Created, CreatedBy: "assemble-image", Comment: layerComment(d)})
	}
	blob := im.JSON()
	id := digest.FromBytes(blob)
	if ref.Tag == "" {
		ref.Tag = id.Encoded()[:32]
	}
	res := Result{Name: ref.Name, Tag: ref.Tag, ImageID: id, DiffIDs: im.RootFS.DiffIDs}

	out, err := newOutput(w, spec.Compress)
	if err != nil {
		return Result{}, err
	}
	aw := dockerarchive.NewWriter(out, 1)
	var names []string
	// A layer repeated is stored once, but every copy is checked.
	stored := map[digest.Digest]bool{}
	for i, l := range baseLayers {
		spec.Log.printf("Adding base layer %d from %s", i+1, l.Name)
		if stored[l.DiffID] {
			if err := l.Verify(); err != nil {
				return Result{}, err
			}
		}
		stored[l.DiffID] = true
		name, err := aw.WriteLayer(l.DiffID, l.Size(), l.CopyTo)
		if err != nil {
			return Result{}, err
		}
		names = append(names, name)
	}
	for i, d := range spec.Layers {
		spec.Log.printf("Adding layer %d from %s", len(baseLayers)+i+1, d.File)
		if stored[d.DiffID] {
			if err := copyLayerFile(io.Discard, d); err != nil {
				return Result{}, err
			}
		}
		stored[d.DiffID] = true
		name, err := aw.WriteLayer(d.DiffID, d.Size, func(w io.Writer) error { return copyLayerFile(w, d) })
		if err != nil {
			return Result{}, err
		}
		names = append(names, name)
	}
	configName, err := aw.WriteConfig(blob)
	if err != nil {
		return Result{}, err
	}
	aw.AddImage(configName, []string{ref.String()}, names)
	if err := aw.Close(); err != nil {
		return Result{}, err
	}
	if err := out.close(); err != nil {
		return Result{}, err
	}
	return res, nil
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

// copyLayerFile copies a layer file, checking it against its descriptor:
// exactly d.Size bytes go to w, and a file that turns out shorter or
// longer, or whose bytes do not hash to d.DiffID, is an error naming it.
// Errors of w pass through unchanged: they are the output's, not the
// layer's.
func copyLayerFile(w io.Writer, d Descriptor) error {
	f, err := os.Open(d.File)
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.File, unwrapPath(err))
	}
	defer f.Close()
	h := sha256.New()
	src := &readErrors{r: f}
	n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(src, d.Size), make([]byte, 1<<20))
	if err != nil && src.err == nil {
		return err // the output's
	}
	if err != nil {
		return fmt.Errorf("layer %s: %w", d.File, unwrapPath(src.err))
	}
	if n < d.Size {
		return fmt.Errorf("layer %s changed size while it was read (it ended after %d bytes, its descriptor says %d)", d.File, n, d.Size)
	}
	var one [1]byte
	if m, _ := io.ReadFull(f, one[:]); m > 0 {
		return fmt.Errorf("layer %s changed size while it was read (it is longer than the %d bytes its descriptor says)", d.File, d.Size)
	}
	if got := digest.NewDigest(digest.SHA256, h); got != d.DiffID {
		return fmt.Errorf("layer %s does not match its descriptor: its sha256 is %s, the descriptor says %s", d.File, got, d.DiffID)
	}
	return nil
}

// readErrors remembers a reader's failure, so that a copy can tell it
// from its writer's.
type readErrors struct {
	r   io.Reader
	err error
}

func (r *readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
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
