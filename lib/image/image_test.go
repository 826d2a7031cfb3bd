package image_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/opencontainers/go-digest"
)

// TestMeasureAndGenerated: a measured layer has the generator's digest
// and size, writes the same bytes again, and fails naming its source when
// the generator writes other bytes, fewer or more.
func TestMeasureAndGenerated(t *testing.T) {
	content := "layer bytes"
	gen := func(w io.Writer) error { _, err := io.WriteString(w, content); return err }
	l, err := image.Measure("store paths /s/a", gen)
	if err != nil {
		t.Fatal(err)
	}
	if l.DiffID != digest.FromString("layer bytes") || l.Size != int64(len(content)) {
		t.Fatalf("measured %s %d", l.DiffID, l.Size)
	}
	var buf bytes.Buffer
	if err := l.Stream(&buf); err != nil || buf.String() != content {
		t.Fatalf("written %q: %v", buf.String(), err)
	}
	r := l.Open()
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != content {
		t.Fatalf("opened %q: %v", b, err)
	}
	for _, c := range []struct{ now, want string }{
		{"layer bytez", "does not match its first reading (it changed since): its sha256 is"},
		{"layer byte", "is 10 bytes, its first reading (it changed since) says 11"},
		{"layer bytes!", "is longer than the 11 bytes"},
	} {
		content = c.now
		err := l.Stream(io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "store paths /s/a ") {
			t.Errorf("%q: %v", c.now, err)
		}
		if _, err := io.ReadAll(l.Open()); err == nil {
			t.Errorf("%q: Open read it without an error", c.now)
		}
	}
}

// TestWriteErrorsAreMarked: the destination's failure comes back as a
// *image.WriteError, the source's as itself.
func TestWriteErrorsAreMarked(t *testing.T) {
	boom := errors.New("disk full")
	src := image.Generated("g", func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }, image.Want{Digest: digest.FromString("x"), Size: 1})
	err := src.Stream(failWriter{boom})
	var we *image.WriteError
	if !errors.As(err, &we) || !errors.Is(err, boom) {
		t.Errorf("destination failure: %v", err)
	}
	bad := errors.New("unreadable")
	err = image.Generated("g", func(io.Writer) error { return bad }, image.Want{}).Stream(io.Discard)
	if errors.As(err, &we) || !errors.Is(err, bad) {
		t.Errorf("source failure: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestImagePlatform reads the platform and creation time from the config.
func TestImagePlatform(t *testing.T) {
	im := &image.Image{Config: []byte(`{"architecture":"arm","variant":"v7","os":"linux","created":"2001-09-09T01:46:40Z"}`)}
	p, err := im.Platform()
	if err != nil || p.Architecture != "arm" || p.Variant != "v7" || p.OS != "linux" {
		t.Errorf("platform %+v: %v", p, err)
	}
	if im.Created() != "2001-09-09T01:46:40Z" {
		t.Errorf("created %q", im.Created())
	}
	if im.ID() != digest.FromBytes(im.Config) {
		t.Error("ID is not the config's digest")
	}
	if _, err := (&image.Image{Config: []byte("{")}).Platform(); err == nil {
		t.Error("a broken config has a platform")
	}
}
