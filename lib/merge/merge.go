// Package merge combines image files into one that holds every image and
// every tag: nixpkgs' mergeImages, one file to ship a multi-service
// release, as a docker-archive that docker load loads or an OCI layout.
//
// Every input is opened, and every tag resolved, before a byte is written:
//
//   - an image is its config digest (the image ID). The same image in
//     several inputs, or twice in one, is written once, with the union of
//     its tags, at the place it first appears;
//   - one name:tag naming two different images is an error that names the
//     tag and both files (nixpkgs keeps the first silently). Tags are
//     compared the way docker load resolves them: "app" is "app:latest" and
//     "docker.io/library/app:latest" too;
//   - a tag docker load would refuse is an error before anything is written.
//
// Then the images are written in input order by one of imagefile's
// writers, each layer checked against its diff_id while it is copied; a
// layer or config present in several inputs is stored once. The same
// inputs give the same bytes whether they came plain, gzip or zstd
// compressed. Memory holds the inputs' JSON documents, never their
// layers.
package merge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

// Result describes a merged archive.
type Result struct {
	Images int // images written
	Tags   int // tags written
	Layers int // distinct layers written
	// Notes are informational messages: images that were written once
	// although several inputs hold them.
	Notes []string
}

// entry is one image of the output.
type entry struct {
	image *image.Image
	file  string // input it is taken from
	tags  []string
}

// tagOwner remembers which image a tag was first seen on.
type tagOwner struct {
	tag   string // as written in its input
	image digest.Digest
	file  string
}

// Merge writes to out every image of the inputs (image files of any
// format imagefile reads; "-" is stdin, at most once). It does not close
// out.
func Merge(out imagefile.Writer, inputs []string) (Result, error) {
	if len(inputs) == 0 {
		return Result{}, fmt.Errorf("no input archive")
	}
	stdin := 0
	for _, in := range inputs {
		if in == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return Result{}, fmt.Errorf("stdin (\"-\") can be read only once")
	}
	var files []*imagefile.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, in := range inputs {
		f, err := imagefile.Open(in)
		if err != nil {
			return Result{}, err
		}
		files = append(files, f)
	}
	entries, notes, err := plan(files)
	if err != nil {
		return Result{}, err
	}
	res := Result{Notes: notes}
	layers := map[digest.Digest]bool{}
	for _, e := range entries {
		im := *e.image
		im.Names = e.tags
		if err := out.Add(&im); err != nil {
			var we *image.WriteError
			if errors.As(err, &we) {
				return Result{}, we
			}
			return Result{}, inputErr(err, e.file)
		}
		for _, l := range im.Layers {
			layers[l.DiffID] = true
		}
		res.Images++
		res.Tags += len(e.tags)
	}
	res.Layers = len(layers)
	return res, nil
}

// plan orders the images of all files, dropping repeats and checking
// tags, before anything is written.
func plan(files []*imagefile.File) ([]*entry, []string, error) {
	var entries []*entry
	byID := map[digest.Digest]*entry{}
	owners := map[string]tagOwner{}
	var notes []string
	for _, f := range files {
		for i, im := range f.Images {
			id := im.ID()
			e, seen := byID[id]
			if seen {
				notes = append(notes, fmt.Sprintf("image %s is in %s and in %s: stored once", short(id), e.file, f.Name))
			} else {
				e = &entry{image: im, file: f.Name}
				byID[id] = e
				entries = append(entries, e)
			}
			for _, t := range im.Names {
				// As docker load checks and resolves it:
				// "app:latest" and "docker.io/library/app:latest"
				// are one tag.
				ref, err := reference.ParseRepoTag(t)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: image %d: %w", f.Name, i+1, err)
				}
				key := ref.Key()
				if o, ok := owners[key]; ok {
					if o.image != id {
						spelt := t
						if o.tag != t {
							spelt = fmt.Sprintf("%s (%s)", t, o.tag)
						}
						return nil, nil, fmt.Errorf("tag %s names two different images: %s in %s and %s in %s", spelt, short(o.image), o.file, short(id), f.Name)
					}
					continue // the same tag of the same image again
				}
				owners[key] = tagOwner{tag: t, image: id, file: f.Name}
				e.tags = append(e.tags, t)
			}
		}
	}
	return entries, notes, nil
}

// inputErr names the input of a failure, unless the message does.
func inputErr(err error, file string) error {
	if strings.Contains(err.Error(), file) {
		return err
	}
	return fmt.Errorf("%s: %w", file, err)
}

func short(d digest.Digest) string {
	if len(d.Encoded()) < 12 {
		return d.String()
	}
	return d.Encoded()[:12]
}
