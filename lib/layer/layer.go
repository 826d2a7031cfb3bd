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
//     the file's permission bits; hard links are written as regular files
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
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-dockertools/dockertools/lib/pytar"
	"github.com/go-dockertools/dockertools/lib/tarsum"
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
	if root != "" {
		if err := lw.children(root, ""); err != nil {
			return Result{}, err
		}
	}
	if len(clean) > 0 || root == "" {
		for _, d := range o.leading() {
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
	out    *bufio.Writer
	tw     *pytar.Writer
	digest hash.Hash
	ts     *tarsum.Sum
	buf    []byte
	hdr    pytar.Header
	th     tar.Header
}

func newWriter(w io.Writer, o Options) (*writer, error) {
	lw := &writer{o: o, buf: make([]byte, 1<<20)}
	// Headers and small files are many small writes: buffer them. Large
	// reads pass through the buffer untouched.
	lw.out = bufio.NewWriterSize(w, 256<<10)
	w = lw.out
	if !o.NoDiffID {
		lw.digest = sha256.New()
		w = io.MultiWriter(w, lw.digest)
	}
	if o.TarSum {
		ts, err := tarsum.New(tarsum.Version1, "sha256")
		if err != nil {
			return nil, err
		}
		lw.ts = ts
	}
	lw.tw = pytar.NewWriter(w)
	return lw, nil
}

func (lw *writer) close() (Result, error) {
	if err := lw.tw.Close(); err != nil {
		return Result{}, writeErr(err)
	}
	if err := lw.out.Flush(); err != nil {
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
	fi, err := os.Lstat(fsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, pathErr(err))
	}
	mode := int64(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	switch t := fi.Mode().Type(); {
	case t == 0:
		if err := lw.header(name, pytar.TypeReg, mode, fi.Size(), ""); err != nil {
			return err
		}
		return lw.contents(fsPath, fi.Size())
	case t == fs.ModeDir:
		if err := lw.dir(name, mode); err != nil {
			return err
		}
		return lw.children(fsPath, name)
	case t == fs.ModeSymlink:
		target, err := os.Readlink(fsPath)
		if err != nil {
			return fmt.Errorf("%s: %w", fsPath, pathErr(err))
		}
		return lw.header(name, pytar.TypeSymlink, mode, 0, target)
	default:
		return fmt.Errorf("%s: is a %s; a layer can only hold files, directories and symlinks", fsPath, kind(t))
	}
}

// children writes the entries below the directory fsPath (named name).
func (lw *writer) children(fsPath, name string) error {
	d, err := os.Open(fsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, pathErr(err))
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, pathErr(err))
	}
	sort.Slice(names, func(i, j int) bool { return PythonLess(names[i], names[j]) })
	for _, n := range names {
		if err := lw.tree(fsPath+"/"+n, name+"/"+n); err != nil {
			return err
		}
	}
	return nil
}

// contents copies size bytes of the file at fsPath into the layer, and
// fails if the file turns out shorter or longer than size.
func (lw *writer) contents(fsPath string, size int64) error {
	f, err := os.Open(fsPath)
	if err != nil {
		return fmt.Errorf("%s: %w", fsPath, pathErr(err))
	}
	defer f.Close()
	remaining := size
	for {
		// Ask for one byte more than is left: a file that grew shows
		// itself, and a short read at the end is the end of the file
		// (regular files only read short at their end).
		want := int64(len(lw.buf))
		if remaining+1 < want {
			want = remaining + 1
		}
		n, err := f.Read(lw.buf[:want])
		if int64(n) > remaining {
			return fmt.Errorf("%s: file grew while it was read (expected %d bytes)", fsPath, size)
		}
		if n > 0 {
			if _, werr := lw.tw.Write(lw.buf[:n]); werr != nil {
				return writeErr(werr)
			}
			if lw.ts != nil {
				lw.ts.Write(lw.buf[:n])
			}
			remaining -= int64(n)
		}
		if err == io.EOF || (err == nil && n == 0) {
			if remaining > 0 {
				return fmt.Errorf("%s: file shrank while it was read (expected %d bytes, got %d)", fsPath, size, size-remaining)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", fsPath, pathErr(err))
		}
		if remaining == 0 && int64(n) < want {
			return nil
		}
	}
}

func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeNamedPipe != 0:
		return "fifo"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
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
// with its sources), so callers can name their output.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "write: " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

func writeErr(err error) error {
	var we *WriteError
	if errors.As(err, &we) {
		return err
	}
	return &WriteError{pathErr(err)}
}
