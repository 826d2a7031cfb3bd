// Package zerocopy lets a stream carry a file's bytes without copying
// them through the process: a writer that can take them straight from
// the kernel (sendfile(2)) says so by being a Sender, and every writer
// between a producer and the output file passes the request on. A stream
// that carries store files unchanged (a layer written again from the
// store, whose digest is known) then costs the kernel's copy only.
package zerocopy

import (
	"bufio"
	"errors"
	"io"
	"os"
	"syscall"
)

// ErrUnsupported says a Sender cannot take the bytes after all (what is
// beneath it cannot); no byte has been taken, and the caller copies them.
var ErrUnsupported = errors.New("zerocopy: not supported here")

// Sender is a writer that can take the next n bytes of f (from its
// current offset) as if they were written to it.
type Sender interface {
	io.Writer
	SendFile(f *os.File, n int64) (int64, error)
}

// Send writes the next n bytes of f to w: straight from the kernel when
// w (and all beneath it) can, else by reading them. A file that ends
// before n bytes is an io.ErrUnexpectedEOF.
func Send(w io.Writer, f *os.File, n int64) (int64, error) {
	var m int64
	err := ErrUnsupported
	switch d := w.(type) {
	case Sender:
		m, err = d.SendFile(f, n)
	case *os.File:
		m, err = ToFile(d, f, n)
	}
	if !errors.Is(err, ErrUnsupported) {
		return m, err
	}
	m, err = io.CopyBuffer(w, io.LimitReader(f, n), make([]byte, 256<<10))
	if err == nil && m < n {
		err = io.ErrUnexpectedEOF
	}
	return m, err
}

// ToFile sends the next n bytes of src to the file dst with sendfile(2),
// from src's current offset, which it advances. It returns ErrUnsupported
// when the kernel refuses the pair before a byte is sent.
func ToFile(dst, src *os.File, n int64) (int64, error) {
	dc, err := dst.SyscallConn()
	if err != nil {
		return 0, ErrUnsupported
	}
	sc, err := src.SyscallConn()
	if err != nil {
		return 0, ErrUnsupported
	}
	var sent int64
	var serr error
	rerr := sc.Read(func(sfd uintptr) bool {
		werr := dc.Write(func(dfd uintptr) bool {
			for sent < n {
				chunk := min(n-sent, 1<<30)
				m, err := syscall.Sendfile(int(dfd), int(sfd), nil, int(chunk))
				if m > 0 {
					sent += int64(m)
				}
				switch {
				case err == syscall.EINTR:
					continue
				case err == syscall.EAGAIN:
					return false // wait until the destination is writable
				case (err == syscall.EINVAL || err == syscall.ENOSYS) && sent == 0:
					serr = ErrUnsupported
					return true
				case err != nil:
					serr = err
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF // the file is shorter
					return true
				}
			}
			return true
		})
		if werr != nil && serr == nil {
			serr = werr
		}
		return true
	})
	if rerr != nil && serr == nil {
		serr = rerr
	}
	return sent, serr
}

// Buffered is a buffered writer that is a Sender: it flushes, then
// passes the request on to the writer beneath it.
type Buffered struct {
	*bufio.Writer
	w io.Writer
}

// NewBuffered returns a Buffered writer of size bytes over w.
func NewBuffered(w io.Writer, size int) *Buffered {
	return &Buffered{Writer: bufio.NewWriterSize(w, size), w: w}
}

// SendFile flushes what is buffered and sends the file's bytes to the
// writer beneath.
func (b *Buffered) SendFile(f *os.File, n int64) (int64, error) {
	s, ok := b.w.(Sender)
	if !ok {
		return 0, ErrUnsupported
	}
	if err := b.Flush(); err != nil {
		return 0, err
	}
	return s.SendFile(f, n)
}
