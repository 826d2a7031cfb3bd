package nss_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-dockertools/dockertools/lib/nss"
)

// The text of nixpkgs' fakeNss, from testdata/conformance/README.md.
const (
	confPasswd   = "root:x:0:0:root user:/var/empty:/bin/sh\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n"
	confGroup    = "root:x:0:\nnobody:x:65534:\n"
	confNsswitch = "hosts: files dns\n"
)

func files(t *testing.T, spec nss.Spec) map[string]nss.Entry {
	t.Helper()
	es, err := nss.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]nss.Entry{}
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

func TestDefaultIsNixpkgsFakeNss(t *testing.T) {
	es, err := nss.Build(nss.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		mode fs.FileMode
		data string
	}{
		{"etc", fs.ModeDir | 0o755, ""},
		{"var", fs.ModeDir | 0o755, ""},
		{"var/empty", fs.ModeDir | 0o555, ""},
		{"etc/passwd", 0o644, confPasswd},
		{"etc/group", 0o644, confGroup},
		{"etc/nsswitch.conf", 0o644, confNsswitch},
	}
	if len(es) != len(want) {
		t.Fatalf("%d entries, want %d: %v", len(es), len(want), es)
	}
	for i, w := range want {
		if es[i].Name != w.name || es[i].Mode != w.mode || string(es[i].Data) != w.data {
			t.Errorf("entry %d: %s %v %q, want %s %v %q", i, es[i].Name, es[i].Mode, es[i].Data, w.name, w.mode, w.data)
		}
	}
}

