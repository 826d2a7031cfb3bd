package imagefile_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/compress"
	"github.com/go-dockertools/dockertools/lib/imagefile"
	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
	"github.com/opencontainers/go-digest"
)

// TestFindImage: an image is found by any spelling of its name, as docker
// resolves names (app = app:latest = docker.io/library/app:latest), never
// by another registry's name or by a tag alone; a RepoTag docker load
// refuses matches nothing; a name on two different images is an error.
func TestFindImage(t *testing.T) {
	dir := t.TempDir()
	l := mergetest.RootLayer(t, map[string]string{"f": "f"})
	image := func(created string, tags ...string) mergetest.Image {
		return mergetest.Image{Tags: tags, Layers: []mergetest.Layer{l}, Created: created}
	}
	app := image("2001-01-01T00:00:00Z", "docker.io/library/app:latest", "web:1")
	local := image("2002-01-01T00:00:00Z", "localhost:5000/app")
	bad := image("2003-01-01T00:00:00Z", "Fixture/App:a")
	again := image(app.Created, "index.docker.io/library/app") // the same image, spelt otherwise
	f := filepath.Join(dir, "a.tar")
	mergetest.WriteArchive(t, f, compress.None, app, local, bad, again)
	a, err := imagefile.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, c := range []struct {
		tag  string
		want digest.Digest // "": no image
	}{
		{"app", app.ID()},
		{"app:latest", app.ID()},
		{"docker.io/app", app.ID()},
		{"index.docker.io/library/app:latest", app.ID()},
		{"web:1", app.ID()},
		{"docker.io/library/web:1", app.ID()},
		{"localhost:5000/app", local.ID()},
		{"localhost:5000/app:latest", local.ID()},
		{"web", ""},
		{"1", ""},
		{"latest", ""},
		{"localhost/app", ""},
		{"fixture/app:a", ""},
	} {
		im, err := a.Find(c.tag)
		if c.want == "" {
			var none *imagefile.NoImageError
			if !errors.As(err, &none) || !strings.Contains(err.Error(), `no image tagged "`+c.tag+`"`) {
				t.Errorf("FindImage(%q): %v, want no image", c.tag, err)
			}
			continue
		}
		if err != nil || im.ID() != c.want {
			t.Errorf("FindImage(%q): %v, want image %s", c.tag, err, c.want)
		}
	}
	for _, tag := range []string{"Fixture/App:a", "app:-x", "app@sha256:" + strings.Repeat("0", 64)} {
		var none *imagefile.NoImageError
		if _, err := a.Find(tag); err == nil || errors.As(err, &none) || !strings.Contains(err.Error(), `image name "`+tag+`"`) {
			t.Errorf("FindImage(%q): %v, want an error saying what is wrong with the name", tag, err)
		}
	}

	two := filepath.Join(dir, "two.tar")
	mergetest.WriteArchive(t, two, compress.None, image("2001-01-01T00:00:00Z", "app"), image("2002-01-01T00:00:00Z", "docker.io/library/app:latest"))
	b, err := imagefile.Open(two)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Find("app:latest"); err == nil || !strings.Contains(err.Error(), "two images tagged app:latest") {
		t.Errorf("a name on two images: %v", err)
	}
}
