// Package pytar writes tar archives byte for byte the way CPython's tarfile
// module writes them in its default PAX format (Python 3.8 and later), which
// is the format of the layers and image archives nixpkgs'
// stream_layered_image.py produces.
//
// The rules it reproduces:
//   - ustar headers with magic "ustar\x0000"; numeric fields are zero-padded
//     octal ending in NUL; the checksum is six octal digits, NUL, space; the
//     prefix field is never used; devmajor and devminor are NUL-filled except
//     for character and block devices.
//   - a name or link target longer than 100 bytes, a user or group name
//     longer than 32, or any of them not pure ASCII, goes into a PAX extended
//     header ("x" entry named "././@PaxHeader") written just before; so does
//     a uid, gid, size or mtime that does not fit its field (the field then
//     holds 0). The ustar field keeps the value with every non-ASCII
//     character replaced by "?", cut to the field's width.
//   - a PAX value that is not valid UTF-8 makes the whole extended header
//     binary: it starts with the record "hdrcharset=BINARY".
//   - directory names end in "/"; entry data is padded to 512 bytes; the
//     archive ends with two zero blocks and is padded to a multiple of
//     10240 bytes.
//
// Names are Go strings holding the file system's bytes; where Python would
// see a character, this package decodes UTF-8 and counts each byte of an
// invalid sequence as one character, as Python's surrogateescape does.
package pytar

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/go-dockertools/dockertools/lib/zerocopy"
)

const (
	// BlockSize is the size of a tar block.
	BlockSize = 512
	// RecordSize is the size archives are padded to (tarfile's RECORDSIZE).
	RecordSize = 20 * BlockSize
)

// Type flags used by the toolkit.
const (
	TypeReg     byte = '0'
	TypeLink    byte = '1'
	TypeSymlink byte = '2'
	TypeChar    byte = '3'
	TypeBlock   byte = '4'
	TypeDir     byte = '5'
	TypeFifo    byte = '6'
	TypeXHeader byte = 'x'
)

// Record is one PAX extended header record.
type Record struct {
	Key, Value string
}

// Header describes one archive member, with the values tarfile's TarInfo
// would hold.
type Header struct {
	Name               string
	Mode               int64 // only the permission bits (07777) are written
	Uid, Gid           int64
	Size               int64
	Mtime              int64 // seconds since the epoch
	Typeflag           byte
	Linkname           string
	Uname, Gname       string
	Devmajor, Devminor int64
	// PAX holds records the member already carries (read from another
	// archive, say), in order. They are written first and take priority:
	// a field whose record is present is not given a second one.
	PAX []Record
}

// Encode appends the member's header blocks (a PAX extended header if
// needed, then the ustar header) to dst.
func (h *Header) Encode(dst []byte) ([]byte, error) {
	name := h.Name
	if h.Typeflag == TypeDir && (len(name) == 0 || name[len(name)-1] != '/') {
		name += "/"
	}
	pax := append([]Record(nil), h.PAX...)
	has := func(key string) bool {
		for _, r := range pax {
			if r.Key == key {
				return true
			}
		}
		return false
	}
	for _, f := range []struct {
		key, value string
		width      int
	}{
		{"path", name, 100},
		{"linkpath", h.Linkname, 100},
		{"uname", h.Uname, 32},
		{"gname", h.Gname, 32},
	} {
		if has(f.key) {
			continue
		}
		if !isASCII(f.value) || len(f.value) > f.width {
			pax = append(pax, Record{f.key, f.value})
		}
	}
	nums := []struct {
		key    string
		value  int64
		digits int
	}{
		{"uid", h.Uid, 8},
		{"gid", h.Gid, 8},
		{"size", h.Size, 12},
		{"mtime", h.Mtime, 12},
	}
	var field [4]int64
	for i, f := range nums {
		field[i] = f.value
		if !fitsOctal(f.value, f.digits) {
			field[i] = 0
			if !has(f.key) {
				pax = append(pax, Record{f.key, strconv.FormatInt(f.value, 10)})
			}
		}
	}
	if len(pax) > 0 {
		var err error
		if dst, err = appendPAX(dst, pax); err != nil {
			return dst, err
		}
	}
	u := ustar{
		name: name, mode: h.Mode & 0o7777,
		uid: field[0], gid: field[1], size: field[2], mtime: field[3],
		typeflag: h.Typeflag, linkname: h.Linkname,
		uname: h.Uname, gname: h.Gname,
		devmajor: h.Devmajor, devminor: h.Devminor,
	}
	return u.appendTo(dst)
}

