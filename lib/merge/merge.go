// Package merge combines image archives into one that docker load loads
// with every image and every tag: nixpkgs' mergeImages, one file to ship a
// multi-service release.
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
// Then the images are streamed in input order, each layer checked against
// its diff_id while it is copied; a layer or config present in several
// inputs is stored once. Members get a fixed time, so the same inputs
// give the same bytes whether they came plain, gzip or zstd compressed.
// Memory holds the inputs' JSON documents, never their layers.
package merge

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/reference"
	"github.com/opencontainers/go-digest"
)

// Mtime is the modification time of every member of a merged archive.
const Mtime = 1

// Options tune a merge.
type Options struct {
	Compress compress.Kind // of the whole output; "" is none
}

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
	image *dockerarchive.Image
	file  string // input it is taken from
	tags  []string
}

// tagOwner remembers which image a tag was first seen on.
type tagOwner struct {
	tag   string // as written in its input
	image digest.Digest
	file  string
}

// Merge writes to w an archive holding every image of the archives named
// by inputs ("-" is stdin, at most once).
func Merge(w io.Writer, inputs []string, opts Options) (Result, error) {
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
	var archives []*dockerarchive.Archive
	defer func() {
		for _, a := range archives {
			a.Close()
		}
	}()
	for _, in := range inputs {
		a, err := dockerarchive.Open(in)
		if err != nil {
			return Result{}, err
		}
		archives = append(archives, a)
	}
	entries, notes, err := plan(archives)
	if err != nil {
		return Result{}, err
	}
	res, err := write(w, entries, opts)
	res.Notes = notes
	return res, err
}

// plan orders the images of all archives, dropping repeats and checking
// tags, before anything is written.
func plan(archives []*dockerarchive.Archive) ([]*entry, []string, error) {
	var entries []*entry
	byID := map[digest.Digest]*entry{}
	owners := map[string]tagOwner{}
	var notes []string
	for _, a := range archives {
		for i := range a.Images {
			im := &a.Images[i]
			e, seen := byID[im.ConfigDigest]
			if seen {
				notes = append(notes, fmt.Sprintf("image %s is in %s and in %s: stored once", short(im.ConfigDigest), e.file, display(a.Name)))
			} else {
				e = &entry{image: im, file: display(a.Name)}
				byID[im.ConfigDigest] = e
				entries = append(entries, e)
			}
			for _, t := range im.RepoTags {
				// As docker load checks and resolves it:
				// "app:latest" and "docker.io/library/app:latest"
				// are one tag.
				ref, err := reference.ParseRepoTag(t)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: image %d: %w", display(a.Name), i+1, err)
				}
				key := ref.Key()
				if o, ok := owners[key]; ok {
					if o.image != im.ConfigDigest {
						spelt := t
						if o.tag != t {
							spelt = fmt.Sprintf("%s (%s)", t, o.tag)
						}
						return nil, nil, fmt.Errorf("tag %s names two different images: %s in %s and %s in %s", spelt, short(o.image), o.file, short(im.ConfigDigest), display(a.Name))
					}
					continue // the same tag of the same image again
				}
				owners[key] = tagOwner{tag: t, image: im.ConfigDigest, file: display(a.Name)}
				e.tags = append(e.tags, t)
			}
		}
	}
	return entries, notes, nil
}

// WriteError is a failure to write the output (as opposed to a problem
// with an input), so callers can name their output in the message.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// errWriter marks the errors of the output writer.
type errWriter struct{ w io.Writer }

func (e errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		err = &WriteError{err}
	}
	return n, err
}

// inputErr prefixes an error about an input, and passes output errors on.
func inputErr(err error, format string, a ...any) error {
	var we *WriteError
	if errors.As(err, &we) {
		return we
	}
	return fmt.Errorf(format+": %w", append(a, err)...)
}

// layerErr names the input of a failed layer copy, unless the reader's
// message already does.
func layerErr(err error, file, layer string) error {
	var we *WriteError
	if errors.As(err, &we) {
		return we
	}
	if strings.Contains(err.Error(), file) {
		return err
	}
	return fmt.Errorf("%s: layer %s: %w", file, layer, err)
}

// write streams the planned images into an archive.
func write(w io.Writer, entries []*entry, opts Options) (Result, error) {
	buf := bufio.NewWriterSize(errWriter{w}, 1<<20)
	zw, err := compress.NewWriter(buf, opts.Compress)
	if err != nil {
		return Result{}, err
	}
	aw := dockerarchive.NewWriter(zw, Mtime)
	var res Result
	layers := map[digest.Digest]bool{}
	for _, e := range entries {
		var names []string
		for _, l := range e.image.Layers {
			name, err := aw.WriteLayer(l.DiffID, l.Size(), l.CopyTo)
			if err != nil {
				return Result{}, layerErr(err, e.file, l.Name)
			}
			names = append(names, name)
			layers[l.DiffID] = true
		}
		config, err := aw.WriteConfig(e.image.Config)
		if err != nil {
			return Result{}, inputErr(err, "%s: config %s", e.file, e.image.ConfigName)
		}
		aw.AddImage(config, e.tags, names)
		res.Images++
		res.Tags += len(e.tags)
	}
	res.Layers = len(layers)
	if err := aw.Close(); err != nil {
		return Result{}, inputErr(err, "finishing the archive")
	}
	if err := zw.Close(); err != nil {
		return Result{}, inputErr(err, "finishing the archive")
	}
	if err := buf.Flush(); err != nil {
		return Result{}, inputErr(err, "finishing the archive")
	}
	return res, nil
}

func short(d digest.Digest) string {
	if len(d.Encoded()) < 12 {
		return d.String()
	}
	return d.Encoded()[:12]
}

func display(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}
