package compress

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os/exec"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/testutil"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

func sample() []byte {
	b := make([]byte, 5<<20+123) // several gzip and zstd blocks
	r := rand.New(rand.NewSource(1))
	for i := range b {
		if i%7 == 0 {
			b[i] = byte(r.Intn(256))
		} else {
			b[i] = byte('a' + i%13)
		}
	}
	return b
}

func compressed(t *testing.T, kind Kind, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kind)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressedWith compresses data with a writer of pool, in writes of
// piece bytes.
func compressedWith(t *testing.T, pool *Pool, kind Kind, data []byte, piece int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pool.NewWriter(&buf, kind)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), piece)
		if n, err := w.Write(rest[:k]); n != k || err != nil {
			t.Fatalf("Write: %d of %d, %v", n, k, err)
		}
		rest = rest[k:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripAndDetection(t *testing.T) {
	data := sample()
	for _, kind := range []Kind{None, Gzip, Zstd} {
		c := compressed(t, kind, data)
		if got := Detect(bufio.NewReader(bytes.NewReader(c))); got != kind {
			t.Errorf("%s output detected as %s", kind, got)
		}
		r, got, err := NewReader(bytes.NewReader(c))
		if err != nil || got != kind {
			t.Fatalf("%s: NewReader: %v, kind %s", kind, err, got)
		}
		back, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(back, data) {
			t.Errorf("%s: round trip lost data (%v)", kind, err)
		}
		if kind != None && len(c) >= len(data) {
			t.Errorf("%s: %d bytes from %d: not compressed", kind, len(c), len(data))
		}
	}
}

// TestDeterministic: the same bytes in give the same bytes out, whatever
// GOMAXPROCS, the Pool's size and how the input is cut into writes; gzip
// headers carry no time and no name.
func TestDeterministic(t *testing.T) {
	data := sample()
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	for _, kind := range []Kind{Gzip, Zstd} {
		want := compressed(t, kind, data)
		for _, procs := range []int{1, 2, 4} {
			runtime.GOMAXPROCS(procs)
			for _, pool := range []int{1, 3, 8} {
				if got := compressedWith(t, NewPool(pool), kind, data, 65537); !bytes.Equal(got, want) {
					t.Errorf("%s: GOMAXPROCS %d, pool %d: other bytes", kind, procs, pool)
				}
			}
		}
		for _, piece := range []int{1 << 20, 4093, 333} {
			if got := compressedWith(t, NewPool(2), kind, data[:3*ZstdBlockSize/2], piece); !bytes.Equal(got, compressed(t, kind, data[:3*ZstdBlockSize/2])) {
				t.Errorf("%s: writes of %d bytes: other bytes", kind, piece)
			}
		}
		runtime.GOMAXPROCS(prev)
		if kind == Gzip {
			if !bytes.Equal(want[4:8], []byte{0, 0, 0, 0}) {
				t.Errorf("gzip header holds a time: % x", want[4:8])
			}
			if want[3]&0x08 != 0 {
				t.Error("gzip header holds a file name")
			}
		}
	}
}

// TestGolden pins the compressed bytes of a fixed input. The gzip digests
// are those pgzip (SetConcurrency(1 MiB, n), ModTime 0) wrote before this
// package framed gzip itself. A failure after upgrading
// klauspost/compress means the library now compresses differently: every
// compressed layer digest changes with it, so update these only on
// purpose, and say so in the release notes.
func TestGolden(t *testing.T) {
	data := sample()
	for _, c := range []struct {
		kind Kind
		n    int
		size int
		sha  string
	}{
		{Gzip, 0, 25, "18cc39fce6d400d61490af9d0ee22138f8e8b0050ae6ef1ba78dc6ca38d611ca"},
		{Gzip, 1, 31, "bfb57ca9a0bf52188b5db6f45f142dd46f069ce05163d87ddb1b00b523cebcab"},
		{Gzip, len(data), 1393221, "2af9bcb445f9469c4e523e5e854b7d8cbc8c7bc5dfba6edeb71b844ad309141b"},
		{Zstd, 0, 9, "6fb8543883dafcc2ed0934866b8b3f775231f5b0933add08bf502e9e84944cbd"},
		{Zstd, 1, 14, "5040894eea34c1fba81f4731d7aae5426e11ac8475982bf5ead1770241b333f6"},
		{Zstd, len(data), 754432, "a6a75994b32a29036e5c621672a6b1c5d4ab270b1d969ed9b7c0653b728c1d54"},
	} {
		got := compressed(t, c.kind, data[:c.n])
		if sum := fmt.Sprintf("%x", sha256.Sum256(got)); len(got) != c.size || sum != c.sha {
			t.Errorf("%s of %d bytes: %d bytes, sha256 %s; want %d, %s", c.kind, c.n, len(got), sum, c.size, c.sha)
		}
	}
}

// TestGzipIsPgzip: gzip output is what pgzip writes with 1 MiB blocks, for
// sizes around the block and dictionary boundaries.
func TestGzipIsPgzip(t *testing.T) {
	data := sample()
	for _, n := range []int{0, 1, gzipTail - 1, gzipTail, gzipTail + 1, GzipBlockSize - 1, GzipBlockSize,
		GzipBlockSize + 1, GzipBlockSize + gzipTail, 2 * GzipBlockSize, 3*GzipBlockSize + 7} {
		var want bytes.Buffer
		zw, _ := pgzip.NewWriterLevel(&want, 6)
		if err := zw.SetConcurrency(GzipBlockSize, 4); err != nil {
			t.Fatal(err)
		}
		zw.Header.ModTime = time.Unix(0, 0)
		zw.Write(data[:n])
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if got := compressedWith(t, NewPool(3), Gzip, data[:n], 100000); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%d bytes: %d bytes of gzip, pgzip writes %d other ones", n, len(got), want.Len())
		}
	}
}

