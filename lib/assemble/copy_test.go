package assemble_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/opencontainers/go-digest"
)

// TestCopyLayerFile: a layer file that is shorter or longer than its
// descriptor when it is copied (it changed after Native checked its size)
// is an error naming it, and exactly the descriptor's size is written; a
// failure of the destination is passed on as it is, not blamed on the
// layer.
func TestCopyLayerFile(t *testing.T) {
	data := bytes.Repeat([]byte("layer bytes "), 1000)
	f := writeTemp(t, "layer.tar", data)
	d := assemble.Descriptor{File: f, DiffID: digest.FromBytes(data), Size: int64(len(data))}

	var out bytes.Buffer
	must(t, assemble.CopyLayerFile(&out, d))
	if !bytes.Equal(out.Bytes(), data) {
		t.Fatal("the copy differs from the file")
	}

	longer := d
	longer.Size -= 10
	longer.DiffID = digest.FromBytes(data[:longer.Size])
	out.Reset()
	err := assemble.CopyLayerFile(&out, longer)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "changed size") || !strings.Contains(err.Error(), "longer") {
		t.Errorf("file longer than its descriptor: %v", err)
	}
	if int64(out.Len()) != longer.Size {
		t.Errorf("%d bytes written for a %d-byte descriptor", out.Len(), longer.Size)
	}

	shorter := d
	shorter.Size += 10
	err = assemble.CopyLayerFile(&out, shorter)
	if err == nil || !strings.Contains(err.Error(), f) || !strings.Contains(err.Error(), "ended after 12000 bytes") {
		t.Errorf("file shorter than its descriptor: %v", err)
	}

	err = assemble.CopyLayerFile(&failWriter{100}, d)
	if !errors.Is(err, errDiskFull) || strings.Contains(err.Error(), f) {
		t.Errorf("destination failure: %v, want the writer's error unchanged", err)
	}
}
