package imageconfig

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// elfArch names, per ELF machine, class (1: 32-bit, 2: 64-bit) and data
// encoding (1: little endian, 2: big endian), the architecture in the
// image spec's terms.
func elfArch(machine uint16, class, data byte) string {
	le := data == 1
	switch machine {
	case 62:
		return "amd64"
	case 3:
		return "386"
	case 183:
		return "arm64"
	case 40:
		return "arm"
	case 243:
		if class == 2 {
			return "riscv64"
		}
		return "riscv32"
	case 21:
		if le {
			return "ppc64le"
		}
		return "ppc64"
	case 22:
		return "s390x"
	case 258:
		return "loong64"
	case 8:
		switch {
		case class == 2 && le:
			return "mips64le"
		case class == 2:
			return "mips64"
		case le:
			return "mipsle"
		}
		return "mips"
	}
	return fmt.Sprintf("ELF machine %d", machine)
}

// Files says where the files an image carries are on this machine, so
// that its entrypoint can be judged by the bytes that will run: the store
// paths its layers hold are at the same paths here, and a customisation
// root holds the image's own "/" below a directory here. A file the image
// may hold but this machine cannot show (a base image's, one a layer tar
// holds) is unknown, and unknown files are not judged: this machine's
// /bin/sh says nothing of the image's.
type Files struct {
	StorePaths []string // store paths the image's layers hold
	Roots      []string // directories whose contents are the image's "/", bottom first
}

// maxLinks bounds the symlinks followed resolving one path, as the
// kernel's ELOOP does.
const maxLinks = 40

// locate resolves an absolute path of the image to the file here that
// holds its bytes, following symlinks the way the container will: inside
// the image. ok is false when some step leads to a file the image does not
// carry or that does not exist.
func (fs Files) locate(p string) (host string, ok bool) {
	links := 0
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	cur := "/"
	for len(rest) > 0 {
		next := path.Join(cur, rest[0])
		rest = rest[1:]
		if fs.storeAncestor(next) {
			cur = next // a directory the store layers write
			continue
		}
		h, known := fs.hostPath(next)
		if !known {
			return "", false
		}
		fi, err := os.Lstat(h)
		if err != nil {
			return "", false
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return "", false
		}
		target, err := os.Readlink(h)
		if err != nil {
			return "", false
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), rest...)
		cur = "/"
	}
	h, known := fs.hostPath(cur)
	return h, known
}

// storeAncestor reports whether p is a directory above a store path
// (the store directory and its ancestors), which the image holds as a
// plain directory whatever this machine has there.
func (fs Files) storeAncestor(p string) bool {
	for _, s := range fs.StorePaths {
		if p == "/" || strings.HasPrefix(path.Clean(s), p+"/") {
			return true
		}
	}
	return false
}

// hostPath maps one path of the image, symlinks resolved up to its last
// component, to this machine: a store path's own file, else the topmost
// root holding the name.
func (fs Files) hostPath(p string) (string, bool) {
	for _, s := range fs.StorePaths {
		s = path.Clean(s)
		if p == s || strings.HasPrefix(p, s+"/") {
			return p, true
		}
	}
	for i := len(fs.Roots) - 1; i >= 0; i-- {
		h := filepath.Join(fs.Roots[i], filepath.FromSlash(p))
		if _, err := os.Lstat(h); err == nil {
			return h, true
		}
	}
	return "", false
}

// CheckExecutable judges an image's entrypoint (or, without one, the
// first word of Cmd) by the file the image carries under that name: it
// returns an error when that is certainly not runnable on arch (a Mach-O
// or Windows executable, an ELF file built for another machine, or a
// script whose interpreter, carried by the image too, is one of those).
// Names the image does not visibly carry pass: they may come from a base
// image, and this machine's file of that name says nothing.
func CheckExecutable(c Config, arch string, files Files) error {
	argv := c.Strings("Entrypoint")
	field := "Entrypoint"
	if len(argv) == 0 {
		argv, field = c.Strings("Cmd"), "Cmd"
	}
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
		return nil
	}
	return files.check(argv[0], field, arch, 0)
}

func (fs Files) check(name, field, arch string, depth int) error {
	host, ok := fs.locate(name)
	if !ok {
		return nil // not carried by the image as far as we can see
	}
	f, err := os.Open(host)
	if err != nil {
		return nil
	}
	defer f.Close()
	head := make([]byte, 256) // the kernel reads as much of a #! line
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	refuse := func(what string) error {
		return fmt.Errorf("config %s %s is %s, which cannot run in a linux/%s image", field, name, what, arch)
	}
	switch {
	case len(head) >= 20 && bytes.HasPrefix(head, []byte("\x7fELF")):
		class, data := head[4], head[5]
		var machine uint16
		if data == 2 {
			machine = binary.BigEndian.Uint16(head[18:20])
		} else {
			machine = binary.LittleEndian.Uint16(head[18:20])
		}
		if got := elfArch(machine, class, data); got != arch {
			return refuse("an ELF executable for " + got)
		}
	case len(head) >= 4 && isMachO(head):
		return refuse("a Mach-O (macOS) executable")
	case len(head) >= 2 && head[0] == 'M' && head[1] == 'Z':
		return refuse("a Windows executable")
	case len(head) >= 2 && head[0] == '#' && head[1] == '!' && depth < 4:
		line := string(head[2:])
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		if words := strings.Fields(line); len(words) > 0 && strings.HasPrefix(words[0], "/") {
			return fs.check(words[0], field+" interpreter", arch, depth+1)
		}
	}
	return nil
}

func isMachO(h []byte) bool {
	be := binary.BigEndian.Uint32(h)
	switch be {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe:
		return true
	case 0xcafebabe: // universal binary, or a Java class: tell by the count
		return len(h) >= 8 && binary.BigEndian.Uint32(h[4:]) < 32
	}
	return false
}
