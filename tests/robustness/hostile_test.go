package robustness

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-dockertools/dockertools/lib/merge/mergetest"
	"github.com/go-dockertools/dockertools/lib/testutil"
)

// member is one member of a hand-made archive.
type member struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) member {
	return member{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}, data}
}

func link(name, target string, typ byte) member {
	return member{tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}, nil}
}

func tarBytes(t testing.TB, ms ...member) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, m := range ms {
		h := m.hdr
		must(t, tw.WriteHeader(&h))
		_, err := tw.Write(m.data)
		must(t, err)
	}
	must(t, tw.Close())
	return b.Bytes()
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// baseParts are the members of a valid one-layer base image: the layer
// l/layer.tar, its config and manifest.json.
func baseParts(t testing.TB) (layer, config, manifest member, lt []byte) {
	lt = tarBytes(t, file("etc/base", []byte("base\n")))
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:` + hexSHA(lt) + `"]}}`)
	cname := hexSHA(cfg) + ".json"
	return file("l/layer.tar", lt), file(cname, cfg), file("manifest.json", manifestOf(cname, "l/layer.tar")), lt
}

func manifestOf(config string, layers ...string) []byte {
	q := make([]string, len(layers))
	for i, l := range layers {
		q[i] = strconv.Quote(l)
	}
	return []byte(`[{"Config":` + strconv.Quote(config) + `,"RepoTags":["base:1"],"Layers":[` + strings.Join(q, ",") + `]}]`)
}

