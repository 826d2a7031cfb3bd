package compress

import (
	"io"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// benchInput is $COMPRESS_BENCH_INPUT's first 256 MiB (e.g. a tar of
// /usr: tar --sort=name -cf /tmp/usr.tar /usr), or else 64 MiB of
// synthetic text and binary: words of a Zipf-distributed vocabulary with
// runs of random bytes between them.
func benchInput(b *testing.B) []byte {
	if name := os.Getenv("COMPRESS_BENCH_INPUT"); name != "" {
		f, err := os.Open(name)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, 256<<20))
		if err != nil {
			b.Fatal(err)
		}
		return data
	}
	r := rand.New(rand.NewSource(1))
	words := make([][]byte, 4096)
	for i := range words {
		w := make([]byte, 2+r.Intn(10))
		for j := range w {
			w[j] = byte('a' + r.Intn(26))
		}
		words[i] = append(w, ' ')
	}
	zipf := rand.NewZipf(r, 1.1, 1, uint64(len(words)-1))
	data := make([]byte, 0, 64<<20+64)
	for len(data) < 64<<20 {
		if r.Intn(100) == 0 {
			for range r.Intn(512) {
				data = append(data, byte(r.Intn(256)))
			}
		}
		data = append(data, words[zipf.Uint64()]...)
	}
	return data[:64<<20]
}

// BenchmarkWriter measures the writers' throughput (MB/s of input) with
// pools of 1 and of GOMAXPROCS blocks; run with -cpu 1,2,4 to see it
// scale.
func BenchmarkWriter(b *testing.B) {
	data := benchInput(b)
	for _, kind := range []Kind{Gzip, Zstd} {
		for _, n := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(string(kind)+"/pool="+strconv.Itoa(n), func(b *testing.B) {
				pool := NewPool(n)
				b.SetBytes(int64(len(data)))
				var out countWriter
				for b.Loop() {
					w, _ := pool.NewWriter(&out, kind)
					if _, err := w.Write(data); err != nil {
						b.Fatal(err)
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(out)/float64(len(data))/float64(b.N), "ratio")
			})
		}
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
