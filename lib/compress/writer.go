package compress

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// The writers cut their input into blocks of a fixed size and compress
// each on its own, several at once, writing the results in order. What a
// block compresses to depends only on its bytes (and, for gzip, the end
// of the block before it), never on which goroutine or encoder runs it or
// when, so the output is the same whatever GOMAXPROCS or the Pool.
//
// gzip: pgzip's framing, byte for byte (blocks of GzipBlockSize, deflate
// level 6, each block primed with the last 16 KiB of the previous one and
// ended by a sync flush, the last one by a final block; header without a
// name or a time; the CRC-32 and size of the whole input at the end).
//
// zstd: each block of ZstdBlockSize is an independent zstd frame (with
// its size and checksum); concatenated frames are one valid zstd stream,
// which zstd -d, Go's decoders, containerd and docker read. The level is
// klauspost/compress's SpeedDefault, documented as roughly zstd level 3,
// the zstd CLI's default.
const (
	// GzipBlockSize is the block size of gzip output.
	GzipBlockSize = 1 << 20
	// ZstdBlockSize is the size of the input of each zstd frame. Frames
	// share no history, so bigger blocks compress better and faster (each
	// starts cold) but hold more memory (about three blocks per
	// compression at once). On a 5.7 GB tar of /usr, 1 MiB frames come
	// to 35.5% of the input, 2 MiB ones to 35.0% with 4% less CPU, 4 MiB
	// to 34.5% with 11% less, zstd -3 to 33.9%; 1 MiB keeps two streams
	// at once under 25 MiB, 2 MiB needs 35 MiB.
	ZstdBlockSize = 1 << 20

	// maxInFlight bounds the blocks of one writer compressing or waiting
	// to be written, so a writer's memory does not grow with the Pool:
	// one stream compresses on at most 2 cores, several share the Pool.
	// (One more, so that a core freed by a block finishing before an
	// older one finds a block waiting, measured no faster.)
	maxInFlight = 2

	gzipLevel = 6
	gzipTail  = 16 << 10 // pgzip's dictionary: the end of the block before
)

// A Pool bounds how many blocks the writers made from it compress at
// once, across all of them: writers that run at the same time (layers
// compressed side by side) share its cores instead of each taking all.
// It changes only speed and memory, never the bytes written. Memory: a
// writer holds the block it fills and at most 2 blocks in flight (input
// and output: up to 2 MiB each), and each compression at once an encoder
// (zstd: a copy of its block and 1.6 MiB of tables; gzip: about 1 MiB).
// Measured peak RSS of a program compressing a tar to /dev/null: one
// zstd stream 17 MiB, two at once 23 MiB with a Pool of 2 and 32 MiB
// with 4; gzip 11, 17 and 19 MiB. A Pool is safe for concurrent use.
type Pool struct {
	sem chan struct{}

	mu   sync.Mutex
	idle []*coder // encoders free for the next block
}

// NewPool returns a Pool compressing at most n blocks at once (at least 1).
func NewPool(n int) *Pool {
	return &Pool{sem: make(chan struct{}, max(n, 1))}
}

// defaultPool is the Pool of NewWriter, shared by the writers of the
// process: as many blocks at once as cores, at most 4.
var defaultPool = NewPool(min(runtime.GOMAXPROCS(0), 4))

// Size is the number of blocks p compresses at once.
func (p *Pool) Size() int { return cap(p.sem) }

// coder holds one compression's encoders, created on first use and kept
// for the next block.
type coder struct {
	zstd  *zstd.Encoder
	flate *flate.Writer
}

func (p *Pool) get() *coder {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		return c
	}
	return &coder{}
}

