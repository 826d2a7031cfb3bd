// Package nss owns the files of nixpkgs' fakeNss: the least an image needs
// for programs that look up users, groups and hosts.
//
//	/etc/passwd         root, the extra lines, one line per User, nobody
//	/etc/group          root, the extra lines, a group per User, nobody
//	/etc/nsswitch.conf  "hosts: files dns"
//	/var/empty          an empty directory, the home of root and nobody
//	/etc/shadow         with Shadow: every passwd user, locked
//	/etc/gshadow        with Shadow: every group, locked
//
// With no extra lines and no users, passwd, group and nsswitch.conf are
// byte-identical to nixpkgs' fakeNss; extra lines go between the root and
// nobody lines verbatim, as fakeNss puts its extraPasswdLines and
// extraGroupLines.
//
// A User NAME:UID:GID[:HOME[:SHELL]] becomes the passwd line
// "NAME:x:UID:GID:NAME:HOME:SHELL" (the name as GECOS, as nobody's line
// has; home /var/empty and shell /bin/sh unless given), after the extra
// lines, and the group line "NAME:x:GID:" unless a group with that GID
// exists already.
//
// Shadow files hold what nixpkgs' shadowSetup writes for root, for every
// account: "NAME:!x:::::::" in /etc/shadow (password locked, no aging) and
// "NAME:!::MEMBERS" in /etc/gshadow (group password locked).
//
// Modes: directories 0755, /var/empty 0555, files 0644, shadow files 0600;
// owner root.
//
// Every line is checked before anything is written: a passwd line has 7
// fields, a group line 4, ids are decimal numbers below 2^32-1, and no user
// name, uid, group name or gid is given twice (root's and nobody's
// included). The error names the offending line.
package nss

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
)

// The lines and file of nixpkgs' fakeNss.
const (
	RootPasswd   = "root:x:0:0:root user:/var/empty:/bin/sh"
	NobodyPasswd = "nobody:x:65534:65534:nobody:/var/empty:/bin/sh"
	RootGroup    = "root:x:0:"
	NobodyGroup  = "nobody:x:65534:"
	Nsswitch     = "hosts: files dns\n"
)

// Defaults for a User's home and shell.
const (
	DefaultHome  = "/var/empty"
	DefaultShell = "/bin/sh"
)

// maxID is the largest valid uid or gid: (uid_t)-1 means "none".
const maxID = 1<<32 - 2

// User is an account to add.
type User struct {
	Name        string
	UID, GID    uint32
	Home, Shell string
}

