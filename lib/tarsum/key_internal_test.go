package tarsum

import (
	"path"
	"testing"
)

// key's shortcut gives what moby's expression gives.
func TestKey(t *testing.T) {
	for _, name := range []string{
		"", ".", "..", "...", "./", "/", "//", "a", "a/", "./a", "/a", "//a", "a//b", "a/./b", "a/../b",
		"../a", "../../a", "..a", "a..", ".a", "a/..", "a/.", "./..", "/../a", "nix/store/x-y/bin/sh", "ü/ñ",
	} {
		want := path.Join(".", path.Join("/", name))
		if got := key(name); got != want {
			t.Errorf("key(%q) = %q, want %q", name, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { key("nix/store/x-y/bin/sh") }); n != 0 {
		t.Errorf("key allocates %v times for a clean name", n)
	}
}

func FuzzKey(f *testing.F) {
	for _, s := range []string{"", "a", "./a", "../a", "a/", "a//b/../c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := key(name), path.Join(".", path.Join("/", name)); got != want {
			t.Errorf("key(%q) = %q, want %q", name, got, want)
		}
	})
}
