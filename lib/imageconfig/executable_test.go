package imageconfig

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// elfHeader is the start of a 64-bit little-endian ELF executable for
// the given e_machine (62 x86-64, 183 AArch64).
func elfHeader(machine uint16) []byte {
	h := make([]byte, 64)
	copy(h, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(h[16:], 2)
	binary.LittleEndian.PutUint16(h[18:], machine)
	return h
}

// TestCheckExecutable: only files the image carries are judged (its
// store paths, its customisation roots), following symlinks inside the
// image; a name the image does not visibly carry passes, whatever this
// machine has under that name.
func TestCheckExecutable(t *testing.T) {
	top := t.TempDir()
	store := filepath.Join(top, "store")
	sp := func(name string) string { return filepath.Join(store, strings.Repeat("a", 32)+"-"+name) }
	write := func(p string, data []byte) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := func(target, p string) string {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	arm := write(sp("armprog")+"/bin/prog", elfHeader(183))
	x86 := write(sp("x86prog")+"/bin/prog", elfHeader(62))
	macho := write(sp("macho")+"/bin/prog", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1, 3, 0, 0, 0})
	fat := write(sp("fat")+"/bin/prog", []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2})
	pe := write(sp("pe")+"/prog.exe", append([]byte("MZ"), make([]byte, 62)...))
	// A script for the host's /bin/sh: the image's /bin/sh is unknown.
	binSh := write(sp("script")+"/bin/run", []byte("#!/bin/sh\necho hi\n"))
	armScript := write(sp("armscript")+"/bin/run", []byte("#!"+arm+" -x\n"))
	scriptOfScript := write(sp("armscript2")+"/bin/run", []byte("#! "+armScript+"\n"))
	// A shebang longer than 64 bytes, as every Nix store interpreter is.
	longInterp := write(sp("long")+"/bin/run", []byte("#!"+arm+strings.Repeat(" -x", 30)+"\n"))
	viaLink := link(arm, sp("wrapper")+"/bin/prog") // to another carried path
	viaRelLink := link("../../"+filepath.Base(filepath.Dir(filepath.Dir(arm)))+"/bin/prog", sp("rel")+"/bin/prog")
	loop := link("loop", sp("loop")+"/bin/loop")
	hostOnly := write(filepath.Join(top, "host", "prog"), elfHeader(183)) // exists here, not in the image

	root := filepath.Join(top, "root")
	write(root+"/app/prog", elfHeader(183))
	link(arm, root+"/bin/armlink")       // /bin/armlink -> a carried store path
	link(hostOnly, root+"/bin/hostlink") // -> a file the image does not carry
	link("../app", root+"/opt")          // a directory symlink on the way
	upper := filepath.Join(top, "upper")
	write(upper+"/app/prog", elfHeader(62)) // a later root hides the lower one's file

	all := []string{filepath.Dir(filepath.Dir(arm)), filepath.Dir(filepath.Dir(x86)), filepath.Dir(filepath.Dir(macho)),
		filepath.Dir(filepath.Dir(fat)), filepath.Dir(pe), filepath.Dir(filepath.Dir(binSh)), filepath.Dir(filepath.Dir(armScript)),
		filepath.Dir(filepath.Dir(scriptOfScript)), filepath.Dir(filepath.Dir(longInterp)), filepath.Dir(filepath.Dir(viaLink)),
		filepath.Dir(filepath.Dir(viaRelLink)), filepath.Dir(filepath.Dir(loop))}
	inStore := Files{StorePaths: all}
	withRoot := Files{StorePaths: all, Roots: []string{root}}
	cfg := func(field string, argv ...string) Config {
		c := Config{}
		c.SetStrings(field, argv)
		return c
	}
	for _, c := range []struct {
		name  string
		cfg   Config
		arch  string
		files Files
		want  string // "" accepted; else part of the error
	}{
		{"ELF for another machine", cfg("Entrypoint", arm), "amd64", inStore, "config Entrypoint " + arm + " is an ELF executable for arm64, which cannot run in a linux/amd64 image"},
		{"in Cmd", cfg("Cmd", arm, "-v"), "amd64", inStore, "config Cmd " + arm},
		{"amd64 ELF on arm64", cfg("Entrypoint", x86), "arm64", inStore, "for amd64"},
		{"Mach-O", cfg("Entrypoint", macho), "amd64", inStore, "Mach-O"},
		{"universal Mach-O", cfg("Entrypoint", fat), "arm64", inStore, "Mach-O"},
		{"Windows", cfg("Entrypoint", pe), "amd64", inStore, "Windows"},
		{"script whose carried interpreter is for another machine", cfg("Entrypoint", armScript), "amd64", inStore, "config Entrypoint interpreter " + arm},
		{"script of a script", cfg("Cmd", scriptOfScript), "amd64", inStore, "interpreter interpreter " + arm},
		{"long #! line", cfg("Entrypoint", longInterp), "amd64", inStore, "interpreter " + arm},
		{"symlink to a carried path", cfg("Entrypoint", viaLink), "amd64", inStore, "config Entrypoint " + viaLink + " is an ELF executable for arm64"},
		{"relative symlink", cfg("Entrypoint", viaRelLink), "amd64", inStore, "for arm64"},
		{"customisation root file", cfg("Entrypoint", "/app/prog"), "amd64", withRoot, "config Entrypoint /app/prog is an ELF executable for arm64"},
		{"root symlink into the store", cfg("Entrypoint", "/bin/armlink"), "amd64", withRoot, "for arm64"},
		{"directory symlink in the root", cfg("Entrypoint", "/opt/prog"), "amd64", withRoot, "for arm64"},
		{"upper root wins", cfg("Entrypoint", "/app/prog"), "amd64", Files{Roots: []string{root, upper}}, ""},
		{"upper root wins, refused", cfg("Entrypoint", "/app/prog"), "arm64", Files{Roots: []string{root, upper}}, "for amd64"},

		{"#!/bin/sh script for another architecture", cfg("Entrypoint", binSh), "arm64", inStore, ""},
		{"#!/bin/sh script, s390x", cfg("Cmd", binSh, "x"), "s390x", inStore, ""},
		{"matching ELF", cfg("Entrypoint", arm), "arm64", inStore, ""},
		{"matching ELF amd64", cfg("Entrypoint", x86), "amd64", inStore, ""},
		{"not carried, though here", cfg("Entrypoint", hostOnly), "amd64", inStore, ""},
		{"carried path, nothing to show", cfg("Entrypoint", arm), "amd64", Files{}, ""},
		{"root symlink to what the image lacks", cfg("Entrypoint", "/bin/hostlink"), "amd64", withRoot, ""},
		{"missing in a carried path", cfg("Entrypoint", filepath.Dir(arm)+"/none"), "amd64", inStore, ""},
		{"symlink loop", cfg("Entrypoint", loop), "amd64", inStore, ""},
		{"relative name", cfg("Entrypoint", "prog"), "amd64", inStore, ""},
		{"Entrypoint decides, not Cmd", func() Config {
			c := cfg("Entrypoint", "/nonexistent")
			c.SetStrings("Cmd", []string{arm})
			return c
		}(), "amd64", inStore, ""},
		{"empty config", Config{}, "amd64", inStore, ""},
	} {
		err := CheckExecutable(c.cfg, c.arch, c.files)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}

	// This machine's own programs pass for its own architecture.
	if self, err := os.Executable(); err == nil && (runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64") {
		if err := CheckExecutable(cfg("Entrypoint", self), runtime.GOARCH, Files{StorePaths: []string{filepath.Dir(self)}}); err != nil {
			t.Errorf("the test binary: %v", err)
		}
	}
}
