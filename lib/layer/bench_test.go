package layer_test

import (
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/go-dockertools/dockertools/lib/layer"
)

// benchStore returns a store directory and its paths: the one
// $DOCKERTOOLS_BENCH_STORE names (bench/run builds one from the Debian
// packages installed: bench/cache/full/store), or a generated store shaped
// like one: many small files, some large ones, a few symlinks.
func benchStore(b *testing.B) (string, []string) {
	b.Helper()
	if dir := os.Getenv("DOCKERTOOLS_BENCH_STORE"); dir != "" {
		names, err := os.ReadDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		var paths []string
		for _, n := range names {
			paths = append(paths, filepath.Join(dir, n.Name()))
		}
		sort.Strings(paths)
		return dir, paths
	}
	store := filepath.Join(b.TempDir(), "store")
	rng := rand.New(rand.NewSource(1))
	var paths []string
	data := make([]byte, 8<<20)
	rng.Read(data)
	for i := range 60 {
		p := filepath.Join(store, fmt.Sprintf("%032d-pkg-%d", i, i))
		paths = append(paths, p)
		for j := range 40 {
			// Sizes like a package's: mostly a few KiB, sometimes MiBs.
			size := int(rng.ExpFloat64() * 6 * 1024)
			if j%13 == 0 {
				size = rng.Intn(len(data))
			}
			f := filepath.Join(p, fmt.Sprintf("lib/d%d/f%d", j%5, j))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(f, data[:min(size, len(data))], 0o444); err != nil {
				b.Fatal(err)
			}
		}
		if err := os.Symlink("lib/d0/f0", filepath.Join(p, "link")); err != nil {
			b.Fatal(err)
		}
	}
	return store, paths
}

// BenchmarkWriteStorePaths writes one layer of every store path of the
// bench store (see benchStore) to io.Discard, with its diffID, as
// path-to-layer does. Profile it with
//
//	DOCKERTOOLS_BENCH_STORE=$PWD/bench/cache/full/store go test -run '^$' \
//	  -bench WriteStorePaths -benchtime 3x -cpuprofile cpu.prof ./lib/layer
func BenchmarkWriteStorePaths(b *testing.B) {
	store, paths := benchStore(b)
	o := layer.Defaults()
	o.StoreDir = store
	for _, tc := range []struct {
		name   string
		tarsum bool
	}{{"diffID", false}, {"diffID+tarsum", true}} {
		b.Run(tc.name, func(b *testing.B) {
			o.TarSum = tc.tarsum
			res, err := layer.WriteStorePaths(io.Discard, paths, o) // warm the page cache
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(res.Size)
			b.ResetTimer()
			for range b.N {
				if _, err := layer.WriteStorePaths(io.Discard, paths, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
