// Package imagefile opens any image file or directory the toolkit reads,
// recognising its format by content: a docker-archive (docker save, old
// and new, nixpkgs or this toolkit), an oci-archive, or an OCI layout
// directory; archives plain, gzip or zstd compressed. It gives the images
// in the lib/image model, and finds one by name.
package imagefile

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/oci"
	"github.com/go-dockertools/dockertools/lib/reference"
)

// Format names an image format as skopeo's transports do.
type Format string

// The formats read and written.
const (
	DockerArchive Format = "docker-archive"
	OCILayout     Format = "oci"
	OCIArchive    Format = "oci-archive"
)

// ParseFormat accepts docker-archive, oci or oci-archive.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case DockerArchive, OCILayout, OCIArchive:
		return f, nil
	case "":
		return DockerArchive, nil
	}
	return "", fmt.Errorf("unknown format %q (want docker-archive, oci or oci-archive)", s)
}

// File is an image file or directory opened for reading.
type File struct {
	Name   string
	Format Format
	Images []*image.Image
	// Docker is the docker-archive itself, for callers that need its
	// members as they are (nixpkgs' base image copy); nil for OCI.
	Docker *dockerarchive.Archive
	closer io.Closer
}

// Open opens name ("-" is stdin, an archive) and reads its images.
func Open(name string) (*File, error) {
	if name != "-" {
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			l, err := oci.OpenLayout(name)
			if err != nil {
				return nil, err
			}
			ims, err := l.Images()
			if err != nil {
				return nil, err
			}
			return &File{Name: name, Format: OCILayout, Images: ims}, nil
		}
	}
	a, err := dockerarchive.OpenTar(name)
	if err != nil {
		return nil, err
	}
	f := &File{Name: a.Name, Docker: a}
	switch {
	case a.HasMember("manifest.json"):
		f.Format = DockerArchive
		for i := range a.Images {
			f.Images = append(f.Images, a.Model(&a.Images[i]))
		}
	case a.HasMember("oci-layout") || a.HasMember("index.json"):
		f.Format, f.Docker = OCIArchive, nil
		l, err := oci.Read(displayName(name), a)
		if err == nil {
			f.Images, err = l.Images()
		}
		if err != nil {
			a.Close()
			return nil, err
		}
		f.closer = a
	default:
		a.Close()
		return nil, fmt.Errorf("%s: neither a docker-archive (no manifest.json) nor an oci-archive (no oci-layout)", displayName(name))
	}
	if f.closer == nil {
		f.closer = a
	}
	return f, nil
}

// Close releases the file.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// NoImageError is Find's error when no image has the name.
type NoImageError struct {
	File, Name string
}

func (e *NoImageError) Error() string {
	return fmt.Sprintf("%s has no image tagged %q", e.File, e.Name)
}

// Find picks the image named name ("name" or "name:tag"), comparing names
// as docker does ("app", "app:latest" and "docker.io/library/app:latest"
// are one name; see package reference), or whose OCI ref.name is name.
// With an empty name the file must hold exactly one image. A name on two
// different images is an error.
func (f *File) Find(name string) (*image.Image, error) {
	if name == "" {
		if len(f.Images) != 1 {
			var names []string
			for _, im := range f.Images {
				names = append(names, im.Names...)
			}
			return nil, fmt.Errorf("%s holds %d images; pick one by tag (%s)", f.Name, len(f.Images), strings.Join(names, ", "))
		}
		return f.Images[0], nil
	}
	want, err := reference.Parse(name)
	if err != nil && !f.hasRefName(name) {
		return nil, err
	}
	var found *image.Image
	for _, im := range f.Images {
		if !Matches(im, name) {
			continue
		}
		if found != nil && found.ID() != im.ID() {
			return nil, fmt.Errorf("%s has two images tagged %s (%s and %s)", f.Name, want.Familiar(), found.ID(), im.ID())
		}
		if found == nil {
			found = im
		}
	}
	if found == nil {
		return nil, &NoImageError{File: f.Name, Name: name}
	}
	return found, nil
}

func (f *File) hasRefName(name string) bool {
	for _, im := range f.Images {
		for _, r := range im.RefNames {
			if r == name {
				return true
			}
		}
	}
	return false
}

// Matches reports whether an image goes by name: one of its names is the
// same image name (a name docker would refuse matches nothing), or name
// is one of its OCI ref.names.
func Matches(im *image.Image, name string) bool {
	for _, r := range im.RefNames {
		if r == name {
			return true
		}
	}
	want, err := reference.Parse(name)
	if err != nil {
		return false
	}
	for _, n := range im.Names {
		if r, err := reference.Parse(n); err == nil && r.Key() == want.Key() {
			return true
		}
	}
	return false
}

func displayName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}