// appendPAX appends an "x" member holding the records.
func appendPAX(dst []byte, recs []Record) ([]byte, error) {
	binary := false
	for _, r := range recs {
		if !utf8.ValidString(r.Value) {
			binary = true
			break
		}
	}
	var body []byte
	if binary {
		body = append(body, "21 hdrcharset=BINARY\n"...)
	}
	for _, r := range recs {
		body = appendRecord(body, r.Key, r.Value)
	}
	u := ustar{name: "././@PaxHeader", typeflag: TypeXHeader, size: int64(len(body))}
	dst, err := u.appendTo(dst)
	if err != nil {
		return dst, err
	}
	dst = append(dst, body...)
	return appendPadding(dst, int64(len(body))), nil
}

// appendRecord appends "LEN KEY=VALUE\n", LEN counting itself.
func appendRecord(dst []byte, key, value string) []byte {
	l := len(key) + len(value) + 3
	p := 0
	for {
		n := l + len(strconv.Itoa(p))
		if n == p {
			break
		}
		p = n
	}
	dst = strconv.AppendInt(dst, int64(p), 10)
	dst = append(dst, ' ')
	dst = append(dst, key...)
	dst = append(dst, '=')
	dst = append(dst, value...)
	return append(dst, '\n')
}

func appendPadding(dst []byte, n int64) []byte {
	if r := n % BlockSize; r != 0 {
		dst = append(dst, make([]byte, BlockSize-r)...)
	}
	return dst
}

// ustar holds the values of one ustar header block.
type ustar struct {
	name                   string
	mode, uid, gid         int64
	size, mtime            int64
	typeflag               byte
	linkname, uname, gname string
	devmajor, devminor     int64
}

func (u *ustar) appendTo(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, make([]byte, BlockSize)...)
	b := dst[start:]
	putString(b[0:100], u.name)
	putOctal(b[100:108], u.mode)
	putOctal(b[108:116], u.uid)
	putOctal(b[116:124], u.gid)
	putOctal(b[124:136], u.size)
	putOctal(b[136:148], u.mtime)
	copy(b[148:156], "        ")
	b[156] = u.typeflag
	putString(b[157:257], u.linkname)
	copy(b[257:265], "ustar\x0000")
	putString(b[265:297], u.uname)
	putString(b[297:329], u.gname)
	if u.typeflag == TypeChar || u.typeflag == TypeBlock {
		if !fitsOctal(u.devmajor, 8) || !fitsOctal(u.devminor, 8) {
			return dst[:start], fmt.Errorf("%s: device number %d,%d does not fit a tar header", u.name, u.devmajor, u.devminor)
		}
		putOctal(b[329:337], u.devmajor)
		putOctal(b[337:345], u.devminor)
	}
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	// Six octal digits, NUL; the eighth byte keeps its space.
	copy(b[148:155], fmt.Sprintf("%06o\x00", sum))
	return dst, nil
}

// fitsOctal reports whether v fits a field of the given width as octal
// digits followed by a NUL.
func fitsOctal(v int64, width int) bool {
	return v >= 0 && v < int64(1)<<(3*(width-1))
}

// putOctal writes v as width-1 zero-padded octal digits and a NUL.
func putOctal(b []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	pad := len(b) - 1 - len(s)
	for i := 0; i < pad; i++ {
		b[i] = '0'
	}
	copy(b[pad:], s)
	b[len(b)-1] = 0
}