var userName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,30}\$?$`)

// ParseUser reads NAME:UID:GID[:HOME[:SHELL]].
func ParseUser(s string) (User, error) {
	f := strings.Split(s, ":")
	if len(f) < 3 || len(f) > 5 {
		return User{}, fmt.Errorf("user %q: want NAME:UID:GID[:HOME[:SHELL]]", s)
	}
	u := User{Name: f[0], Home: DefaultHome, Shell: DefaultShell}
	if !userName.MatchString(u.Name) {
		return User{}, fmt.Errorf("user %q: %q is not a user name (letters, digits, _ . -, not starting with a digit, . or -, at most 32)", s, u.Name)
	}
	var err error
	if u.UID, err = parseID(f[1], "uid"); err != nil {
		return User{}, fmt.Errorf("user %q: %w", s, err)
	}
	if u.GID, err = parseID(f[2], "gid"); err != nil {
		return User{}, fmt.Errorf("user %q: %w", s, err)
	}
	if len(f) > 3 && f[3] != "" {
		u.Home = f[3]
	}
	if len(f) > 4 && f[4] != "" {
		u.Shell = f[4]
	}
	for _, p := range []struct{ what, v string }{{"home", u.Home}, {"shell", u.Shell}} {
		if !strings.HasPrefix(p.v, "/") || strings.ContainsAny(p.v, "\n\r") {
			return User{}, fmt.Errorf("user %q: %s %q is not an absolute path", s, p.what, p.v)
		}
	}
	return u, nil
}

// PasswdLine is the user's /etc/passwd line.
func (u User) PasswdLine() string {
	return fmt.Sprintf("%s:x:%d:%d:%s:%s:%s", u.Name, u.UID, u.GID, u.Name, u.Home, u.Shell)
}

// GroupLine is the /etc/group line of the user's own group.
func (u User) GroupLine() string { return fmt.Sprintf("%s:x:%d:", u.Name, u.GID) }

func parseID(s, what string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n > maxID {
		return 0, fmt.Errorf("%s %q is not a number from 0 to %d", what, s, uint64(maxID))
	}
	return uint32(n), nil
}

// Spec is what to write.
type Spec struct {
	PasswdLines []string // extra /etc/passwd lines, without newline
	GroupLines  []string // extra /etc/group lines, without newline
	Users       []User
	Shadow      bool // also /etc/shadow and /etc/gshadow
}

// Entry is a file or directory to create, named relative to the image
// root ("etc/passwd"), in the order to create them.
type Entry struct {
	Name string
	Mode fs.FileMode // permission bits; fs.ModeDir for directories
	Data []byte
}

// IsDir reports whether the entry is a directory.
func (e Entry) IsDir() bool { return e.Mode.IsDir() }

// Build checks spec and returns the entries to create: directories first,
// then files.
func Build(spec Spec) ([]Entry, error) {
	passwd, group, err := lines(spec)
	if err != nil {
		return nil, err
	}
	es := []Entry{
		{Name: "etc", Mode: fs.ModeDir | 0o755},
		{Name: "var", Mode: fs.ModeDir | 0o755},
		{Name: "var/empty", Mode: fs.ModeDir | 0o555},
		{Name: "etc/passwd", Mode: 0o644, Data: join(passwd)},
		{Name: "etc/group", Mode: 0o644, Data: join(group)},
		{Name: "etc/nsswitch.conf", Mode: 0o644, Data: []byte(Nsswitch)},
	}
	if spec.Shadow {
		var shadow, gshadow []string
		for _, l := range passwd {
			shadow = append(shadow, field(l, 0)+":!x:::::::")
		}
		for _, l := range group {
			gshadow = append(gshadow, field(l, 0)+":!::"+field(l, 3))
		}
		es = append(es,
			Entry{Name: "etc/shadow", Mode: 0o600, Data: join(shadow)},
			Entry{Name: "etc/gshadow", Mode: 0o600, Data: join(gshadow)})
	}
	return es, nil
}

func join(lines []string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

func field(line string, i int) string { return strings.Split(line, ":")[i] }

// table tracks the names and ids taken in one file.
type table struct {
	file       string
	names, ids map[string]string // name or id -> the line that took it
	idOf       string            // what the id is called: uid or gid
}

func newTable(file, id string) *table {
	return &table{file: file, names: map[string]string{}, ids: map[string]string{}, idOf: id}
}

func (t *table) add(line, name string, id uint32) error {
	ids := strconv.FormatUint(uint64(id), 10)
	if prev, ok := t.names[name]; ok {
		return fmt.Errorf("%s line %q: name %q is taken already by %q", t.file, line, name, prev)
	}
	if prev, ok := t.ids[ids]; ok {
		return fmt.Errorf("%s line %q: %s %s is taken already by %q", t.file, line, t.idOf, ids, prev)
	}
	t.names[name], t.ids[ids] = line, line
	return nil
}

// lines checks the spec and returns the passwd and group lines in order.
func lines(spec Spec) (passwd, group []string, err error) {
	users := newTable("passwd", "uid")
	groups := newTable("group", "gid")
	// root's and nobody's lines come first in the tables, so a clash
	// names the extra line.
	users.add(RootPasswd, "root", 0)
	users.add(NobodyPasswd, "nobody", 65534)
	groups.add(RootGroup, "root", 0)
	groups.add(NobodyGroup, "nobody", 65534)

	passwd = []string{RootPasswd}
	for _, l := range spec.PasswdLines {
		name, uid, err := checkLine(l, "passwd", 7, "name:password:uid:gid:gecos:home:shell", 2)
		if err != nil {
			return nil, nil, err
		}
		if _, err := parseID(field(l, 3), "gid"); err != nil {
			return nil, nil, fmt.Errorf("passwd line %q: %w", l, err)
		}
		if err := users.add(l, name, uid); err != nil {
			return nil, nil, err
		}
		passwd = append(passwd, l)
	}
	group = []string{RootGroup}
	for _, l := range spec.GroupLines {
		name, gid, err := checkLine(l, "group", 4, "name:password:gid:members", 2)
		if err != nil {
			return nil, nil, err
		}
		if err := groups.add(l, name, gid); err != nil {
			return nil, nil, err
		}
		group = append(group, l)
	}
	for _, u := range spec.Users {
		l := u.PasswdLine()
		if err := users.add(l, u.Name, u.UID); err != nil {
			return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		passwd = append(passwd, l)
		gids := strconv.FormatUint(uint64(u.GID), 10)
		if _, ok := groups.ids[gids]; ok {
			continue // the user joins an existing group
		}
		gl := u.GroupLine()
		if err := groups.add(gl, u.Name, u.GID); err != nil {
			return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		group = append(group, gl)
	}
	return append(passwd, NobodyPasswd), append(group, NobodyGroup), nil
}

// checkLine checks an extra line's shape and returns its name and the id
// in field idField.
func checkLine(l, file string, fields int, shape string, idField int) (string, uint32, error) {
	if strings.ContainsAny(l, "\n\r") {
		return "", 0, fmt.Errorf("%s line %q holds a line break: give one line per --%s-line", file, l, file)
	}
	f := strings.Split(l, ":")
	if len(f) != fields {
		return "", 0, fmt.Errorf("%s line %q has %d fields, not %d (%s)", file, l, len(f), fields, shape)
	}
	if f[0] == "" {
		return "", 0, fmt.Errorf("%s line %q has an empty name", file, l)
	}
	what := "uid"
	if file == "group" {
		what = "gid"
	}
	id, err := parseID(f[idField], what)
	if err != nil {
		return "", 0, fmt.Errorf("%s line %q: %w", file, l, err)
	}
	return f[0], id, nil
}
