// Package layer owns the layer tar of a list of store paths, or of a plain
// directory taken as the image root: which entries it holds, in which
// order, with which normalised metadata, and the digests computed while it
// is written. A store layer is byte-identical to the one nixpkgs'
// stream_layered_image.py writes for the same paths and options:
//
//   - the store directory's ancestors and the store directory come first
//     ("/nix/", "/nix/store/"), directories of mode 0755;
//   - then each store path in the order given: the path and everything
//     below it, sorted by path components the way Python sorts pathlib
//     paths (code points, with undecodable bytes as surrogate escapes), not
//     descending into symlinked directories; a store path that is a symlink
//     or a file is that one entry;
//   - every entry gets the options' mtime, uid, gid, uname and gname and
//     the file's permission bits (unless permission rules, Options.Perms,
//     say otherwise for it); hard links are written as regular files
//     with their contents; symlink targets are kept verbatim;
//   - devices, fifos and sockets are refused.
//
// Nothing else of the source files reaches the output: not their owners,
// times, inode numbers or link counts, nor the umask or the locale. Each
// file is read once; its size is checked against what was announced, so a
// file changing while it is read is an error, never a short layer.
package layer

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/go-dockertools/dockertools/lib/image"
	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/tarsum"
	"github.com/go-dockertools/dockertools/lib/zerocopy"
	"github.com/opencontainers/go-digest"
)

// DefaultStoreDir is the Nix store directory.
const DefaultStoreDir = "/nix/store"

// Options are the normalisations applied to every entry and the digests to
// compute.
type Options struct {
	Mtime        int64 // seconds since the epoch
	Uid, Gid     int64
	Uname, Gname string
	// StoreDir is the store directory ("" means /nix/store).
	StoreDir string
	// Leading lists the directories written before the store paths. Nil
	// means StoreDir's ancestors and StoreDir itself.
	Leading []string
	// TarSum asks for Docker's TarSum v1 of the layer.
	TarSum bool
	// NoDiffID skips the sha256 of the layer (for callers that hash the
	// bytes themselves).
	NoDiffID bool
	// Perms set the mode and owner of the entries they match (checked by
	// CompilePerms or ReadPerms).
	Perms []Perm

	// fingerprint, when set, is fed what the layer's bytes are a
	// function of: every entry's header fields, and each file's identity
	// and times as they were when it was read (see MeasureStorePaths).
	fingerprint hash.Hash
	// zeroCopy sends large files' contents to the destination straight
	// from the kernel; needs NoDiffID and no TarSum.
	zeroCopy bool
}

// Defaults are nixpkgs' defaults: mtime 1 (1970-01-01T00:00:01Z), owner
// 0:0 named root:root, store /nix/store.
func Defaults() Options {
	return Options{Mtime: 1, Uname: "root", Gname: "root", StoreDir: DefaultStoreDir}
}

// Result is what writing a layer measured.
type Result struct {
	DiffID digest.Digest // sha256 of the tar; empty with NoDiffID
	Size   int64
	TarSum string // with Options.TarSum
}

func (o *Options) storeDir() string {
	if o.StoreDir == "" {
		return DefaultStoreDir
	}
	return filepath.Clean(o.StoreDir)
}

// leading returns the directories written first.
func (o *Options) leading() []string {
	if o.Leading != nil {
		return o.Leading
	}
	var dirs []string
	for d := o.storeDir(); d != "/" && d != "."; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// CheckStorePath returns the cleaned form of p if it names a store path
// itself: an absolute path directly inside storeDir, without "..".
func CheckStorePath(p, storeDir string) (string, error) {
	if storeDir == "" {
		storeDir = DefaultStoreDir
	}
	storeDir = filepath.Clean(storeDir)
	if p == "" {
		return "", errors.New("empty store path")
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("%s: not an absolute path", p)
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "", fmt.Errorf("%s: contains \"..\"", p)
		}
	}
	clean := filepath.Clean(p)
	if filepath.Dir(clean) != storeDir {
		if strings.HasPrefix(clean, storeDir+"/") {
			return "", fmt.Errorf("%s: not a store path itself but a path inside one (the store path is %s)", p, storeDir+"/"+strings.SplitN(strings.TrimPrefix(clean, storeDir+"/"), "/", 2)[0])
		}
		return "", fmt.Errorf("%s: not in the store directory %s", p, storeDir)
	}
	return clean, nil
}

