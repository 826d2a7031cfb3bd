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
	"github.com/go-dockertools/dockertools/lib/layer"
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

func entrypoint(argv ...string) imageconfig.Config {
	c := imageconfig.Config{}
	c.SetStrings("Entrypoint", argv)
	return c
}

// TestNativeChecksCarriedEntrypoint: Native refuses, before writing
// anything, an image whose entrypoint is a file its layers carry that
// cannot run on the image's architecture, and judges nothing else: the
// store path script "#!/bin/sh" of an arm64 image passes on any machine,
// because this machine's /bin/sh is not the image's.
func TestNativeChecksCarriedEntrypoint(t *testing.T) {
	store, paths := testStore(t)
	dir := t.TempDir()
	exes := filepath.Join(store, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-progs")
	must(t, os.MkdirAll(exes, 0o755))
	arm, x86 := filepath.Join(exes, "arm64"), filepath.Join(exes, "amd64")
	must(t, os.WriteFile(arm, elfHeader(183), 0o755))
	must(t, os.WriteFile(x86, elfHeader(62), 0o755))
	app := storeLayer(t, dir, "app.tar", store, paths[:1]) // bin/app is "#!/bin/sh"
	progs := storeLayer(t, dir, "progs.tar", store, []string{exes})
	script := paths[0] + "/bin/app"

	for _, c := range []struct {
		name   string
		arch   string
		layers []layer.Descriptor
		entry  string
		want   string // "" accepted
	}{
		{"#!/bin/sh script, arm64", "arm64", []layer.Descriptor{app}, script, ""},
		{"#!/bin/sh script, s390x", "s390x", []layer.Descriptor{app}, script, ""},
		{"#!/bin/sh script, amd64", "amd64", []layer.Descriptor{app}, script, ""},
		{"carried ELF for arm64 in an amd64 image", "amd64", []layer.Descriptor{app, progs}, arm, "is an ELF executable for arm64, which cannot run in a linux/amd64 image"},
		{"carried ELF for amd64 in an arm64 image", "arm64", []layer.Descriptor{progs}, x86, "for amd64"},
		{"carried ELF for its own architecture", "arm64", []layer.Descriptor{progs}, arm, ""},
		{"ELF here but not in the image", "amd64", []layer.Descriptor{app}, arm, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := writeNative(&buf, assemble.NativeSpec{Tags: []string{"app:1"}, Arch: c.arch, Layers: c.layers, Config: entrypoint(c.entry)})
			if c.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written", buf.Len())
			}
		})
	}

	// Without --arch, the image is this machine's: its foreign ELF is refused.
	other := arm
	if runtime.GOARCH == "arm64" {
		other = x86
	}
	if _, err := writeNative(&bytes.Buffer{}, assemble.NativeSpec{Tags: []string{"app:1"}, Layers: []layer.Descriptor{progs}, Config: entrypoint(other)}); err == nil {
		t.Errorf("default architecture: %s accepted", other)
	}
}

// TestNixpkgsEntrypointOnlyWarns: the drop-in writes every conf the
// script writes, the same bytes, with a warning on stderr where the
// entrypoint the image carries cannot run on its architecture; and says
// nothing of a "#!/bin/sh" script in an image for another machine.
func TestNixpkgsEntrypointOnlyWarns(t *testing.T) {
	store, paths := testStore(t)
	exes := filepath.Join(store, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-progs")
	must(t, os.MkdirAll(exes, 0o755))
	arm := filepath.Join(exes, "arm64")
	must(t, os.WriteFile(arm, elfHeader(183), 0o755))
	custom := customisationDir(t, rootDir(t))
	for _, c := range []struct {
		name, arch, entry, warn string
	}{
		{"#!/bin/sh script for arm64", "arm64", paths[0] + "/bin/app", ""},
		{"carried arm64 ELF in an amd64 image", "amd64", arm, "warning: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := writeConf(t, map[string]any{
				"store_dir": store, "store_layers": [][]string{paths[:1], {exes}}, "customisation_layer": custom,
				"architecture": c.arch, "config": map[string]any{"Entrypoint": []string{c.entry}},
			})
			var log []string
			got, _ := nixpkgs(t, conf, assemble.NixpkgsOptions{Log: func(f string, a ...any) { log = append(log, f) }})
			warned := strings.Contains(strings.Join(log, "\n"), "warning: ")
			if warned != (c.warn != "") {
				t.Errorf("warned %v, messages %q", warned, log)
			}
			sameArchive(t, c.name, got, pythonOracle(t, conf, "UTC"))
		})
	}
}
