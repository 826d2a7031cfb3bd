package assemble

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/go-dockertools/dockertools/lib/pyjson"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

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
	Layers       []layer.Descriptor // bottom first
	FromImage    string             // base image (docker-archive, oci-archive or OCI layout), or ""
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
		own[i] = logged(l, spec.Log, "Adding layer %d from %s", i+1, d.Name())
	}
	// A layer repeated is stored once: its other copies are checked here.
	seen := map[digest.Digest]bool{}
	for i, l := range own {
		if seen[l.DiffID] {
			if err := checkFile(spec.Layers[i]); err != nil {
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

// checkFile reads the descriptor's layer through, checking it.
func checkFile(d layer.Descriptor) error {
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
func carried(ds []layer.Descriptor) imageconfig.Files {
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

func layerComment(d layer.Descriptor) string {
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