func TestExtraLinesAndUsers(t *testing.T) {
	alice, err := nss.ParseUser("alice:1000:100")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := nss.ParseUser("bob:1001:1001:/home/bob:/bin/bash")
	if err != nil {
		t.Fatal(err)
	}
	sys, err := nss.ParseUser("sys:3:0::/sbin/nologin") // home defaulted, joins root's group
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name                       string
		spec                       nss.Spec
		passwd, group, sh, gshadow string
	}{
		{
			name: "extra lines go between root and nobody, verbatim",
			spec: nss.Spec{
				PasswdLines: []string{"www:x:33:33:Web Server,Room 1,,:/var/www:/usr/sbin/nologin", "svc:*:999:100::/:"},
				GroupLines:  []string{"users:x:100:www,svc", "www:x:33:"},
			},
			passwd: "root:x:0:0:root user:/var/empty:/bin/sh\nwww:x:33:33:Web Server,Room 1,,:/var/www:/usr/sbin/nologin\nsvc:*:999:100::/:\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n",
			group:  "root:x:0:\nusers:x:100:www,svc\nwww:x:33:\nnobody:x:65534:\n",
		},
		{
			name: "users after the extra lines; a group unless its gid exists",
			spec: nss.Spec{
				GroupLines: []string{"users:x:100:"},
				Users:      []nss.User{alice, bob, sys},
				Shadow:     true,
			},
			passwd:  "root:x:0:0:root user:/var/empty:/bin/sh\nalice:x:1000:100:alice:/var/empty:/bin/sh\nbob:x:1001:1001:bob:/home/bob:/bin/bash\nsys:x:3:0:sys:/var/empty:/sbin/nologin\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\n",
			group:   "root:x:0:\nusers:x:100:\nbob:x:1001:\nnobody:x:65534:\n",
			sh:      "root:!x:::::::\nalice:!x:::::::\nbob:!x:::::::\nsys:!x:::::::\nnobody:!x:::::::\n",
			gshadow: "root:!::\nusers:!::\nbob:!::\nnobody:!::\n",
		},
		{
			name:    "gshadow keeps the members",
			spec:    nss.Spec{GroupLines: []string{"wheel:x:10:alice,bob"}, Shadow: true},
			passwd:  confPasswd,
			group:   "root:x:0:\nwheel:x:10:alice,bob\nnobody:x:65534:\n",
			sh:      "root:!x:::::::\nnobody:!x:::::::\n",
			gshadow: "root:!::\nwheel:!::alice,bob\nnobody:!::\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := files(t, tc.spec)
			check := func(name, want string) {
				t.Helper()
				e, ok := m[name]
				if want == "" {
					if ok {
						t.Errorf("%s written without --shadow", name)
					}
					return
				}
				if string(e.Data) != want {
					t.Errorf("%s:\n%s\nwant:\n%s", name, e.Data, want)
				}
			}
			check("etc/passwd", tc.passwd)
			check("etc/group", tc.group)
			check("etc/shadow", tc.sh)
			check("etc/gshadow", tc.gshadow)
			check("etc/nsswitch.conf", confNsswitch)
			if tc.sh != "" && (m["etc/shadow"].Mode != 0o600 || m["etc/gshadow"].Mode != 0o600) {
				t.Errorf("shadow modes %v %v, want 0600", m["etc/shadow"].Mode, m["etc/gshadow"].Mode)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	user := func(s string) nss.User {
		u, err := nss.ParseUser(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	for _, tc := range []struct {
		name string
		spec nss.Spec
		want []string // in the message
	}{
		{"passwd line with 6 fields", nss.Spec{PasswdLines: []string{"a:x:1:1::/"}}, []string{`"a:x:1:1::/"`, "6 fields, not 7"}},
		{"passwd line with 8 fields", nss.Spec{PasswdLines: []string{"a:x:1:1:::/bin/sh:"}}, []string{"8 fields, not 7"}},
		{"group line with 3 fields", nss.Spec{GroupLines: []string{"g:x:5"}}, []string{`"g:x:5"`, "3 fields, not 4"}},
		{"uid not a number", nss.Spec{PasswdLines: []string{"a:x:one:1::/:/bin/sh"}}, []string{`"a:x:one:1::/:/bin/sh"`, `uid "one" is not a number`}},
		{"negative uid", nss.Spec{PasswdLines: []string{"a:x:-1:1::/:/bin/sh"}}, []string{`uid "-1"`}},
		{"uid -1 spelled unsigned", nss.Spec{PasswdLines: []string{"a:x:4294967295:1::/:/bin/sh"}}, []string{`uid "4294967295"`}},
		{"gid not a number", nss.Spec{PasswdLines: []string{"a:x:1:g::/:/bin/sh"}}, []string{`gid "g"`}},
		{"group gid not a number", nss.Spec{GroupLines: []string{"g:x:ten:"}}, []string{`"g:x:ten:"`, `gid "ten"`}},
		{"empty name", nss.Spec{PasswdLines: []string{":x:1:1::/:/bin/sh"}}, []string{"empty name"}},
		{"line break", nss.Spec{PasswdLines: []string{"a:x:1:1::/:/bin/sh\nb:x:2:2::/:/bin/sh"}}, []string{"line break"}},
		{"duplicate of root's name", nss.Spec{PasswdLines: []string{"root:x:5:5::/:/bin/sh"}}, []string{`"root:x:5:5::/:/bin/sh"`, `name "root" is taken`}},
		{"duplicate of nobody's uid", nss.Spec{PasswdLines: []string{"nfs:x:65534:65534::/:/bin/sh"}}, []string{`uid 65534 is taken`, "nobody"}},
		{"duplicate between extra lines", nss.Spec{PasswdLines: []string{"a:x:1:1::/:/bin/sh", "b:x:1:1::/:/bin/sh"}}, []string{`"b:x:1:1::/:/bin/sh"`, "uid 1 is taken already by \"a:x:1:1::/:/bin/sh\""}},
		{"duplicate group name", nss.Spec{GroupLines: []string{"nobody:x:5:"}}, []string{`name "nobody" is taken`}},
		{"duplicate gid", nss.Spec{GroupLines: []string{"wheel:x:0:"}}, []string{`gid 0 is taken`}},
		{"user clashing with a line", nss.Spec{PasswdLines: []string{"a:x:1000:1::/:/bin/sh"}, Users: []nss.User{user("b:1000:1000")}}, []string{"user b", "uid 1000 is taken"}},
		{"user's group name taken with another gid", nss.Spec{GroupLines: []string{"b:x:5:"}, Users: []nss.User{user("b:1000:1000")}}, []string{"user b", `name "b" is taken`}},
		{"user twice", nss.Spec{Users: []nss.User{user("b:1000:1000"), user("b:1001:1001")}}, []string{`name "b" is taken`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nss.Build(tc.spec)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message on several lines: %q", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not hold %q", err, w)
				}
			}
		})
	}
}

func TestParseUser(t *testing.T) {
	u, err := nss.ParseUser("app:1000:1000:/srv/app:/bin/bash")
	if err != nil {
		t.Fatal(err)
	}
	if got := u.PasswdLine(); got != "app:x:1000:1000:app:/srv/app:/bin/bash" {
		t.Errorf("passwd line %q", got)
	}
	if got := u.GroupLine(); got != "app:x:1000:" {
		t.Errorf("group line %q", got)
	}
	for _, bad := range []string{"", "app", "app:1", "app:1:1:/:/bin/sh:x", "app:x:1", "app:1:x", "1app:1:1", "a b:1:1", "app:1:1:relative", "app:1:1:/:sh", "app:-5:1", "app:99999999999:1"} {
		if _, err := nss.ParseUser(bad); err == nil {
			t.Errorf("ParseUser(%q) accepted", bad)
		} else if !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseUser(%q): %v does not name it", bad, err)
		}
	}
}

type tarEntry struct {
	hdr  *tar.Header
	data string
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var es []tarEntry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return es
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		es = append(es, tarEntry{h, string(data)})
	}
}

