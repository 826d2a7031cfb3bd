package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDigestOnly: path-to-layer --digest-only measures store paths
// without writing a tar; assemble-image writes those layers from the store
// into exactly the image the layer files give, in every format; a store
// path changed since is one line naming the layer, exit 1, no output.
func TestDigestOnly(t *testing.T) {
	w := newWorkspace(t)
	p2l := func(args ...string) result {
		t.Helper()
		return runTool(t, w.dir, nil, "path-to-layer", args...)
	}
	for i, p := range w.paths {
		r := p2l("--store-dir", w.store, "--index", string(rune('0'+i)), "--digest-only", "--descriptor", "d"+string(rune('0'+i))+".json", p)
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("--digest-only: exit %d, stdout %q, %s", r.code, r.stdout, r.stderr)
		}
	}
	if r := p2l("--store-dir", w.store, "--digest-only", w.paths[0]); r.code != 0 || !strings.Contains(r.stdout, `"diffID":"`+w.descs[0].DiffID.String()+`"`) || strings.Contains(r.stdout, `"file"`) {
		t.Errorf("--digest-only to stdout: exit %d, %q", r.code, r.stdout)
	}
	if r := p2l("--digest-only", "-o", "x.tar", w.paths[0]); r.code != 2 || !strings.Contains(r.stderr, "-o does not go with it") {
		t.Errorf("--digest-only -o: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "x.tar")); err == nil {
		t.Error("--digest-only -o wrote a file")
	}

	for _, format := range []string{"docker-archive", "oci-archive"} {
		fromFiles := runTool(t, w.dir, nil, "assemble-image", "-q", "--tag", "app:1", "--format", format, "-o", "files.tar", "layers/0.json", "layers/1.json")
		fromStore := runTool(t, w.dir, nil, "assemble-image", "-q", "--tag", "app:1", "--format", format, "-o", "store.tar", "d0.json", "d1.json")
		if fromFiles.code != 0 || fromStore.code != 0 {
			t.Fatalf("%s: exit %d %s, %d %s", format, fromFiles.code, fromFiles.stderr, fromStore.code, fromStore.stderr)
		}
		a, _ := os.ReadFile(filepath.Join(w.dir, "files.tar"))
		b, _ := os.ReadFile(filepath.Join(w.dir, "store.tar"))
		if !bytes.Equal(a, b) || fromFiles.stdout != fromStore.stdout {
			t.Errorf("%s: the image from the store (%d bytes) differs from the one from layer files (%d bytes)", format, len(b), len(a))
		}
	}

	// A store path changed since it was measured.
	must(t, os.Chmod(filepath.Join(w.paths[1], "bin/prog"), 0o755))
	must(t, os.WriteFile(filepath.Join(w.paths[1], "bin/prog"), []byte("#!/bin/sh\necho changed\n"), 0o755))
	r := runTool(t, w.dir, nil, "assemble-image", "--tag", "app:1", "-o", "changed.tar", "d0.json", "d1.json")
	if r.code != 1 || !strings.Contains(r.stderr, "the layer of store paths "+w.paths[1]) || !strings.Contains(r.stderr, "its descriptor") || strings.Count(r.stderr, "assemble-image:") != 1 {
		t.Errorf("a changed store path: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "changed.tar")); err == nil {
		t.Error("output left after a changed store path")
	}
}
