package imagefile

import (
	"errors"
	"fmt"
	"io"

	"github.com/go-dockertools/dockertools/lib/atomicfile"
	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/dockerarchive"
	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/oci"
	"github.com/go-dockertools/dockertools/lib/zerocopy"
)

// Options say how images are written.
type Options struct {
	Format Format
	// Compress compresses a docker-archive whole (docker load reads it).
	Compress compress.Kind
	// LayerCompression compresses each layer blob of an OCI layout or
	// oci-archive; the config keeps the uncompressed diffIDs.
	LayerCompression compress.Kind
	// Jobs is how many OCI layer blobs are compressed at once (0: 2).
	Jobs int
	// Style and Mtime shape a docker-archive's members: nixpkgs' bytes,
	// or docker save's.
	Style dockerarchive.Style
	Mtime int64
}

// ParseOptions reads the output options as the commands take them
// (--format, --compress, --layer-compression; "" where not given): a
// docker-archive may be compressed whole, an OCI format compresses its
// layers (gzip unless told otherwise), and neither takes the other's.
func ParseOptions(format, whole, layers string) (Options, error) {
	var o Options
	var err error
	if o.Format, err = ParseFormat(format); err != nil {
		return o, fmt.Errorf("--format: %w", err)
	}
	if o.Compress, err = compress.ParseKind(whole); err != nil {
		return o, fmt.Errorf("--compress: %w", err)
	}
	if o.LayerCompression, err = compress.ParseKind(layers); err != nil {
		return o, fmt.Errorf("--layer-compression: %w", err)
	}
	switch {
	case o.Format == DockerArchive && layers != "":
		return o, errors.New("--layer-compression is for --format oci or oci-archive; a docker-archive is compressed whole (--compress)")
	case o.Format != DockerArchive && whole != "":
		return o, fmt.Errorf("--compress is for a docker-archive; --format %s compresses its layers (--layer-compression)", o.Format)
	case o.Format != DockerArchive && layers == "":
		o.LayerCompression = compress.Gzip
	}
	return o, nil
}

func (o Options) check() error {
	f, err := ParseFormat(string(o.Format))
	if err != nil {
		return err
	}
	if f == DockerArchive && o.LayerCompression != "" && o.LayerCompression != compress.None {
		return errors.New("layer compression is for the OCI formats: a docker-archive's layers are plain tars (compress the whole archive instead)")
	}
	if f != DockerArchive && o.Compress != "" && o.Compress != compress.None {
		return fmt.Errorf("whole-archive compression is for docker-archive: an %s compresses its layers", f)
	}
	return nil
}

// Writer writes images in one format; Close finishes the format (its
// manifest or index) without closing what it writes to.
type Writer interface {
	Add(im *image.Image) error
	Close() error
}

// NewWriter writes a docker-archive or an oci-archive to w.
func NewWriter(w io.Writer, o Options) (Writer, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	buf := zerocopy.NewBuffered(w, 1<<20)
	switch f, _ := ParseFormat(string(o.Format)); f {
	case OCIArchive:
		ow, err := oci.NewArchiveWriter(buf, oci.Options{Compression: o.LayerCompression, Jobs: o.Jobs})
		if err != nil {
			return nil, err
		}
		return &ociWriter{w: ow, flush: buf.Flush}, nil
	case DockerArchive:
		if o.Compress == "" || o.Compress == compress.None {
			// Uncompressed, files may go from the kernel to the output.
			return &dockerWriter{w: dockerarchive.NewWriter(buf, o.Style, o.Mtime), buf: buf}, nil
		}
		zw, err := compress.NewWriter(buf, o.Compress)
		if err != nil {
			return nil, err
		}
		return &dockerWriter{w: dockerarchive.NewWriter(zw, o.Style, o.Mtime), zw: zw, buf: buf}, nil
	}
	return nil, errors.New("an OCI layout is a directory: use Create")
}

type dockerWriter struct {
	w   *dockerarchive.Writer
	zw  io.WriteCloser // nil: uncompressed
	buf *zerocopy.Buffered
}

func (d *dockerWriter) Add(im *image.Image) error { return d.w.Add(im) }

func (d *dockerWriter) Close() error {
	if err := d.w.Close(); err != nil {
		return err
	}
	if d.zw != nil {
		if err := d.zw.Close(); err != nil {
			return &image.WriteError{Err: err}
		}
	}
	if err := d.buf.Flush(); err != nil {
		return &image.WriteError{Err: err}
	}
	return nil
}

type ociWriter struct {
	w     *oci.Writer
	flush func() error
}

func (o *ociWriter) Add(im *image.Image) error {
	_, err := o.w.Add(im)
	return err
}

func (o *ociWriter) Close() error {
	if err := o.w.Close(); err != nil {
		return err
	}
	if o.flush == nil {
		return nil
	}
	if err := o.flush(); err != nil {
		return &image.WriteError{Err: err}
	}
	return nil
}

// Output is an image file or directory being written: complete on
// Commit, absent after Abort (or an interruption).
type Output struct {
	Writer
	// Name is the output as messages name it ("stdout" for "-").
	Name   string
	commit func() error
	abort  func()
	done   bool
}

// Create starts writing images to path in the given format: a file
// ("-": stdout) for the archives, a directory for an OCI layout (a new
// one, or one to add to).
func Create(path string, o Options) (*Output, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if f, _ := ParseFormat(string(o.Format)); f == OCILayout {
		if path == "-" || path == "" {
			return nil, errors.New("an OCI layout is a directory: give -o DIR")
		}
		w, err := oci.CreateLayout(path, oci.Options{Compression: o.LayerCompression, Jobs: o.Jobs})
		if err != nil {
			return nil, err
		}
		ow := &ociWriter{w: w}
		return &Output{Writer: ow, Name: path, commit: ow.Close, abort: w.Abort}, nil
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(f, o)
	if err != nil {
		f.Abort()
		return nil, err
	}
	return &Output{
		Writer: w, Name: atomicfile.DisplayName(path),
		commit: func() error {
			if err := w.Close(); err != nil {
				return err
			}
			return f.Commit()
		},
		abort: f.Abort,
	}, nil
}

// IsStdout reports whether the output goes to standard output.
func (o *Output) IsStdout() bool { return o.Name == "stdout" }

// Commit finishes the format and makes the output whole.
func (o *Output) Commit() error {
	if o.done {
		return nil
	}
	o.done = true
	if err := o.commit(); err != nil {
		o.abort()
		return err
	}
	return nil
}

// Abort discards the output; after Commit it does nothing.
func (o *Output) Abort() {
	if !o.done {
		o.done = true
		o.abort()
	}
}
