// Package atomicfile owns how the toolkit's output files come into being:
// complete or absent. Data goes to a temporary file in the target's
// directory, which is renamed over the target on Commit and removed on
// Abort, or by RemoveAll when the process is interrupted. A process killed
// outright (SIGKILL) leaves at most a temporary file with a name no consumer
// looks for.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-dockertools/dockertools/lib/zerocopy"
)

// Stdout is the name that stands for standard output.
const Stdout = "-"

// File is an output being written: a temporary file until Commit, or
// standard output when the name was "-".
type File struct {
	*os.File
	final  string // the name given; "" for stdout
	target string // where the temporary file goes: final, symlinks followed
	direct bool   // final is a device or fifo, written in place
	done   bool
	// written and flushed count the temporary file's bytes, and those
	// whose writeback has been started (see Write).
	written, flushed int64
}

// writebackChunk is how many bytes are written between the starts of
// their writeback.
const writebackChunk = 8 << 20

// Write writes to the output. For a temporary file, every 8 MiB written
// starts their writeback to the disk (sync_file_range), so the disk
// writes while the rest is made and the sync at Commit has little left to
// wait for: a large layer costs its disk time once, not after its making.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if f.target != "" {
		f.written += int64(n)
		f.startWriteback()
	}
	return n, err
}

// SendFile writes the next n bytes of src to the output straight from
// the kernel (zerocopy.Sender).
func (f *File) SendFile(src *os.File, n int64) (int64, error) {
	m, err := zerocopy.ToFile(f.File, src, n)
	if f.target != "" {
		f.written += m
		f.startWriteback()
	}
	return m, err
}

func (f *File) startWriteback() {
	if f.written-f.flushed < writebackChunk {
		return
	}
	// A hint: a file system that cannot do it still syncs at Commit.
	startWriteback(f.File, f.flushed, f.written-f.flushed)
	f.flushed = f.written
}

var (
	mu      sync.Mutex
	pending = map[string]struct{}{}
)

// Create starts an output named path ("-" for standard output).
func Create(path string) (*File, error) {
	if path == Stdout || path == "" {
		return &File{File: os.Stdout}, nil
	}
	// A symlink stays a symlink: the output replaces what it leads to.
	target, fd := resolve(path)
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", path)
	} else if err == nil && fd >= 0 {
		// One of this process's descriptors (/dev/stdout, /dev/fd/3):
		// written through a copy of it, as if to it, so the output lands
		// where the descriptor's other writes do.
		nfd, err := syscall.Dup(fd)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, err)
		}
		return &File{File: os.NewFile(uintptr(nfd), path), final: path, direct: true}, nil
	} else if err == nil && !fi.Mode().IsRegular() {
		// A device or fifo (/dev/null, a named pipe) is written in place:
		// renaming over it would replace the device with a file.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", path, unwrapPath(err))
		}
		return &File{File: f, final: path, direct: true}, nil
	}
	mu.Lock()
	defer mu.Unlock()
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, unwrapPath(err))
	}
	pending[f.Name()] = struct{}{}
	return &File{File: f, final: path, target: target}, nil
}

// resolve follows the symlinks of path to the name the output must take
// (the last one may lead to a name that does not exist yet), and returns
// the descriptor when one of them is this process's /proc/self/fd/N
// (else -1).
func resolve(path string) (string, int) {
	fd := -1
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			break
		}
		if n, ok := strings.CutPrefix(filepath.Clean(path), "/proc/self/fd/"); ok && fd < 0 {
			if v, err := strconv.Atoi(n); err == nil {
				fd = v
			}
		}
		link, err := os.Readlink(path)
		if err != nil {
			break
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return path, fd
}

// IsStdout reports whether the output is standard output.
func (f *File) IsStdout() bool { return f.final == "" }

// Commit makes the output visible under its final name. For standard
// output it only checks that nothing failed.
func (f *File) Commit() error {
	if f.done {
		return nil
	}
	f.done = true
	if f.final == "" {
		return nil
	}
	if f.direct {
		if err := f.File.Close(); err != nil {
			return fmt.Errorf("write %s: %w", f.final, unwrapPath(err))
		}
		return nil
	}
	tmp := f.File.Name()
	defer forget(tmp)
	if err := f.File.Chmod(0o644 &^ umask()); err != nil {
		f.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.final, unwrapPath(err))
	}
	// The data reaches the disk before the name does, and the name
	// before Commit returns: after a crash of the machine the output is
	// the old file or the whole new one, never an empty or short file
	// under the final name (what google/renameio does).
	if err := syncFile(f.File); err != nil {
		f.File.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: sync: %w", f.final, unwrapPath(err))
	}
	if err := f.File.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", f.final, unwrapPath(err))
	}
	if err := os.Rename(tmp, f.target); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("rename to %s: %w", f.final, unwrapPath(err))
	}
	if err := syncDir(filepath.Dir(f.target)); err != nil {
		return fmt.Errorf("write %s: sync its directory: %w", f.final, unwrapPath(err))
	}
	return nil
}

