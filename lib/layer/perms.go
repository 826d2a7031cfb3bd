package layer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Perm is one permission rule, as nix2container's "perms" holds them: the
// entries at or below Path whose path Regex matches (Go regexp syntax,
// unanchored, as nix2container matches; every entry when absent) get the
// mode, owner and group the rule sets. A path is the entry's absolute
// path in the image, without a trailing slash: "/nix/store/...-hello/bin"
// in a store layer, "/etc/passwd" in a root layer.
//
// Fields a rule does not set (uname and gname: or sets to "") are left as
// they were: the file's mode, the layer's uid, gid, uname and gname. That
// is nix2container's behaviour wherever it has a choice to make (its
// layers are owned by 0, root, so there an absent uid is 0 either way). When several
// rules match an entry they apply in order, so a later one wins.
type Perm struct {
	Path  string `json:"path"`
	Regex string `json:"regex,omitempty"`
	Mode  string `json:"mode,omitempty"`
	Uid   *int64 `json:"uid,omitempty"`
	Gid   *int64 `json:"gid,omitempty"`
	Uname string `json:"uname,omitempty"`
	Gname string `json:"gname,omitempty"`

	re   *regexp.Regexp
	mode int64 // -1: not set
	path string
}

// ReadPerms reads a JSON list of rules and checks each; name is used in
// messages.
func ReadPerms(r io.Reader, name string) ([]Perm, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var perms []Perm
	if err := dec.Decode(&perms); err != nil {
		return nil, fmt.Errorf("%s: not a JSON list of permission rules: %v", name, err)
	}
	if perms == nil {
		return nil, fmt.Errorf("%s: not a JSON list of permission rules: null", name)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: not a JSON list of permission rules: more after the list", name)
	}
	if err := CompilePerms(perms); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return perms, nil
}

// CompilePerms checks the rules and prepares them for matching; a rule
// decoded from JSON must go through it (or ReadPerms) before use.
func CompilePerms(perms []Perm) error {
	for i := range perms {
		if err := perms[i].compile(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

func (p *Perm) compile() error {
	if p.Path == "" || !filepath.IsAbs(p.Path) {
		return fmt.Errorf("path %q: not an absolute path (the rule applies at and below it; \"/\" is everything)", p.Path)
	}
	p.path = filepath.Clean(p.Path)
	p.re = nil
	if p.Regex != "" {
		re, err := regexp.Compile(p.Regex)
		if err != nil {
			return fmt.Errorf("regex %q: %v", p.Regex, err)
		}
		p.re = re
	}
	p.mode = -1
	if p.Mode != "" {
		m, err := strconv.ParseUint(p.Mode, 8, 64)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("mode %q: not an octal mode from 0 to 7777", p.Mode)
		}
		p.mode = int64(m)
	}
	for _, n := range []struct {
		name string
		v    *int64
	}{{"uid", p.Uid}, {"gid", p.Gid}} {
		if n.v != nil && (*n.v < 0 || *n.v > 1<<32-2) {
			return fmt.Errorf("%s %d: not a user or group number", n.name, *n.v)
		}
	}
	return nil
}

func (p *Perm) compiled() bool { return p.path != "" }

// matches says whether the rule applies to the entry at path (absolute,
// no trailing slash).
func (p *Perm) matches(path string) bool {
	if p.path != "/" && path != p.path && !(strings.HasPrefix(path, p.path) && path[len(p.path)] == '/') {
		return false
	}
	return p.re == nil || p.re.MatchString(path)
}

// applyPerms sets the mode and owner that the rules give the entry named
// name (as in the tar: absolute, directories ending in "/").
func applyPerms(perms []Perm, name string, mode, uid, gid *int64, uname, gname *string) {
	path := strings.TrimSuffix(name, "/")
	if path == "" {
		path = "/"
	}
	for i := range perms {
		p := &perms[i]
		if !p.matches(path) {
			continue
		}
		if p.mode >= 0 {
			*mode = p.mode
		}
		if p.Uid != nil {
			*uid = *p.Uid
		}
		if p.Gid != nil {
			*gid = *p.Gid
		}
		if p.Uname != "" {
			*uname = p.Uname
		}
		if p.Gname != "" {
			*gname = p.Gname
		}
	}
}

// errPermsNotCompiled is what writing a layer with rules that did not go
// through CompilePerms returns.
var errPermsNotCompiled = errors.New("permission rules not checked (CompilePerms)")
