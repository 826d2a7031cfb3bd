package layer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/opencontainers/go-digest"
)

// Descriptor is the JSON path-to-layer prints for a layer and
// assemble-image reads: where the layer is (its file; none for a layer
// measured with --digest-only), what it is (diffID, size, TarSum), what it
// holds (store paths, or a root directory) and the options that shaped its
// bytes, so that the descriptor alone writes it again from the store.
type Descriptor struct {
	Index  *int          `json:"index,omitempty"`
	File   string        `json:"file,omitempty"`
	DiffID digest.Digest `json:"diffID"`
	Size   int64         `json:"size"`
	TarSum string        `json:"tarsum,omitempty"`
	Paths  []string      `json:"paths,omitempty"`
	Root   string        `json:"root,omitempty"`
	// The options (absent in descriptors of earlier versions: the
	// defaults).
	Mtime    *int64  `json:"mtime,omitempty"`
	Uid      *int64  `json:"uid,omitempty"`
	Gid      *int64  `json:"gid,omitempty"`
	Uname    *string `json:"uname,omitempty"`
	Gname    *string `json:"gname,omitempty"`
	StoreDir string  `json:"storeDir,omitempty"`
	Perms    []Perm  `json:"perms,omitempty"`
}

// SetOptions records the options that shaped the layer.
func (d *Descriptor) SetOptions(o Options) {
	d.Mtime, d.Uid, d.Gid, d.Uname, d.Gname = &o.Mtime, &o.Uid, &o.Gid, &o.Uname, &o.Gname
	d.StoreDir = o.storeDir()
	d.Perms = o.Perms
}

// Options are the options the descriptor records, defaults where it
// records none.
func (d Descriptor) Options() Options {
	o := Defaults()
	for _, f := range []struct {
		dst *int64
		src *int64
	}{{&o.Mtime, d.Mtime}, {&o.Uid, d.Uid}, {&o.Gid, d.Gid}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if d.Uname != nil {
		o.Uname = *d.Uname
	}
	if d.Gname != nil {
		o.Gname = *d.Gname
	}
	if d.StoreDir != "" {
		o.StoreDir = d.StoreDir
	}
	o.Perms = d.Perms
	return o
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
		if err := d.Check(); err != nil {
			return nil, fmt.Errorf("%s: descriptor %d: %w", name, len(ds)+1, err)
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return nil, fmt.Errorf("%s: no layer descriptor", name)
	}
	return ds, nil
}

// Name is how messages name the descriptor's layer: its file, or what it
// holds.
func (d Descriptor) Name() string {
	switch {
	case d.File != "":
		return d.File
	case d.Root != "":
		return "the layer of root " + d.Root
	}
	return "the layer of store paths " + strings.Join(d.Paths, " ")
}

// Check says what is wrong with a descriptor, if anything.
func (d Descriptor) Check() error {
	if d.File == "" && d.Root == "" && len(d.Paths) == 0 {
		return errors.New(`no "file", "paths" or "root": the layer was written to stdout, and nothing says how to write it again`)
	}
	if err := d.DiffID.Validate(); err != nil || d.DiffID.Algorithm() != digest.SHA256 {
		return fmt.Errorf("%s: diffID %q is not a sha256 digest", d.Name(), d.DiffID)
	}
	if d.Size < 0 {
		return fmt.Errorf("%s: negative size", d.Name())
	}
	if d.Index != nil && *d.Index < 0 {
		return fmt.Errorf("%s: negative index", d.Name())
	}
	for _, n := range []*int64{d.Uid, d.Gid} {
		if n != nil && *n < 0 {
			return fmt.Errorf("%s: negative uid or gid", d.Name())
		}
	}
	if err := CompilePerms(d.Perms); err != nil {
		return fmt.Errorf("%s: perms: %w", d.Name(), err)
	}
	if d.File == "" {
		o := d.Options()
		for _, p := range d.Paths {
			if _, err := CheckStorePath(p, o.storeDir()); err != nil {
				return fmt.Errorf("%s: %w", d.Name(), err)
			}
		}
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
			return nil, fmt.Errorf("two layers have index %d: %s and %s", *out[i].Index, out[i-1].Name(), out[i].Name())
		}
	}
	return out, nil
}

// Layer is the descriptor's layer in the model. With a file, the file,
// checked against the descriptor (its size now, its bytes as they are
// written: exactly its size, stopped there if the file grew). Without
// one, the layer written again from the store paths (or root) with the
// descriptor's options, in one pass, checked against its diffID and size
// at the end: a store that changed since is an error naming the layer.
func (d Descriptor) Layer() (image.Layer, error) {
	if err := d.Check(); err != nil {
		return image.Layer{}, err
	}
	if d.File == "" {
		o := d.Options()
		o.NoDiffID, o.TarSum = true, false
		gen := func(w io.Writer) error {
			_, err := Write(w, d.Root, d.Paths, o)
			return err
		}
		want := image.Want{Digest: d.DiffID, Size: d.Size, By: "its descriptor (the store changed since it was measured?)"}
		return image.Layer{DiffID: d.DiffID, Size: d.Size, Source: image.Generated(d.Name(), gen, want)}, nil
	}
	fi, err := os.Stat(d.File)
	if err != nil {
		return image.Layer{}, fmt.Errorf("layer %s: %w", d.File, pathErr(err))
	}
	if fi.Size() != d.Size {
		return image.Layer{}, fmt.Errorf("layer %s is %d bytes, its descriptor says %d", d.File, fi.Size(), d.Size)
	}
	copyFile := func(w io.Writer) error {
		f, err := os.Open(d.File)
		if err != nil {
			return fmt.Errorf("layer %s: %w", d.File, pathErr(err))
		}
		defer f.Close()
		_, err = image.Copy(w, f, "layer "+d.File)
		return err
	}
	want := image.Want{Digest: d.DiffID, Size: d.Size, By: "its descriptor"}
	return image.Layer{DiffID: d.DiffID, Size: d.Size, Source: image.Generated("layer "+d.File, copyFile, want)}, nil
}
