package assemble_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/opencontainers/go-digest"
)

// TestLayerFileCopy: a layer file that is shorter or longer than its
// descriptor when it is copied (it changed after Native checked its size)
// is an error naming it, and no more than the descriptor's size is
// written; a failure of the destination is passed on as the output's, not
// blamed on the layer.
func TestLayerFileCopy(t *testing.T) {
	data := bytes.Repeat([]byte("layer bytes "), 1000)
	f := writeTemp(t, "layer.tar", data)
	d := layer.Descriptor{File: f, DiffID: digest.FromBytes(data), Size: int64(len(data))}
	l, err := d.Layer()
	must(t, err)
	var out bytes.Buffer
	must(t, l.Stream(&out))
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("the copy differs from the file")
	}

	must(t, os.WriteFile(f, append(data, "more"...), 0o644)) // grew since
	out.Reset()
	err = l.Stream(&out)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "longer than the 12000 bytes its descriptor says") {
		t.Errorf("file longer than its descriptor: %v", err)
	}
	if int64(out.Len()) != d.Size {
		t.Errorf("%d bytes written for a %d-byte descriptor", out.Len(), d.Size)
	}

	must(t, os.WriteFile(f, data[:len(data)-10], 0o644)) // shrank since
	err = l.Stream(io.Discard)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "is 11990 bytes, its descriptor says 12000") {
		t.Errorf("file shorter than its descriptor: %v", err)
	}

	must(t, os.WriteFile(f, data, 0o644))
	err = l.Stream(&failWriter{100})
	var we *image.WriteError
	if !errors.Is(err, errDiskFull) || !errors.As(err, &we) || strings.Contains(err.Error(), f) {
		t.Errorf("destination failure: %v, want the writer's error marked as the output's", err)
	}
}
