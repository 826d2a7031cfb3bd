package nss_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/go-dockertools/dockertools/lib/nss"
)

// FuzzBuild feeds --passwd-line, --group-line and --user values: they are
// accepted or refused with a one-line error, never a panic; a --user that
// parses has a name, ids and absolute home and shell, and its passwd line
// is what the spec says; whatever Build accepts makes files whose every
// line has the right number of fields and decimal ids, with no name or id
// twice, root first and nobody last, and shadow files with one locked
// entry per account. Seeds (testdata/fuzz/FuzzBuild): the CLI tests'
// lines, good and bad.
func FuzzBuild(f *testing.F) {
	f.Fuzz(func(t *testing.T, passwdLine, groupLine, user string, shadow bool) {
		oneLine := func(err error) {
			t.Helper()
			if msg := err.Error(); msg == "" || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("error %q is not one line", msg)
			}
		}
		spec := nss.Spec{Shadow: shadow}
		if passwdLine != "" {
			spec.PasswdLines = []string{passwdLine}
		}
		if groupLine != "" {
			spec.GroupLines = []string{groupLine}
		}
		if user != "" {
			u, err := nss.ParseUser(user)
			if err != nil {
				oneLine(err)
			} else {
				checkUser(t, user, u)
				spec.Users = []nss.User{u}
			}
		}
		es, err := nss.Build(spec)
		if err != nil {
			oneLine(err)
			return
		}
		files := map[string]string{}
		for _, e := range es {
			files[e.Name] = string(e.Data)
		}
		passwd := checkFile(t, files["etc/passwd"], 7, nss.RootPasswd, nss.NobodyPasswd)
		group := checkFile(t, files["etc/group"], 4, "root:x:0:", "nobody:x:65534:")
		if want := 2 + len(spec.PasswdLines) + len(spec.Users); len(passwd) != want {
			t.Fatalf("passwd has %d lines, want %d:\n%s", len(passwd), want, files["etc/passwd"])
		}
		for _, u := range spec.Users {
			if !strings.Contains(files["etc/passwd"], "\n"+u.PasswdLine()+"\n") {
				t.Fatalf("passwd lacks %q:\n%s", u.PasswdLine(), files["etc/passwd"])
			}
			found := false
			for _, g := range group {
				id, _ := strconv.ParseUint(g[2], 10, 32)
				found = found || id == uint64(u.GID)
			}
			if !found {
				t.Fatalf("no group has the gid of %q:\n%s", u.PasswdLine(), files["etc/group"])
			}
		}
		if _, ok := files["etc/shadow"]; ok != shadow {
			t.Fatalf("shadow %v, files %v", shadow, len(files))
		}
		if shadow {
			for file, accounts := range map[string][][]string{"etc/shadow": passwd, "etc/gshadow": group} {
				lines := strings.Split(strings.TrimSuffix(files[file], "\n"), "\n")
				if len(lines) != len(accounts) {
					t.Fatalf("%s has %d lines for %d accounts", file, len(lines), len(accounts))
				}
				for i, l := range lines {
					if !strings.HasPrefix(l, accounts[i][0]+":!") {
						t.Fatalf("%s line %q does not lock %s", file, l, accounts[i][0])
					}
				}
			}
		}
	})
}

// checkUser checks what ParseUser accepted.
func checkUser(t *testing.T, spec string, u nss.User) {
	t.Helper()
	if u.Name == "" || strings.ContainsAny(u.Name, ":\n\r/ ") || u.UID == 1<<32-1 || u.GID == 1<<32-1 ||
		!strings.HasPrefix(u.Home, "/") || !strings.HasPrefix(u.Shell, "/") ||
		strings.ContainsAny(u.Home+u.Shell, ":\n\r") {
		t.Fatalf("%q parsed as %+v", spec, u)
	}
	f := strings.Split(spec, ":")
	uid, err1 := strconv.ParseUint(f[1], 10, 32)
	gid, err2 := strconv.ParseUint(f[2], 10, 32)
	if f[0] != u.Name || err1 != nil || err2 != nil || uid != uint64(u.UID) || gid != uint64(u.GID) {
		t.Fatalf("%q parsed as %+v: the ids are not the decimal numbers given", spec, u)
	}
	if got := strings.Split(u.PasswdLine(), ":"); len(got) != 7 {
		t.Fatalf("%q: passwd line %q", spec, u.PasswdLine())
	}
}

// checkFile checks a passwd or group file and returns its lines' fields.
func checkFile(t *testing.T, text string, fields int, first, last string) [][]string {
	t.Helper()
	if !strings.HasSuffix(text, "\n") || strings.Contains(text, "\r") || bytes.Contains([]byte(text), []byte("\n\n")) {
		t.Fatalf("file %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != first || lines[len(lines)-1] != last {
		t.Fatalf("file does not go from %q to %q:\n%s", first, last, text)
	}
	names, ids := map[string]bool{}, map[uint64]bool{}
	var out [][]string
	for _, l := range lines {
		f := strings.Split(l, ":")
		if len(f) != fields || f[0] == "" {
			t.Fatalf("line %q: %d fields", l, len(f))
		}
		id, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil || id == 1<<32-1 {
			t.Fatalf("line %q: id %q", l, f[2])
		}
		if fields == 7 {
			if gid, err := strconv.ParseUint(f[3], 10, 32); err != nil || gid == 1<<32-1 {
				t.Fatalf("line %q: gid %q", l, f[3])
			}
		}
		if names[f[0]] || ids[id] {
			t.Fatalf("line %q: name or id taken twice:\n%s", l, text)
		}
		names[f[0]], ids[id] = true, true
		// (ids compare as numbers: "007" and "7" are the same uid.)
		out = append(out, f)
	}
	return out
}