// TestZstdFrames: zstd output is one independent frame per ZstdBlockSize
// of input (the last one shorter), each what EncodeAll at SpeedDefault
// gives, so the bytes do not depend on which encoder compressed what.
func TestZstdFrames(t *testing.T) {
	data := sample()
	var want []byte
	for rest := data; len(rest) > 0; {
		chunk := rest[:min(len(rest), ZstdBlockSize)]
		rest = rest[len(chunk):]
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		want = enc.EncodeAll(chunk, want)
	}
	if got := compressed(t, Zstd, data); !bytes.Equal(got, want) {
		t.Errorf("zstd output is not the frames of its %d-byte blocks (%d bytes, want %d)", ZstdBlockSize, len(got), len(want))
	}
	// Each frame decodes on its own; exactly two blocks make two
	// frames, no empty third one.
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	for _, n := range []int{len(data), 2 * ZstdBlockSize, ZstdBlockSize - 1} {
		fs := frames(t, compressed(t, Zstd, data[:n]))
		if want := (n + ZstdBlockSize - 1) / ZstdBlockSize; len(fs) != want {
			t.Errorf("%d bytes in %d frames, want %d", n, len(fs), want)
		}
		var back []byte
		for i, f := range fs {
			if back, err = dec.DecodeAll(f, back); err != nil {
				t.Fatalf("%d bytes: frame %d: %v", n, i, err)
			}
		}
		if !bytes.Equal(back, data[:n]) {
			t.Errorf("%d bytes: the frames decoded one by one give other bytes", n)
		}
	}
}

// frames splits c into its zstd frames, walking the block headers
// (RFC 8878, 3.1.1.2).
func frames(t *testing.T, c []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(c) > 0 {
		var h zstd.Header
		if err := h.Decode(c); err != nil {
			t.Fatalf("frame %d: %v", len(out), err)
		}
		end := h.HeaderSize
		for last := false; !last; {
			if end+3 > len(c) {
				t.Fatalf("frame %d: truncated", len(out))
			}
			bh := uint32(c[end]) | uint32(c[end+1])<<8 | uint32(c[end+2])<<16
			size := int(bh >> 3)
			last = bh&1 == 1
			if (bh>>1)&3 == 1 { // RLE: one byte stands for size bytes
				size = 1
			}
			end += 3 + size
		}
		if h.HasCheckSum {
			end += 4
		}
		out = append(out, c[:end])
		c = c[end:]
	}
	return out
}