// WriteStorePaths writes the layer of the given store paths to w.
func WriteStorePaths(w io.Writer, paths []string, o Options) (Result, error) {
	return Write(w, "", paths, o)
}

// WriteRoot writes the contents of dir as an image root: dir/etc/passwd
// becomes /etc/passwd. dir itself has no entry, so its own mode does not
// reach the image's "/".
func WriteRoot(w io.Writer, dir string, o Options) (Result, error) {
	return Write(w, dir, nil, o)
}

// Write writes one layer holding the contents of root (when not empty) as
// the image root, then the store directories and the store paths (when
// any): what nixpkgs' buildImage puts into its single layer.
func Write(w io.Writer, root string, paths []string, o Options) (Result, error) {
	for i := range o.Perms {
		if !o.Perms[i].compiled() {
			return Result{}, errPermsNotCompiled
		}
	}
	clean := make([]string, len(paths))
	for i, p := range paths {
		c, err := CheckStorePath(p, o.storeDir())
		if err != nil {
			return Result{}, err
		}
		clean[i] = c
	}
	if root != "" {
		fi, err := os.Stat(root)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", root, pathErr(err))
		}
		if !fi.IsDir() {
			return Result{}, fmt.Errorf("%s: not a directory", root)
		}
	}
	lw, err := newWriter(w, o)
	if err != nil {
		return Result{}, err
	}
	defer lw.stop()
	if root != "" {
		if err := lw.children(root, ""); err != nil {
			return Result{}, err
		}
	}
	if len(clean) > 0 || root == "" {
		for _, d := range o.leading() {
			if root != "" {
				// The root's own directory was written already: a layer
				// holds a path once (Docker refuses one that has it
				// twice).
				fi, err := os.Lstat(root + d)
				if err == nil && fi.IsDir() {
					continue
				}
				if err == nil {
					return Result{}, fmt.Errorf("%s: not a directory, and the store paths go below %s", root+d, d)
				}
			}
			if err := lw.dir(d, 0o755); err != nil {
				return Result{}, err
			}
		}
	}
	for _, p := range clean {
		if err := lw.tree(p, p); err != nil {
			return Result{}, err
		}
	}
	return lw.close()
}

// writer writes one layer.
type writer struct {
	o      Options
	p      stream
	tw     *pytar.Writer
	digest hash.Hash
	ts     *tarsum.Sum
	hdr    pytar.Header
	th     tar.Header
	// readMax caps each read of a file (0: no cap); tests set it to read
	// a file in several pieces.
	readMax int
	out     io.Writer // the destination, for files sent to it directly
	fp      [64]byte  // a fingerprint record being built
}

func newWriter(w io.Writer, o Options) (*writer, error) {
	lw := &writer{o: o}
	if !o.NoDiffID {
		lw.digest = sha256.New()
	}
	if o.TarSum {
		ts, err := tarsum.New(tarsum.Version1, "sha256")
		if err != nil {
			return nil, err
		}
		lw.ts = ts
	}
	lw.out = w
	if w == io.Discard && lw.digest != nil && lw.ts == nil {
		lw.p = newHashOnly(lw.digest) // measured only
	} else {
		lw.p = newPipe(w, lw.digest)
	}
	lw.tw = pytar.NewWriter(lw.p)
	return lw, nil
}

// stop ends the second stage after a failure; after close it does nothing.
func (lw *writer) stop() { lw.p.close() }

func (lw *writer) close() (Result, error) {
	if err := lw.tw.Close(); err != nil {
		lw.p.close()
		return Result{}, writeErr(err)
	}
	if err := lw.p.close(); err != nil {
		return Result{}, writeErr(err)
	}
	r := Result{Size: lw.tw.Offset()}
	if lw.digest != nil {
		r.DiffID = digest.NewDigest(digest.SHA256, lw.digest)
	}
	if lw.ts != nil {
		r.TarSum = lw.ts.Sum(nil)
	}
	return r, nil
}

