package layer_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
	"github.com/opencontainers/go-digest"
)

// FuzzReadDescriptors: any input reads or fails with a one-line error
// naming the input, never panics; every descriptor accepted passes the
// documented checks (a file, or paths or a root to write it from; a sha256 diffID, a size and index that are
// not negative); written back as JSON lines they read again to the same
// descriptors; OrderDescriptors either refuses them or returns a
// permutation in index order. Seeds (testdata/fuzz/FuzzReadDescriptors):
// what path-to-layer prints (with and without index, tarsum and root),
// JSON lines, concatenated objects, permission rules, and the bad inputs
// of the CLI tests.
func FuzzReadDescriptors(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := layer.ReadDescriptors(bytes.NewReader(data), "fuzz.json")
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "fuzz.json: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q does not name the input on one line", msg)
			}
			if ds != nil {
				t.Fatalf("descriptors %+v with error %v", ds, err)
			}
			return
		}
		if len(ds) == 0 {
			t.Fatal("no descriptors and no error")
		}
		var lines bytes.Buffer
		for i, d := range ds {
			if d.File == "" && d.Root == "" && len(d.Paths) == 0 {
				t.Fatalf("descriptor %d has no file, root or paths", i+1)
			}
			if d.DiffID.Validate() != nil || d.DiffID.Algorithm() != digest.SHA256 {
				t.Fatalf("descriptor %d: diffID %q is not a sha256 digest", i+1, d.DiffID)
			}
			if d.Size < 0 || (d.Index != nil && *d.Index < 0) {
				t.Fatalf("descriptor %d: size %d, index %v", i+1, d.Size, d.Index)
			}
			js, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			lines.Write(append(js, '\n'))
		}
		again, err := layer.ReadDescriptors(&lines, "again.json")
		if err != nil {
			t.Fatalf("written back as %s: %v", lines.String(), err)
		}
		if !reflect.DeepEqual(normalise(again), normalise(ds)) {
			t.Fatalf("read back %+v, want %+v", again, ds)
		}
		ordered, err := layer.OrderDescriptors(ds)
		if err != nil {
			return
		}
		if len(ordered) != len(ds) {
			t.Fatalf("%d descriptors ordered into %d", len(ds), len(ordered))
		}
		seen := map[string]int{}
		for i, d := range ordered {
			js, _ := json.Marshal(d)
			seen[string(js)]++
			if i > 0 && d.Index != nil && *d.Index <= *ordered[i-1].Index {
				t.Fatalf("index %d after %d", *d.Index, *ordered[i-1].Index)
			}
		}
		for _, d := range ds {
			js, _ := json.Marshal(d)
			seen[string(js)]--
		}
		for js, n := range seen {
			if n != 0 {
				t.Fatalf("ordering is not a permutation: %s %+d", js, n)
			}
		}
	})
}

// normalise makes an empty and a nil Paths (and Perms) compare equal:
// JSON omits both.
func normalise(ds []layer.Descriptor) []layer.Descriptor {
	out := append([]layer.Descriptor(nil), ds...)
	for i := range out {
		if len(out[i].Paths) == 0 {
			out[i].Paths = nil
		}
		if len(out[i].Perms) == 0 {
			out[i].Perms = nil
		}
	}
	return out
}
