package assemble_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/assemble"
	"github.com/go-dockertools/dockertools/lib/imageconfig"
)

// elfHeader is the start of a little-endian 64-bit ELF executable for
// the given e_machine (62 x86-64, 183 AArch64, ...).
func elfHeader(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF")
	h[4], h[5], h[6] = 2, 1, 1               // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
	binary.LittleEndian.PutUint16(h[16:], 2) // ET_EXEC
	binary.LittleEndian.PutUint16(h[18:], machine)
	binary.LittleEndian.PutUint32(h[20:], 1)
	return h
}

// goarchELF maps GOARCH to its e_machine, for the machines tests run on.
var goarchELF = map[string]uint16{"amd64": 62, "arm64": 183, "386": 3, "riscv64": 243, "s390x": 22}

// TestCheckExecutable: an entrypoint (or Cmd[0]) that is a file here and
// cannot run on the image's architecture is refused, naming the field,
// the file and what it is; files that are not here, relative names,
// scripts with a missing interpreter and matching ELF files pass.
func TestCheckExecutable(t *testing.T) {
	dir := t.TempDir()
	exe := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, data, 0o755))
		return p
	}
	arm := exe("arm64-prog", elfHeader(183))
	x86 := exe("amd64-prog", elfHeader(62))
	macho := exe("macho", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0})
	fat := exe("fat", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2})
	pe := exe("prog.exe", append([]byte("MZ"), make([]byte, 62)...))
	script := exe("script", []byte("#!"+arm+" -x\necho\n"))
	script2 := exe("script2", []byte("#! "+script+"\n"))
	noInterp := exe("nointerp", []byte("#!/nonexistent/sh\n"))
	envScript := exe("envscript", []byte("#!/usr/bin/env sh\n"))

	cfg := func(field string, argv ...string) imageconfig.Config {
		c := imageconfig.Config{}
		c.SetStrings(field, argv)
		return c
	}
	for _, c := range []struct {
		name string
		cfg  imageconfig.Config
		arch string
		want string // "" accepted; else part of the error
	}{
		{"ELF for another machine", cfg("Entrypoint", arm), "amd64", "config Entrypoint " + arm + " is an ELF executable for arm64, which cannot run in a linux/amd64 image"},
		{"ELF for another machine in Cmd", cfg("Cmd", arm, "-v"), "amd64", "config Cmd " + arm},
		{"amd64 ELF on arm64", cfg("Entrypoint", x86), "arm64", "for amd64"},
		{"Mach-O", cfg("Entrypoint", macho), "amd64", "Mach-O"},
		{"universal Mach-O", cfg("Entrypoint", fat), "arm64", "Mach-O"},
		{"Windows", cfg("Entrypoint", pe), "amd64", "Windows"},
		{"script whose interpreter is for another machine", cfg("Entrypoint", script), "amd64", "config Entrypoint interpreter " + arm},
		{"script of a script", cfg("Cmd", script2), "amd64", "interpreter interpreter " + arm},
		{"matching ELF", cfg("Entrypoint", arm), "arm64", ""},
		{"matching ELF amd64", cfg("Entrypoint", x86), "amd64", ""},
		{"missing path", cfg("Entrypoint", "/nonexistent/bin/prog"), "amd64", ""},
		{"relative name", cfg("Entrypoint", "arm64-prog"), "amd64", ""},
		{"missing interpreter", cfg("Entrypoint", noInterp), "amd64", ""},
		{"env script", cfg("Entrypoint", envScript), "amd64", ""},
		{"Entrypoint decides, not Cmd", func() imageconfig.Config {
			c := cfg("Entrypoint", "/nonexistent")
			c.SetStrings("Cmd", []string{arm})
			return c
		}(), "amd64", ""},
		{"empty config", imageconfig.Config{}, "amd64", ""},
	} {
		err := imageconfig.CheckExecutable(c.cfg, c.arch)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}

	// This machine's own programs pass for its own architecture.
	if m, ok := goarchELF[runtime.GOARCH]; ok {
		if self, err := os.Executable(); err == nil {
			if err := imageconfig.CheckExecutable(cfg("Entrypoint", self), runtime.GOARCH); err != nil {
				t.Errorf("the test binary (ELF machine %d): %v", m, err)
			}
		}
		if _, err := os.Stat("/bin/true"); err == nil {
			if err := imageconfig.CheckExecutable(cfg("Entrypoint", "/bin/true"), runtime.GOARCH); err != nil {
				t.Errorf("/bin/true: %v", err)
			}
		}
	}

	// Native refuses before writing anything, with --arch or the default.
	layers := nativeLayers(t)[3:]
	for _, arch := range []string{"", "amd64", "arm64"} {
		self := x86
		if arch == "arm64" {
			self = arm
		}
		other := arm
		if arch == "arm64" || (arch == "" && runtime.GOARCH == "arm64") {
			other = x86
		}
		var buf bytes.Buffer
		_, err := assemble.Native(&buf, assemble.NativeSpec{Tag: "app:1", Arch: arch, Layers: layers, Config: cfg("Entrypoint", other)})
		if err == nil || buf.Len() != 0 {
			t.Errorf("Native, arch %q, entrypoint %s: %v (%d bytes written)", arch, other, err, buf.Len())
		}
		if arch != "" || runtime.GOARCH == "amd64" {
			native(t, assemble.NativeSpec{Tag: "app:1", Arch: arch, Layers: layers, Config: cfg("Entrypoint", self)})
		}
	}
}