// header writes one entry's header with the normalised metadata.
func (lw *writer) header(name string, typ byte, mode, size int64, link string) error {
	lw.hdr = pytar.Header{
		Name: name, Mode: mode & 0o7777, Size: size, Typeflag: typ, Linkname: link,
		Uid: lw.o.Uid, Gid: lw.o.Gid, Uname: lw.o.Uname, Gname: lw.o.Gname,
		Mtime: lw.o.Mtime,
	}
	if typ == pytar.TypeDir && !strings.HasSuffix(name, "/") {
		lw.hdr.Name += "/"
	}
	if len(lw.o.Perms) > 0 {
		h := &lw.hdr
		applyPerms(lw.o.Perms, h.Name, &h.Mode, &h.Uid, &h.Gid, &h.Uname, &h.Gname)
	}
	if f := lw.o.fingerprint; f != nil {
		io.WriteString(f, lw.hdr.Name)
		b := binary.LittleEndian.AppendUint64(lw.fp[:0], uint64(lw.hdr.Mode))
		b = binary.LittleEndian.AppendUint64(b, uint64(size))
		b = append(b, typ, 0)
		f.Write(b)
		io.WriteString(f, link)
		f.Write([]byte{0})
	}
	if err := lw.tw.WriteHeader(&lw.hdr); err != nil {
		return writeErr(err)
	}
	if lw.ts != nil {
		// What archive/tar reads back from these bytes: TarSum is defined
		// on the parsed header.
		lw.th = tar.Header{
			Name: lw.hdr.Name, Mode: lw.hdr.Mode, Uid: int(lw.hdr.Uid), Gid: int(lw.hdr.Gid),
			Size: size, Typeflag: typ, Linkname: link,
		}
		lw.ts.Add(&lw.th)
	}
	return nil
}

func (lw *writer) dir(name string, mode int64) error {
	return lw.header(name, pytar.TypeDir, mode, 0, "")
}

// tree writes the entry of the file at fsPath, named name in the layer,
// and, for a directory, everything below it.
func (lw *writer) tree(fsPath, name string) error {
	var st syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Lstat(fsPath, &st) }); err != nil {
		return fmt.Errorf("%s: %w", fsPath, err)
	}
	return lw.entry(&st, fsPath, name)
}

// entry writes the entry of the file at fsPath whose lstat is st.
func (lw *writer) entry(st *syscall.Stat_t, fsPath, name string) error {
	mode := int64(st.Mode & 0o7777)
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		if err := lw.header(name, pytar.TypeReg, mode, st.Size, ""); err != nil {
			return err
		}
		return lw.contents(fsPath, st)
	case syscall.S_IFDIR:
		if err := lw.dir(name, mode); err != nil {
			return err
		}
		return lw.children(fsPath, name)
	case syscall.S_IFLNK:
		target, err := os.Readlink(fsPath)
		if err != nil {
			return fmt.Errorf("%s: %w", fsPath, pathErr(err))
		}
		return lw.header(name, pytar.TypeSymlink, mode, 0, target)
	default:
		return fmt.Errorf("%s: is a %s; a layer can only hold files, directories and symlinks", fsPath, kind(st.Mode))
	}
}

