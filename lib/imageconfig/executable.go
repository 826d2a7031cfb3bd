package imageconfig

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
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

// CheckExecutable refuses an image whose entrypoint (or, without one, the
// first word of Cmd) is a file on this machine that cannot run on arch: a
// Mach-O or Windows executable, or an ELF file built for another machine.
// Paths that do not exist here (they may exist only in the image), and
// scripts whose interpreter is not here, are not checked.
func CheckExecutable(c Config, arch string) error {
	argv := c.Strings("Entrypoint")
	field := "Entrypoint"
	if len(argv) == 0 {
		argv, field = c.Strings("Cmd"), "Cmd"
	}
	if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
		return nil
	}
	return checkFile(argv[0], field, arch, 0)
}

func checkFile(path, field, arch string, depth int) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // not on this machine: nothing to check
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	refuse := func(what string) error {
		return fmt.Errorf("config %s %s is %s, which cannot run in a linux/%s image", field, path, what, arch)
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
		if fs := strings.Fields(line); len(fs) > 0 && strings.HasPrefix(fs[0], "/") {
			return checkFile(fs[0], field+" interpreter", arch, depth+1)
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
