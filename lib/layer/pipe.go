package layer

import (
	"hash"
	"io"
	"sync"
	"sync/atomic"
)

// Chunks of the layer stream handed from the first stage to the others.
const (
	chunkSize = 1 << 20
	chunks    = 4
)

// pipe splits writing a layer over goroutines: the caller's formats
// headers and reads files into fixed chunks, one more hashes each full
// chunk and another writes it out, so on two cores hashing, writing and
// reading the next files overlap. File contents are read straight into
// the chunk (see space), so each byte is copied once in user space. At
// most chunks*chunkSize bytes are in flight.
type pipe struct {
	cur     *chunk // the chunk being filled
	stages  []chan *chunk
	free    chan *chunk
	wg      sync.WaitGroup
	err     atomic.Pointer[error] // the writing stage's error
	closed  bool
	nstages int32
}

type chunk struct {
	b    []byte
	left atomic.Int32 // stages still to see it
}

// chunkPool keeps chunks between layers: a process writing many layers
// (assemble-image --nixpkgs-conf writes each store layer twice) reuses
// them instead of leaving megabytes of garbage per layer, which would
// grow the heap to twice what is live before each collection.
var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, 0, chunkSize)} }}

func newPipe(out io.Writer, h hash.Hash) *pipe {
	p := &pipe{free: make(chan *chunk, chunks)}
	for range chunks {
		p.free <- chunkPool.Get().(*chunk)
	}
	p.cur = <-p.free
	p.start(func(b []byte) {
		if p.err.Load() == nil {
			if _, err := out.Write(b); err != nil {
				p.err.Store(&err)
			}
		}
	})
	if h != nil {
		p.start(func(b []byte) { h.Write(b) })
	}
	return p
}

// start runs one stage: do on every chunk, in order. After a write error
// the stages keep taking chunks, so the first stage never blocks.
func (p *pipe) start(do func([]byte)) {
	c := make(chan *chunk, chunks)
	p.stages = append(p.stages, c)
	p.nstages++
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for ch := range c {
			do(ch.b)
			if ch.left.Add(-1) == 0 {
				ch.b = ch.b[:0]
				p.free <- ch
			}
		}
	}()
}

// failed returns the writing stage's error, if any yet.
func (p *pipe) failed() error {
	if e := p.err.Load(); e != nil {
		return *e
	}
	return nil
}

// send hands the current chunk to the stages.
func (p *pipe) send() {
	p.cur.left.Store(p.nstages)
	for _, s := range p.stages {
		s <- p.cur
	}
	p.cur = nil
}

// flush hands the current chunk over and takes a free one.
func (p *pipe) flush() error {
	if len(p.cur.b) > 0 {
		p.send()
		p.cur = <-p.free
	}
	return p.failed()
}

// drain hands the current chunk over and waits until the stages have
// handled every chunk: all bytes so far are written, and the destination
// may be written to directly.
func (p *pipe) drain() error {
	if len(p.cur.b) > 0 {
		p.send()
		p.cur = <-p.free
	}
	var held [chunks - 1]*chunk
	for i := range held {
		held[i] = <-p.free
	}
	for _, c := range held {
		p.free <- c
	}
	return p.failed()
}

// space returns the unused end of the current chunk (never empty), for a
// read straight into it; Write then takes the bytes read without copying.
func (p *pipe) space() ([]byte, error) {
	b := p.cur.b
	if len(b) == cap(b) {
		if err := p.flush(); err != nil {
			return nil, err
		}
		b = p.cur.b
	}
	return b[len(b):cap(b)], nil
}

// Write appends b to the stream. When b is the start of the slice space
// returned (the bytes were read into place), it only takes them in.
func (p *pipe) Write(b []byte) (int, error) {
	n := len(b)
	c := p.cur.b
	if n > 0 && len(c) < cap(c) && n <= cap(c)-len(c) && &b[0] == &c[:len(c)+1][len(c)] {
		p.cur.b = c[:len(c)+n]
		b = nil
	}
	for len(b) > 0 {
		c := p.cur.b
		k := copy(c[len(c):cap(c)], b)
		p.cur.b = c[:len(c)+k]
		b = b[k:]
		if len(p.cur.b) == cap(p.cur.b) {
			if err := p.flush(); err != nil {
				return 0, err
			}
		}
	}
	if len(p.cur.b) == cap(p.cur.b) {
		if err := p.flush(); err != nil {
			return 0, err
		}
	}
	return n, p.failed()
}

// close hands over what is left, waits for the stages and returns the
// writing stage's error. It is safe to call more than once.
func (p *pipe) close() error {
	if p.closed {
		return p.failed()
	}
	p.closed = true
	if len(p.cur.b) > 0 {
		p.send()
	}
	for _, s := range p.stages {
		close(s)
	}
	p.wg.Wait()
	if p.cur != nil {
		p.free <- p.cur
		p.cur = nil
	}
	for range chunks {
		c := <-p.free
		c.b = c.b[:0]
		chunkPool.Put(c)
	}
	return p.failed()
}

// stream is where the layer's bytes go: the pipe to a destination, or,
// when there is none (the layer is only measured), straight into the
// hash.
type stream interface {
	io.Writer
	space() ([]byte, error)
	drain() error
	close() error
}

// hashOnly is the stream of a layer that is only measured: every byte is
// hashed on the caller's goroutine, no copy handed to others, and a large
// file is hashed as it is read.
type hashOnly struct {
	h     hash.Hash
	c     *chunk
	start int // of the bytes of c not yet hashed
}

func newHashOnly(h hash.Hash) *hashOnly {
	return &hashOnly{h: h, c: chunkPool.Get().(*chunk)}
}

func (s *hashOnly) Write(b []byte) (int, error) {
	c := s.c.b
	if len(b) > 0 && len(c) < cap(c) && &b[0] == &c[:len(c)+1][len(c)] {
		s.c.b = c[:len(c)+len(b)] // read into place by space
	}
	s.h.Write(b)
	if len(s.c.b) == cap(s.c.b) {
		s.c.b = s.c.b[:0]
	}
	return len(b), nil
}

func (s *hashOnly) space() ([]byte, error) {
	b := s.c.b
	return b[len(b):cap(b)], nil
}

func (s *hashOnly) drain() error { return nil }

func (s *hashOnly) close() error {
	if s.c != nil {
		s.c.b = s.c.b[:0]
		chunkPool.Put(s.c)
		s.c = nil
	}
	return nil
}
