// Package reference owns image names: it checks "name[:tag]" the way
// docker load checks RepoTags (the distribution reference grammar: an
// optional registry host with port, lowercase path components joined by
// ".", "_", "__" or dashes, a tag of up to 128 word characters, dots and
// dashes), before any output is written.
package reference

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	domainPart    = regexp.MustCompile(`^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$`)
	ipv6Host      = regexp.MustCompile(`^\[[a-fA-F0-9:]+\]$`)
	port          = regexp.MustCompile(`^[0-9]+$`)
	tagPattern    = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
)

// MaxNameLength is the longest name (without tag) a registry accepts.
const MaxNameLength = 255

// Ref is a parsed image reference.
type Ref struct {
	Name string // with the registry host when given: "localhost:5000/app"
	Tag  string // "" when none was given
}

// String is "name:tag", or the name alone without a tag.
func (r Ref) String() string {
	if r.Tag == "" {
		return r.Name
	}
	return r.Name + ":" + r.Tag
}

// Parse checks s ("name" or "name:tag") and splits it.
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("empty image name")
	}
	if strings.Contains(s, "@") {
		return Ref{}, fmt.Errorf("image name %q: a digest cannot name an image being written", s)
	}
	name, tag := s, ""
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") {
		name, tag = s[:i], s[i+1:]
		if !tagPattern.MatchString(tag) {
			return Ref{}, fmt.Errorf("image name %q: invalid tag %q (letters, digits, _ . -, at most 128, not starting with . or -)", s, tag)
		}
	}
	if len(name) > MaxNameLength {
		return Ref{}, fmt.Errorf("image name %q: longer than %d characters", s, MaxNameLength)
	}
	parts := strings.Split(name, "/")
	path := parts
	if len(parts) > 1 && isDomain(parts[0]) {
		if err := checkDomain(parts[0]); err != nil {
			return Ref{}, fmt.Errorf("image name %q: %w", s, err)
		}
		path = parts[1:]
	}
	for _, p := range path {
		if p != strings.ToLower(p) {
			return Ref{}, fmt.Errorf("image name %q: repository name must be lowercase", s)
		}
		if !pathComponent.MatchString(p) {
			return Ref{}, fmt.Errorf("image name %q: invalid path component %q (lowercase letters and digits, separated by . _ __ or -)", s, p)
		}
	}
	return Ref{Name: name, Tag: tag}, nil
}

// isDomain reports whether the first component names a registry, as
// docker decides: it holds "." or ":", or is "localhost", or has capitals.
func isDomain(c string) bool {
	return strings.ContainsAny(c, ".:") || c == "localhost" || c != strings.ToLower(c)
}

func checkDomain(d string) error {
	host, p := d, ""
	if ipv6Host.MatchString(d) {
		return nil
	}
	if i := strings.LastIndex(d, ":"); i >= 0 && !strings.HasSuffix(d, "]") {
		host, p = d[:i], d[i+1:]
		if !port.MatchString(p) {
			return fmt.Errorf("invalid registry port %q", p)
		}
	}
	if ipv6Host.MatchString(host) {
		return nil
	}
	for _, part := range strings.Split(host, ".") {
		if !domainPart.MatchString(part) {
			return fmt.Errorf("invalid registry host %q", host)
		}
	}
	return nil
}