// syncFile flushes a file's data to the disk; a variable so tests can
// watch the order of events.
var syncFile = func(f *os.File) error { return f.Sync() }

// syncDir flushes a directory's entries (a rename) to the disk.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err // EINVAL: a file system that cannot sync directories
	}
	return nil
}

// Abort discards the output: the temporary file is removed. It is safe to
// call after Commit (it then does nothing), so it fits a defer.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	if f.final == "" {
		return
	}
	if f.direct {
		f.File.Close()
		return
	}
	tmp := f.File.Name()
	f.File.Close()
	os.Remove(tmp)
	forget(tmp)
}

func forget(tmp string) {
	mu.Lock()
	delete(pending, tmp)
	mu.Unlock()
}

// RemoveAll removes every temporary file not yet committed or aborted. The
// signal handler of a command calls it before exiting.
func RemoveAll() {
	mu.Lock()
	defer mu.Unlock()
	for tmp := range pending {
		os.RemoveAll(tmp) // a file, or a temporary directory of CreateDir
		delete(pending, tmp)
	}
}

// SetName changes the name a file gets on Commit, for an output whose name
// is known only once it is written (a blob named by its digest). The new
// name must be in the same directory.
func (f *File) SetName(path string) error {
	if f.final == "" || f.direct {
		return fmt.Errorf("%s: cannot be renamed", DisplayName(f.final))
	}
	if filepath.Dir(path) != filepath.Dir(f.target) {
		return fmt.Errorf("%s: not in the directory of %s", path, f.final)
	}
	f.final, f.target = path, path
	return nil
}

// Dir is an output directory being written: a temporary directory beside
// the target, renamed into place on Commit, removed on Abort or by
// RemoveAll. A process killed outright leaves at most a directory with a
// name no consumer looks for.
type Dir struct {
	// Path is the temporary directory to write into.
	Path  string
	final string
	done  bool
}

// CreateDir starts an output directory. path must not exist, or be an
// empty directory (which the output replaces).
func CreateDir(path string) (*Dir, error) {
	if fi, err := os.Lstat(path); err == nil {
		if !fi.IsDir() {
			return nil, fmt.Errorf("%s: exists and is not a directory", path)
		}
		if es, err := os.ReadDir(path); err != nil || len(es) > 0 {
			return nil, fmt.Errorf("%s: exists and is not empty", path)
		}
	}
	parent, base := filepath.Split(filepath.Clean(path))
	if parent == "" {
		parent = "."
	}
	mu.Lock()
	defer mu.Unlock()
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, unwrapPath(err))
	}
	pending[tmp] = struct{}{}
	return &Dir{Path: tmp, final: path}, nil
}

// Commit gives the directory its name. Files written into it with Create
// were synced, with their directories, when committed; the directory and
// its parent are synced here.
func (d *Dir) Commit() error {
	if d.done {
		return nil
	}
	d.done = true
	defer forget(d.Path)
	if err := os.Chmod(d.Path, 0o755&^umask()); err != nil {
		os.RemoveAll(d.Path)
		return fmt.Errorf("write %s: %w", d.final, unwrapPath(err))
	}
	if err := syncDir(d.Path); err != nil {
		os.RemoveAll(d.Path)
		return fmt.Errorf("write %s: sync: %w", d.final, unwrapPath(err))
	}
	// rename(2) itself: os.Rename refuses to replace an empty directory.
	if err := syscall.Rename(d.Path, d.final); err != nil {
		os.RemoveAll(d.Path)
		return fmt.Errorf("rename to %s: %w", d.final, unwrapPath(err))
	}
	if err := syncDir(filepath.Dir(filepath.Clean(d.final))); err != nil {
		return fmt.Errorf("write %s: sync its directory: %w", d.final, unwrapPath(err))
	}
	return nil
}

// Abort removes the temporary directory; after Commit it does nothing.
func (d *Dir) Abort() {
	if d.done {
		return
	}
	d.done = true
	os.RemoveAll(d.Path)
	forget(d.Path)
}

// WriteFile writes data to path atomically ("-" writes to stdout).
func WriteFile(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", DisplayName(path), unwrapPath(err))
	}
	return f.Commit()
}

// DisplayName is how messages name an output: "stdout" for "-" or "".
func DisplayName(path string) string {
	if path == Stdout || path == "" {
		return "stdout"
	}
	return path
}

// unwrapPath drops the *PathError layer whose text would repeat the
// temporary file's name: messages name the final file instead.
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