// children writes the entries below the directory fsPath (named name).
func (lw *writer) children(fsPath, name string) error {
	names, err := lw.readDir(fsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, err)
	}
	sort.Slice(names, func(i, j int) bool { return PythonLess(names[i], names[j]) })
	var st syscall.Stat_t
	for _, n := range names {
		p := fsPath + "/" + n
		if err := ignoringEINTR(func() error { return syscall.Lstat(p, &st) }); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if err := lw.entry(&st, p, name+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// direntBufs holds getdents buffers, one in use per directory being read.
var direntBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// readDir returns the names in the directory fsPath.
func (lw *writer) readDir(fsPath string) ([]string, error) {
	fd, err := open(fsPath, syscall.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	buf := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(buf)
	var names []string
	for {
		var n int
		err := ignoringEINTR(func() (err error) { n, err = syscall.ReadDirent(fd, *buf); return err })
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = syscall.ParseDirent((*buf)[:n], -1, names)
	}
}

// zeroCopyMin is the smallest file whose contents are sent straight
// from the kernel in zero-copy mode: below it, reading is cheaper than
// the pipe's drain and the extra system calls.
const zeroCopyMin = 64 << 10

// contents copies the file at fsPath, whose lstat is st, into the layer,
// and fails if it turns out shorter or longer than st says, or changed
// while it was read (its identity, size or times differ after). The bytes
// are read straight into the layer stream's chunk, or, in zero-copy mode,
// sent from the kernel.
func (lw *writer) contents(fsPath string, st *syscall.Stat_t) error {
	fd, err := open(fsPath, 0)
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, err)
	}
	switch {
	case lw.o.zeroCopy && st.Size >= zeroCopyMin:
		f := os.NewFile(uintptr(fd), fsPath)
		defer f.Close()
		err = lw.send(f, st.Size)
	default:
		defer syscall.Close(fd)
		err = lw.read(fd, fsPath, st.Size)
	}
	if err != nil {
		return err
	}
	var after syscall.Stat_t
	if err := ignoringEINTR(func() error { return syscall.Fstat(fd, &after) }); err != nil {
		return fmt.Errorf("%s: %w", fsPath, err)
	}
	if after.Ino != st.Ino || after.Dev != st.Dev || after.Size != st.Size || after.Mtim != st.Mtim || after.Ctim != st.Ctim {
		return fmt.Errorf("%s: file changed while it was read", fsPath)
	}
	if f := lw.o.fingerprint; f != nil {
		b := lw.fp[:0]
		for _, v := range []int64{int64(after.Dev), int64(after.Ino), after.Mtim.Sec, after.Mtim.Nsec, after.Ctim.Sec, after.Ctim.Nsec} {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
		f.Write(b)
	}
	return nil
}

// send sends size bytes of f to the destination directly, once every
// byte before them is written.
func (lw *writer) send(f *os.File, size int64) error {
	if err := lw.p.drain(); err != nil {
		return writeErr(err)
	}
	n, err := zerocopy.Send(lw.out, f, size)
	if err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: file shrank while it was read (expected %d bytes, got %d)", f.Name(), size, n)
	}
	if err != nil {
		return writeErr(err)
	}
	return lw.tw.Account(size)
}

// read copies size bytes of the file open at fd into the layer stream.
func (lw *writer) read(fd int, fsPath string, size int64) error {
	remaining := size
	for {
		buf, err := lw.p.space()
		if err != nil {
			return writeErr(err)
		}
		// Ask for one byte more than is left: a file that grew shows
		// itself, and a short read at the end is the end of the file
		// (regular files only read short at their end).
		want := int64(len(buf))
		if remaining+1 < want {
			want = remaining + 1
		}
		if lw.readMax > 0 && want > int64(lw.readMax) {
			want = int64(lw.readMax)
		}
		var n int
		err = ignoringEINTR(func() (err error) { n, err = syscall.Read(fd, buf[:want]); return err })
		if err != nil {
			return fmt.Errorf("%s: %w", fsPath, err)
		}
		if int64(n) > remaining {
			return fmt.Errorf("%s: file grew while it was read (expected %d bytes)", fsPath, size)
		}
		if n == 0 {
			if remaining > 0 {
				return fmt.Errorf("%s: file shrank while it was read (expected %d bytes, got %d)", fsPath, size, size-remaining)
			}
			return nil
		}
		if lw.ts != nil {
			lw.ts.Write(buf[:n])
		}
		if _, err := lw.tw.Write(buf[:n]); err != nil {
			return writeErr(err)
		}
		remaining -= int64(n)
		if remaining == 0 && int64(n) < want {
			return nil
		}
	}
}

// open opens fsPath for reading with the raw system call: no poller
// registration and no finalizer, which a layer of many small files feels.
func open(fsPath string, flags int) (int, error) {
	var fd int
	err := ignoringEINTR(func() (err error) {
		fd, err = syscall.Open(fsPath, syscall.O_RDONLY|syscall.O_CLOEXEC|flags, 0)
		return err
	})
	return fd, err
}

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

func kind(mode uint32) string {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFIFO:
		return "fifo"
	case syscall.S_IFSOCK:
		return "socket"
	case syscall.S_IFCHR:
		return "character device"
	case syscall.S_IFBLK:
		return "block device"
	}
	return "special file"
}

// pathErr drops the *PathError wrapper whose text repeats the path the
// message already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WriteError marks a failure to write the layer (as opposed to a problem
// with its sources), so callers can name their output: the model's.
type WriteError = image.WriteError

func writeErr(err error) error {
	var we *WriteError
	if errors.As(err, &we) {
		return err
	}
	return &WriteError{Err: pathErr(err)}
}