// TestSharedPool: writers sharing one Pool at the same time each write
// their own stream's bytes.
func TestSharedPool(t *testing.T) {
	data := sample()
	pool := NewPool(2)
	want := map[Kind][]byte{Gzip: compressed(t, Gzip, data), Zstd: compressed(t, Zstd, data)}
	var wg sync.WaitGroup
	got := make([][]byte, 6)
	for i := range got {
		kind := []Kind{Gzip, Zstd}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			w, _ := pool.NewWriter(&buf, kind)
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 100003+i)
				w.Write(rest[:k])
				rest = rest[k:]
			}
			w.Close()
			got[i] = buf.Bytes()
		}()
	}
	wg.Wait()
	for i, g := range got {
		if kind := []Kind{Gzip, Zstd}[i%2]; !bytes.Equal(g, want[kind]) {
			t.Errorf("writer %d (%s) sharing the pool wrote other bytes", i, kind)
		}
	}
}

// TestCLIsRead: the zstd and gzip commands decompress the output.
func TestCLIsRead(t *testing.T) {
	data := sample()
	for _, c := range []struct {
		kind Kind
		cmd  string
	}{{Gzip, "gzip"}, {Zstd, "zstd"}} {
		bin := testutil.Need(t, c.cmd)[0]
		for _, n := range []int{0, 1, len(data)} {
			cmd := exec.Command(bin, "-dc")
			cmd.Stdin = bytes.NewReader(compressed(t, c.kind, data[:n]))
			out, err := cmd.Output()
			if err != nil || !bytes.Equal(out, data[:n]) {
				t.Errorf("%s -dc of %d bytes: %v, %d bytes back", c.cmd, n, err, len(out))
			}
		}
	}
}

// failingWriter fails once it has taken n bytes.
type failingWriter struct{ n int }

var errFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		k := f.n
		f.n = 0
		return k, errFull
	}
	f.n -= len(p)
	return len(p), nil
}

// TestWriteError: the output's error comes back from Write or Close, and
// stays.
func TestWriteError(t *testing.T) {
	data := sample()
	for _, kind := range []Kind{Gzip, Zstd} {
		for _, room := range []int{0, 5, 200000} {
			w, _ := NewPool(2).NewWriter(&failingWriter{room}, kind)
			_, werr := w.Write(data)
			cerr := w.Close()
			if !errors.Is(werr, errFull) && !errors.Is(cerr, errFull) {
				t.Errorf("%s, room for %d bytes: Write %v, Close %v", kind, room, werr, cerr)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("%s: Write after a failed Close succeeded", kind)
			}
		}
		w, _ := NewWriter(io.Discard, kind)
		w.Close()
		if _, err := w.Write([]byte("x")); err == nil {
			t.Errorf("%s: Write after Close succeeded", kind)
		}
	}
}

// TestBuffersReused: a writer's memory does not grow with its input: the
// block buffers are reused, not allocated per block.
func TestBuffersReused(t *testing.T) {
	data := sample()
	for _, kind := range []Kind{Gzip, Zstd} {
		alloc := func(copies int) uint64 {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			w, _ := NewPool(2).NewWriter(io.Discard, kind)
			for range copies {
				w.Write(data)
			}
			w.Close()
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		small, big := alloc(1), alloc(4)
		if big > small+4<<20 {
			t.Errorf("%s: %d MiB allocated for %d MiB in, %d MiB for %d MiB", kind, small>>20, len(data)>>20, big>>20, 4*len(data)>>20)
		}
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"none": None, "": None, "gzip": Gzip, "zstd": Zstd} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"bzip2", "GZIP", "xz"} {
		if _, err := ParseKind(bad); err == nil {
			t.Errorf("ParseKind(%q) accepted", bad)
		}
	}
}

func TestCorruptInput(t *testing.T) {
	for _, kind := range []Kind{Gzip, Zstd} {
		c := compressed(t, kind, sample())
		c = c[:len(c)/2]
		r, _, err := NewReader(bytes.NewReader(c))
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil {
			t.Errorf("%s: a truncated stream read without error", kind)
		}
	}
	// Short input is plain, not an error.
	r, kind, err := NewReader(bytes.NewReader([]byte{0x1f}))
	if err != nil || kind != None {
		t.Fatalf("one byte: %v %s", err, kind)
	}
	if b, _ := io.ReadAll(r); !bytes.Equal(b, []byte{0x1f}) {
		t.Errorf("one byte read back as % x", b)
	}
}