func TestWriteLayer(t *testing.T) {
	es, err := nss.Build(nss.Spec{Shadow: true})
	if err != nil {
		t.Fatal(err)
	}
	old := syscall.Umask(0o077) // the modes must not depend on it
	var buf bytes.Buffer
	res, err := nss.WriteLayer(&buf, es, 1000000000)
	syscall.Umask(old)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != int64(buf.Len()) || buf.Len()%10240 != 0 {
		t.Errorf("size %d, %d bytes", res.Size, buf.Len())
	}
	want := []struct {
		name string
		mode int64
		data string
	}{
		{"/etc/", 0o755, ""},
		{"/etc/group", 0o644, confGroup},
		{"/etc/gshadow", 0o600, "root:!::\nnobody:!::\n"},
		{"/etc/nsswitch.conf", 0o644, confNsswitch},
		{"/etc/passwd", 0o644, confPasswd},
		{"/etc/shadow", 0o600, "root:!x:::::::\nnobody:!x:::::::\n"},
		{"/var/", 0o755, ""},
		{"/var/empty/", 0o555, ""},
	}
	got := readTar(t, buf.Bytes())
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		h := got[i].hdr
		if h.Name != w.name || h.Mode != w.mode || got[i].data != w.data {
			t.Errorf("entry %d: %s %o %q, want %s %o %q", i, h.Name, h.Mode, got[i].data, w.name, w.mode, w.data)
		}
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "root" || h.ModTime.Unix() != 1000000000 {
			t.Errorf("%s: owner %d:%d %s:%s mtime %v", h.Name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
	}
	var again bytes.Buffer
	if _, err := nss.WriteLayer(&again, es, 1000000000); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("two layers of the same files differ")
	}
}

func TestWriteDir(t *testing.T) {
	es, err := nss.Build(nss.Spec{Shadow: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "root")
	if err := nss.WriteDir(dir, es); err != nil {
		t.Fatal(err)
	}
	wantModes := map[string]fs.FileMode{
		"etc": fs.ModeDir | 0o755, "var": fs.ModeDir | 0o755, "var/empty": fs.ModeDir | 0o555,
		"etc/passwd": 0o644, "etc/group": 0o644, "etc/nsswitch.conf": 0o644, "etc/shadow": 0o600, "etc/gshadow": 0o600,
	}
	var found []string
	filepath.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		found = append(found, rel)
		if fi.Mode() != wantModes[rel] {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), wantModes[rel])
		}
		return nil
	})
	if len(found) != len(wantModes) {
		t.Errorf("found %v", found)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/passwd")); string(b) != confPasswd {
		t.Errorf("passwd %q", b)
	}
	// Again: the same files are fine.
	if err := nss.WriteDir(dir, es); err != nil {
		t.Errorf("writing the same files again: %v", err)
	}
	// With other contents present, next to other files of the root.
	os.WriteFile(filepath.Join(dir, "etc/hosts"), []byte("127.0.0.1 localhost\n"), 0o644)
	other, _ := nss.Build(nss.Spec{PasswdLines: []string{"a:x:1:1::/:/bin/sh"}})
	err = nss.WriteDir(dir, other)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "etc/passwd")) || !strings.Contains(err.Error(), "other contents") {
		t.Errorf("overwriting: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/passwd")); string(b) != confPasswd {
		t.Error("passwd was changed")
	}
}

func TestWriteDirRefusesSymlinksAndLeavesNothing(t *testing.T) {
	es, _ := nss.Build(nss.Spec{})
	outside := t.TempDir()
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{"etc is a symlink", func(dir string) { os.Symlink(outside, filepath.Join(dir, "etc")) }, "symlink"},
		{"passwd is a symlink", func(dir string) {
			os.Mkdir(filepath.Join(dir, "etc"), 0o755)
			os.Symlink(filepath.Join(outside, "passwd"), filepath.Join(dir, "etc/passwd"))
		}, "symlink"},
		{"var/empty is not empty", func(dir string) {
			os.MkdirAll(filepath.Join(dir, "var/empty"), 0o755)
			os.WriteFile(filepath.Join(dir, "var/empty/x"), nil, 0o644)
		}, "not empty"},
		{"var is a file", func(dir string) { os.WriteFile(filepath.Join(dir, "var"), nil, 0o644) }, "not a directory"},
		{"group is a directory", func(dir string) { os.MkdirAll(filepath.Join(dir, "etc/group"), 0o755) }, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			before := tree(t, dir)
			err := nss.WriteDir(dir, es)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if after := tree(t, dir); after != before {
				t.Errorf("the directory changed:\n%s\nwas:\n%s", after, before)
			}
			if ents, _ := os.ReadDir(outside); len(ents) != 0 {
				t.Errorf("written outside: %v", ents)
			}
		})
	}
}

func tree(t *testing.T, dir string) string {
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi fs.FileInfo, err error) error {
		b.WriteString(p + " " + fi.Mode().String() + "\n")
		return nil
	})
	return b.String()
}
