package nss

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-dockertools/dockertools/lib/layer"
)

// WriteLayer writes the entries as a layer tar, packed the way
// path-to-layer --root packs a directory: names from the image root
// ("/etc/passwd"), the entries' modes, owner 0:0 root:root and the given
// mtime on every entry.
func WriteLayer(w io.Writer, entries []Entry, mtime int64) (layer.Result, error) {
	tmp, err := os.MkdirTemp("", "fake-nss-")
	if err != nil {
		return layer.Result{}, err
	}
	defer os.RemoveAll(tmp)
	if err := create(tmp, entries); err != nil {
		return layer.Result{}, err
	}
	o := layer.Defaults()
	o.Mtime = mtime
	return layer.WriteRoot(w, tmp, o)
}

// WriteDir writes the entries into dir (created if missing), to be packed
// with other contents of a customisation layer. It refuses, before
// writing anything, to write through a symlink or over a file whose
// contents differ: an existing file with the same contents is kept (and
// given the entry's mode), an existing directory is used as it is, and
// var/empty must be empty.
func WriteDir(dir string, entries []Entry) error {
	for _, e := range entries {
		p := filepath.Join(dir, e.Name)
		fi, err := os.Lstat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink: not writing through it", p)
		case e.IsDir() && !fi.IsDir():
			return fmt.Errorf("%s exists and is not a directory", p)
		case e.IsDir() && e.Name == "var/empty":
			names, err := readDirNames(p)
			if err != nil {
				return err
			}
			if len(names) > 0 {
				return fmt.Errorf("%s is not empty", p)
			}
		case !e.IsDir() && !fi.Mode().IsRegular():
			return fmt.Errorf("%s exists and is not a regular file", p)
		case !e.IsDir():
			old, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if !bytes.Equal(old, e.Data) {
				return fmt.Errorf("%s exists with other contents: not overwriting it", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return create(dir, entries)
}

func readDirNames(p string) ([]string, error) {
	d, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if err == io.EOF {
		err = nil
	}
	return names, err
}

// create makes the entries below dir with their exact modes, whatever
// the umask. Directories that exist already are left as they are; files
// appear atomically (written to a temporary name, then renamed).
func create(dir string, entries []Entry) error {
	for _, e := range entries {
		p := filepath.Join(dir, e.Name)
		if e.IsDir() {
			if err := os.Mkdir(p, 0o700); err != nil {
				if os.IsExist(err) {
					continue
				}
				return err
			}
			if err := os.Chmod(p, e.Mode.Perm()); err != nil {
				return err
			}
			continue
		}
		if err := writeFile(p, e.Data, e.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(p string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