// putString writes s as Python's s.encode("ascii", "replace") would, cut to
// the field, NUL-padded (the field is zeroed already).
func putString(b []byte, s string) {
	j := 0
	for i := 0; i < len(s) && j < len(b); {
		c := s[i]
		if c < utf8.RuneSelf {
			b[j] = c
			i++
		} else {
			_, size := utf8.DecodeRuneInString(s[i:])
			b[j] = '?'
			i += size // an invalid byte decodes with size 1: one "?" each
		}
		j++
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// ErrWriteTooLong is returned when more data is written than the header
// announced.
var ErrWriteTooLong = errors.New("write too long")

// Writer writes a tar stream. Errors are sticky: after one, every call
// returns it.
type Writer struct {
	w         io.Writer
	offset    int64 // bytes written to w
	remaining int64 // data bytes the current member still expects
	pad       int64 // padding owed after the current member's data
	name      string
	buf       []byte
	err       error
	closed    bool
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Offset is the number of bytes written so far.
func (tw *Writer) Offset() int64 { return tw.offset }

func (tw *Writer) write(p []byte) error {
	if tw.err != nil {
		return tw.err
	}
	n, err := tw.w.Write(p)
	tw.offset += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	tw.err = err
	return err
}

// finishMember checks the previous member got all its data and pads it.
func (tw *Writer) finishMember() error {
	if tw.err != nil {
		return tw.err
	}
	if tw.remaining > 0 {
		tw.err = fmt.Errorf("%s: %d bytes of data missing", tw.name, tw.remaining)
		return tw.err
	}
	if tw.pad > 0 {
		var zero [BlockSize]byte
		err := tw.write(zero[:tw.pad])
		tw.pad = 0
		return err
	}
	return nil
}

// WriteHeader starts a member; its data (Size bytes for regular files)
// follows through Write.
func (tw *Writer) WriteHeader(h *Header) error {
	if err := tw.finishMember(); err != nil {
		return err
	}
	if tw.closed {
		return errors.New("write after close")
	}
	b, err := h.Encode(tw.buf[:0])
	tw.buf = b
	if err != nil {
		tw.err = err
		return err
	}
	if err := tw.write(b); err != nil {
		return err
	}
	tw.name = h.Name
	tw.remaining = 0
	if h.Typeflag == TypeReg || h.Typeflag == 0 {
		tw.remaining = h.Size
	}
	tw.pad = (BlockSize - tw.remaining%BlockSize) % BlockSize
	return nil
}

// Write writes data of the current member.
func (tw *Writer) Write(p []byte) (int, error) {
	if tw.err != nil {
		return 0, tw.err
	}
	if int64(len(p)) > tw.remaining {
		tw.err = fmt.Errorf("%s: %w", tw.name, ErrWriteTooLong)
		return 0, tw.err
	}
	if err := tw.write(p); err != nil {
		return 0, err
	}
	tw.remaining -= int64(len(p))
	return len(p), nil
}

// SendFile writes the next n bytes of f as data of the current member,
// straight from the kernel when the writer beneath can take them so
// (zerocopy.Sender).
func (tw *Writer) SendFile(f *os.File, n int64) (int64, error) {
	if tw.err != nil {
		return 0, tw.err
	}
	if n > tw.remaining {
		tw.err = fmt.Errorf("%s: %w", tw.name, ErrWriteTooLong)
		return 0, tw.err
	}
	m, err := zerocopy.Send(tw.w, f, n)
	tw.offset += m
	tw.remaining -= m
	if err != nil {
		tw.err = err
	}
	return m, err
}

// Account counts n bytes of the current member's data that were written
// to the writer beneath without going through this one (a file sent to
// it directly).
func (tw *Writer) Account(n int64) error {
	if tw.err != nil {
		return tw.err
	}
	if n > tw.remaining {
		tw.err = fmt.Errorf("%s: %w", tw.name, ErrWriteTooLong)
		return tw.err
	}
	tw.offset += n
	tw.remaining -= n
	return nil
}

// Close ends the archive: two zero blocks, then zeros up to a multiple of
// RecordSize. It does not close the underlying writer.
func (tw *Writer) Close() error {
	if tw.closed {
		return tw.err
	}
	if err := tw.finishMember(); err != nil {
		return err
	}
	tw.closed = true
	end := tw.offset + 2*BlockSize
	if r := end % RecordSize; r != 0 {
		end += RecordSize - r
	}
	return tw.write(make([]byte, end-tw.offset))
}
