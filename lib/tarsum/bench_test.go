package tarsum_test

import (
	"archive/tar"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/tarsum"
)

// The 1 GiB layer of the benchmarks: four big files and 8192 small ones,
// written once per test process to a temporary file.
var (
	bigLayerOnce sync.Once
	bigLayerPath string
	bigLayerSize int64
	bigLayerErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if bigLayerPath != "" {
		os.Remove(bigLayerPath)
	}
	os.Exit(code)
}

func bigLayer(b *testing.B) (string, int64) {
	bigLayerOnce.Do(func() {
		bigLayerPath, bigLayerSize, bigLayerErr = writeBigLayer()
	})
	if bigLayerErr != nil {
		b.Fatal(bigLayerErr)
	}
	return bigLayerPath, bigLayerSize
}

func writeBigLayer() (string, int64, error) {
	f, err := os.CreateTemp("", "tarsum-bench-*.tar")
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	// Incompressible-looking contents; their values do not matter to a
	// hash, only that they are not all one byte.
	rng := rand.New(rand.NewChaCha8([32]byte{'t', 'a', 'r', 's', 'u', 'm'}))
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(rng.Uint32())
	}
	tw := tar.NewWriter(f)
	write := func(name string, size int64) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		for off := int64(0); off < size; {
			n := min(size-off, int64(len(chunk)))
			if _, err := tw.Write(chunk[:n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	const small = 8192 // small files of 1 to 16 KiB, about 68 MiB in all
	var smallTotal int64
	for i := range small {
		size := int64(1024 + rng.IntN(15*1024))
		smallTotal += size
		if err := write(fmt.Sprintf("small/%05d", i), size); err != nil {
			return "", 0, err
		}
	}
	rest := int64(1<<30) - smallTotal - small*1024 // what the big files get
	for i := range 4 {
		if err := write(fmt.Sprintf("big/%d", i), rest/4-512); err != nil {
			return "", 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return "", 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	return f.Name(), fi.Size(), nil
}

// cpuTime is the CPU time the process has used. The benchmarks report
// throughput per CPU second too ("MB/cpu-s"), which other processes on a
// busy machine disturb much less than MB/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, size int64, start time.Duration) {
	if cpu := cpuTime() - start; cpu > 0 {
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

// BenchmarkTarSum1GiB measures Archive over the 1 GiB layer, read from a
// file; BenchmarkSHA256_1GiB is plain sha256 of the same file, the
// baseline (goal: TarSum at 80% of its speed or better).
func BenchmarkTarSum1GiB(b *testing.B) {
	path, size := bigLayer(b)
	b.SetBytes(size)
	start := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tarsum.Archive(f, tarsum.Version1, "sha256", nil); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	reportCPU(b, size, start)
}

func BenchmarkSHA256_1GiB(b *testing.B) {
	path, size := bigLayer(b)
	b.SetBytes(size)
	buf := make([]byte, 1<<20)
	start := cpuTime()
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(h, f, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	reportCPU(b, size, start)
}