func (p *Pool) put(c *coder) {
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// NewWriter is the package's NewWriter with p bounding the compression.
func (p *Pool) NewWriter(w io.Writer, kind Kind) (io.WriteCloser, error) {
	switch kind {
	case None, "":
		return nopWriteCloser{w}, nil
	case Gzip:
		return p.newBlockWriter(w, kind, GzipBlockSize), nil
	case Zstd:
		return p.newBlockWriter(w, kind, ZstdBlockSize), nil
	}
	return nil, errUnknown(kind)
}

func (p *Pool) newBlockWriter(w io.Writer, kind Kind, size int) *blockWriter {
	// Buffers at most: the block being filled, and the input and output
	// of each block in flight.
	return &blockWriter{pool: p, w: w, kind: kind, size: size, spare: make(chan []byte, 1+2*p.inFlight())}
}

// inFlight is how many blocks a writer sends before it waits for the
// oldest and writes it: the Pool's size, at most maxInFlight.
func (p *Pool) inFlight() int { return min(p.Size(), maxInFlight) }

// A block is one piece of the input on its way to the output.
type block struct {
	in   []byte
	dict []byte // gzip: the end of the block before
	last bool   // gzip: ends the deflate stream
	out  []byte
	err  error
	done chan struct{}
}

type blockWriter struct {
	pool *Pool
	w    io.Writer
	kind Kind
	size int

	cur    []byte      // the block being filled
	tail   []byte      // gzip: the end of the last block sent
	queue  []*block    // sent, not yet written, in order
	spare  chan []byte // block buffers to reuse
	tails  [][]byte    // gzip: tail buffers to reuse
	crc    uint32      // gzip
	n      int64       // bytes in
	header bool        // gzip header written
	err    error       // sticky
	closed bool
}

var errClosed = errors.New("compress: write after close")

func (z *blockWriter) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errClosed
	}
	n := 0
	for len(p) > 0 {
		if z.cur == nil {
			z.cur = z.buffer()
		}
		k := copy(z.cur[len(z.cur):z.size], p)
		if z.kind == Gzip {
			z.crc = crc32.Update(z.crc, crc32.IEEETable, p[:k])
		}
		z.cur = z.cur[:len(z.cur)+k]
		p, n, z.n = p[k:], n+k, z.n+int64(k)
		if len(z.cur) == z.size {
			if err := z.send(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// send hands the block being filled to the pool. Past inFlight blocks in
// flight it first waits for the oldest and writes it.
func (z *blockWriter) send(last bool) error {
	b := &block{in: z.cur, last: last, done: make(chan struct{})}
	z.cur = nil
	if z.kind == Gzip {
		b.dict = z.tail
		z.tail = nil
		if len(b.in) > gzipTail {
			var t []byte
			if n := len(z.tails); n > 0 {
				t, z.tails = z.tails[n-1], z.tails[:n-1]
			}
			z.tail = append(t, b.in[len(b.in)-gzipTail:]...)
		}
	}
	for len(z.queue) >= z.pool.inFlight() {
		if err := z.writeOldest(); err != nil {
			z.recycle(b)
			return err
		}
	}
	z.queue = append(z.queue, b)
	go z.compress(b)
	// Write what is done already, so the output flows.
	for len(z.queue) > 0 && isDone(z.queue[0]) {
		if err := z.writeOldest(); err != nil {
			return err
		}
	}
	return nil
}

func isDone(b *block) bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// compress compresses b when the pool lets it, and gives its input
// buffer back at once.
func (z *blockWriter) compress(b *block) {
	p := z.pool
	p.sem <- struct{}{}
	b.out = z.buffer()
	c := p.get()
	switch z.kind {
	case Gzip:
		b.out, b.err = c.gzipBlock(b)
	case Zstd:
		b.out, b.err = c.zstdBlock(b)
	}
	p.put(c)
	<-p.sem
	z.reuse(b.in)
	b.in = nil
	close(b.done)
}

func (c *coder) zstdBlock(b *block) ([]byte, error) {
	if c.zstd == nil {
		e, err := zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedDefault),
			zstd.WithEncoderConcurrency(1),
			zstd.WithWindowSize(ZstdBlockSize),
			zstd.WithEncoderCRC(true),
			zstd.WithZeroFrames(true))
		if err != nil {
			return nil, err
		}
		c.zstd = e
	}
	return c.zstd.EncodeAll(b.in, b.out[:0]), nil
}

// gzipBlock compresses as pgzip does: primed with the previous block's
// end, sync-flushed, and closed if it is the last.
func (c *coder) gzipBlock(b *block) ([]byte, error) {
	out := bytes.NewBuffer(b.out[:0])
	if c.flate == nil {
		f, err := flate.NewWriterDict(out, gzipLevel, b.dict)
		if err != nil {
			return nil, err
		}
		c.flate = f
	} else {
		c.flate.ResetDict(out, b.dict)
	}
	if _, err := c.flate.Write(b.in); err != nil {
		return nil, err
	}
	if err := c.flate.Flush(); err != nil {
		return nil, err
	}
	if b.last {
		if err := c.flate.Close(); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// writeOldest waits for the oldest block in flight and writes it.
func (z *blockWriter) writeOldest() error {
	b := z.queue[0]
	<-b.done
	z.queue[0] = nil
	z.queue = z.queue[1:]
	defer z.recycle(b)
	if z.err != nil {
		return z.err
	}
	if b.err != nil {
		z.err = b.err
		return z.err
	}
	if z.kind == Gzip && !z.header {
		// No name, no time, no extra; level 6 (XFL 0); OS unknown,
		// as pgzip writes it.
		if _, z.err = z.w.Write([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}); z.err != nil {
			return z.err
		}
		z.header = true
	}
	_, z.err = z.w.Write(b.out)
	return z.err
}

func (z *blockWriter) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	if z.err == nil && (z.kind == Gzip || len(z.cur) > 0 || z.n == 0) {
		if z.cur == nil {
			z.cur = z.buffer()
		}
		z.send(true) // an error stays in z.err
	}
	for len(z.queue) > 0 {
		z.writeOldest()
	}
	if z.err == nil && z.kind == Gzip {
		t := binary.LittleEndian.AppendUint32(nil, z.crc)
		t = binary.LittleEndian.AppendUint32(t, uint32(z.n))
		_, z.err = z.w.Write(t)
	}
	z.spare, z.tails, z.tail, z.cur = nil, nil, nil, nil
	return z.err
}

// buffer returns an empty buffer for a block's input or output, reusing
// one if it can. All have the same capacity: a block and the worst its
// compression can grow it to (stored deflate blocks, raw zstd blocks).
func (z *blockWriter) buffer() []byte {
	select {
	case b := <-z.spare:
		return b
	default:
		return make([]byte, 0, z.bufSize())
	}
}

func (z *blockWriter) bufSize() int { return z.size + z.size>>4 + 64 }

// reuse keeps buf for a next block, if it is one of buffer's.
func (z *blockWriter) reuse(buf []byte) {
	if cap(buf) != z.bufSize() {
		return
	}
	select {
	case z.spare <- buf[:0]:
	default:
	}
}

func (z *blockWriter) recycle(b *block) {
	z.reuse(b.in)
	z.reuse(b.out)
	if cap(b.dict) > 0 {
		z.tails = append(z.tails, b.dict[:0])
	}
}