// TestHostileBaseImages gives assemble-image --from-image archives made
// to escape, mislead or exhaust it: each is refused with exit 1 and one
// line naming the archive and what is wrong, nothing is written anywhere
// (the directory around is unchanged), and the peak RSS stays under
// 200 MiB. merge-images reads archives through the same reader and has
// its own table of these (cmd/merge-images TestHostileArchives).
func TestHostileBaseImages(t *testing.T) {
	timeCmd := testutil.Need(t, "/usr/bin/time")[0]
	const limit = 200 << 20
	work := t.TempDir()
	store := filepath.Join(work, "store")
	p := storePath(store, 0, "small")
	writeFile(t, filepath.Join(p, "bin", "prog"), []byte("#!/bin/sh\n"), 0o555)
	mustRun(t, work, nil, tool("path-to-layer"), "-q", "--store-dir", store, "-o", "l.tar", "--descriptor", "l.json", p)

	l, c, m, lt := baseParts(t)
	cname := c.hdr.Name
	million := func() []byte {
		var b bytes.Buffer
		b.WriteString("[")
		for i := 0; i < 1_000_000; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{}`)
		}
		b.WriteString("]")
		return b.Bytes()
	}
	deep := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	gz := func(data []byte) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		data func() []byte
		want string
	}{
		{"absolute member name", func() []byte { return tarBytes(t, l, c, m, file("/etc/passwd", []byte("x"))) }, `"/etc/passwd" has an absolute name`},
		{"member climbing out", func() []byte { return tarBytes(t, file("../../x", []byte("x")), l, c, m) }, `climbs out`},
		{"layer a symlink out of the archive", func() []byte {
			return tarBytes(t, link("l/layer.tar", "../../../etc/passwd", tar.TypeSymlink), c, m)
		}, "outside the archive"},
		{"layer an absolute symlink", func() []byte { return tarBytes(t, link("l/layer.tar", "/etc/passwd", tar.TypeSymlink), c, m) }, "outside the archive"},
		{"layer a hard link out of the archive", func() []byte { return tarBytes(t, link("l/layer.tar", "../etc/passwd", tar.TypeLink), c, m) }, "outside the archive"},
		{"manifest.json a symlink", func() []byte { return tarBytes(t, l, c, link("manifest.json", "/etc/passwd", tar.TypeSymlink)) }, "is a link"},
		{"config a hard link", func() []byte { return tarBytes(t, l, file("c", c.data), link(cname, "c", tar.TypeLink), m) }, "is a link"},
		{"manifest naming a missing layer", func() []byte { return tarBytes(t, c, file("manifest.json", manifestOf(cname, "l/layer.tar"))) }, `"l/layer.tar" is not in the archive`},
		{"manifest naming a missing config", func() []byte { return tarBytes(t, l, file("manifest.json", manifestOf("none.json", "l/layer.tar"))) }, `"none.json" is not in the archive`},
		{"layer not matching its diff_id", func() []byte {
			bad := bytes.Replace(lt, []byte("base\n"), []byte("evil\n"), 1)
			return tarBytes(t, file("l/layer.tar", bad), c, m)
		}, "does not match its diff_id"},
		{"layer not matching its diff_id, gzip", func() []byte {
			bad := bytes.Replace(lt, []byte("base\n"), []byte("evil\n"), 1)
			return gz(tarBytes(t, file("l/layer.tar", bad), c, m))
		}, "does not match its diff_id"},
		{"member claiming 1 TiB", func() []byte { return mergetest.WithMemberSize(t, tarBytes(t, l, c, m), "l/layer.tar", 1<<40) }, "claims 1099511627776 bytes"},
		{"a million manifest entries", func() []byte { return tarBytes(t, l, c, file("manifest.json", million())) }, "more than 10000 images"},
		{"deeply nested manifest", func() []byte { return tarBytes(t, l, c, file("manifest.json", deep("[", "]", 1<<20))) }, "manifest.json"},
		{"deeply nested config", func() []byte {
			cfg := deep(`{"a":`, "}", 1<<19)
			return tarBytes(t, l, file("c.json", cfg), file("manifest.json", manifestOf("c.json", "l/layer.tar")))
		}, "c.json"},
		{"config over 16 MiB", func() []byte {
			cfg := []byte(`{"rootfs":{"type":"layers","diff_ids":[]},"pad":"` + strings.Repeat("x", 17<<20) + `"}`)
			return tarBytes(t, l, file("c.json", cfg), file("manifest.json", manifestOf("c.json")))
		}, "c.json"},
		{"truncated", func() []byte { return tarBytes(t, l, c, m)[:1536] }, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			must(t, os.Link(filepath.Join(work, "l.tar"), filepath.Join(dir, "l.tar")))
			writeFile(t, filepath.Join(dir, "l.json"), readFile(t, filepath.Join(work, "l.json")), 0o644)
			hostile := filepath.Join(dir, "hostile.tar")
			writeFile(t, hostile, tc.data(), 0o644)
			rssFile, err := os.CreateTemp("", "rss-") // outside the tree watched
			must(t, err)
			rssFile.Close()
			rss := rssFile.Name()
			defer os.Remove(rss)
			before := treeOf(t, filepath.Dir(dir))
			r := runIn(t, dir, nil, timeCmd, "-f", "%M", "-o", rss, tool("assemble-image"), "-q", "--tag", "x:1", "-o", "out.tar",
				"--from-image", hostile, "l.json")
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			oneLine(t, tc.name, "assemble-image", r.stderr)
			for _, want := range []string{hostile, tc.want} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr %q does not say %q", r.stderr, want)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			if after := treeOf(t, filepath.Dir(dir)); after != before {
				t.Errorf("files changed:\n%s\nwas:\n%s", after, before)
			}
			// GNU time writes "Command exited with non-zero status 1"
			// first, then the kilobytes.
			fields := strings.Fields(string(readFile(t, rss)))
			kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
			must(t, err)
			t.Logf("peak RSS %d MiB: %s", kb>>10, strings.TrimSpace(r.stderr))
			if kb<<10 > limit {
				t.Errorf("peak RSS %d MiB, more than %d MiB", kb>>10, limit>>20)
			}
		})
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}

// treeOf lists the files below dir with their sizes.
func treeOf(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			lines = append(lines, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		}
		return nil
	})
	return strings.Join(lines, "\n")
}

// TestTrailingZerosAreNotDecompressed: a gzip base image whose tar is
// followed by 16 GiB of compressed zeros (16 MiB on disk) is read up to
// the end of its tar only: assemble-image neither spools the zeros to a
// temporary file nor takes the time to decompress them.
func TestTrailingZerosAreNotDecompressed(t *testing.T) {
	work := t.TempDir()
	store := filepath.Join(work, "store")
	p := storePath(store, 0, "small")
	writeFile(t, filepath.Join(p, "bin", "prog"), []byte("#!/bin/sh\n"), 0o555)
	mustRun(t, work, nil, tool("path-to-layer"), "-q", "--store-dir", store, "-o", "l.tar", "--descriptor", "l.json", p)
	l, c, m, _ := baseParts(t)
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(tarBytes(t, l, c, m))
	zw.Close()
	var zeros bytes.Buffer
	zw, _ = gzip.NewWriterLevel(&zeros, gzip.BestCompression)
	zw.Write(make([]byte, 64<<20))
	zw.Close()
	for range 256 { // gzip members in a row read as one stream
		bomb.Write(zeros.Bytes())
	}
	base := filepath.Join(work, "base.tar.gz")
	writeFile(t, base, bomb.Bytes(), 0o644)
	begin := time.Now()
	mustRun(t, work, nil, tool("assemble-image"), "-q", "--tag", "x:1", "-o", "out.tar", "--from-image", base, "l.json")
	if took := time.Since(begin); took > 8*time.Second {
		t.Errorf("took %v: the zeros after the archive were decompressed", took)
	}
}
