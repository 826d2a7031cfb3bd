// Package reference owns image names: every tool parses, checks, compares
// and displays them here, with github.com/distribution/reference (what
// Docker and containerd use) as the judge, so a name is valid exactly when
// docker load would take it as a RepoTag.
//
// A name is spelt in several ways that Docker takes as one: "app",
// "app:latest", "docker.io/app" and "docker.io/library/app:latest" (and
// "index.docker.io/library/app") all name the image Docker lists as
// app:latest; "localhost:5000/app" is another image. Ref keeps the
// spelling the user gave, which is what archives record (RepoTags and the
// repositories file hold names as given, byte for byte); Key is the
// normalised form to compare by, Familiar the short form to show.
package reference

import (
	"fmt"
	"regexp"
	"strings"

	dref "github.com/distribution/reference"
)

// DefaultTag is the tag of a name given without one.
const DefaultTag = "latest"

// MaxPathLength is the longest repository path (the name without its
// registry host, "library/" included for Docker Hub's official images)
// a registry and docker load accept.
const MaxPathLength = dref.RepositoryNameTotalLengthMax

// Ref is a checked image name with an optional tag, spelt as given.
type Ref struct {
	Name string // with the registry host when given: "localhost:5000/app"
	Tag  string // "" when none was given
}

// String is "name:tag", or the name alone without a tag: the spelling
// given to Parse.
func (r Ref) String() string {
	if r.Tag == "" {
		return r.Name
	}
	return r.Name + ":" + r.Tag
}

// Key is the normalised form Docker resolves the name to, with its
// registry and the default tag: "app" and "docker.io/library/app:latest"
// have the key "docker.io/library/app:latest". Two names are the same
// image name when their keys are equal.
func (r Ref) Key() string {
	name := r.Name
	if n, ok := r.normalized(); ok {
		name = n.Name()
	}
	return name + ":" + r.tag()
}

// Familiar is the short form Docker shows (docker images): the name
// without "docker.io/library/" and with its tag, "app:latest" for any
// spelling of that name.
func (r Ref) Familiar() string {
	name := r.Name
	if n, ok := r.normalized(); ok {
		name = dref.FamiliarName(n)
	}
	return name + ":" + r.tag()
}

// normalized is distribution/reference's reading of r. The whole
// reference is parsed, not the name alone, as a name of 64 hex digits is
// refused without a tag (it reads as an image ID) and taken with one.
func (r Ref) normalized() (dref.Named, bool) {
	n, err := dref.ParseNormalizedNamed(r.String())
	return n, err == nil
}

func (r Ref) tag() string {
	if r.Tag == "" {
		return DefaultTag
	}
	return r.Tag
}

// Parse checks s, a name being written into an archive or looked up in
// one ("name" or "name:tag", no digest), as docker load checks RepoTags,
// and splits it. An error is one line naming s and what is wrong.
func Parse(s string) (Ref, error) {
	named, err := dref.ParseNormalizedNamed(s)
	if err == nil {
		if _, digested := named.(dref.Digested); !digested {
			name, tag := split(s)
			return Ref{Name: name, Tag: tag}, nil
		}
	}
	return Ref{}, explain(s, err)
}

// ParseRepoTag checks s as a RepoTag of an archive being written: Parse's
// rules, and a tag, which docker load requires there ("invalid tag" for a
// name alone).
func ParseRepoTag(s string) (Ref, error) {
	r, err := Parse(s)
	if err == nil && r.Tag == "" {
		return Ref{}, fmt.Errorf("image name %q: no tag (docker load takes name:tag only)", s)
	}
	return r, err
}

// SplitRepoTag splits a RepoTag as the docker-archive repositories file
// records it: "localhost:5000/app:1" into "localhost:5000/app" and "1",
// "app" into "app" and "latest". The name is kept as spelt. It does not
// check s (an archive being copied may hold names docker load refuses).
func SplitRepoTag(s string) (name, tag string) {
	name, tag = split(s)
	if tag == "" {
		tag = DefaultTag
	}
	return name, tag
}

// split cuts s at the colon before its tag: the last one with no "/"
// after it (a colon followed by "/" is a registry port's).
func split(s string) (name, tag string) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Contains(s[i+1:], "/") {
		return s, ""
	}
	return s[:i], s[i+1:]
}

var (
	anchoredTag    = regexp.MustCompile(`^(?:` + dref.TagRegexp.String() + `)$`)
	anchoredDomain = regexp.MustCompile(`^(?:` + dref.DomainRegexp.String() + `)$`)
	pathComponent  = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	imageID        = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// explain says why distribution/reference refused s (its own errors say
// "invalid reference format" for most faults, without the input).
func explain(s string, refused error) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("image name %q: %s", s, fmt.Sprintf(format, a...))
	}
	switch {
	case s == "":
		return fmt.Errorf("empty image name")
	case strings.Contains(s, "@"):
		return bad("a digest cannot name an image in an archive (name[:tag] only)")
	case imageID.MatchString(s):
		return bad("64 hexadecimal digits are an image ID, not a name")
	}
	name, tag := split(s)
	if name != s && !anchoredTag.MatchString(tag) {
		return bad("invalid tag %q (letters, digits, _ . -, at most 128, not starting with . or -)", tag)
	}
	domain, path := "", name
	if first, rest, ok := strings.Cut(name, "/"); ok && isDomain(first) {
		domain, path = first, rest
		if !anchoredDomain.MatchString(domain) {
			return bad("invalid registry host %q (a host name or IP address, then :port if any)", domain)
		}
	}
	for _, c := range strings.Split(path, "/") {
		if c != strings.ToLower(c) {
			return bad("repository name must be lowercase")
		}
		if !pathComponent.MatchString(c) {
			return bad("invalid path component %q (lowercase letters and digits, separated by . _ __ or -)", c)
		}
	}
	if (domain == "" || domain == "docker.io" || domain == "index.docker.io") && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	if len(path) > MaxPathLength {
		return bad("repository path %d characters long, more than %d", len(path), MaxPathLength)
	}
	return bad("%v", refused)
}

// isDomain reports whether the first component of a name is a registry,
// as Docker decides: it holds "." or ":", is "localhost", or has capitals.
func isDomain(c string) bool {
	return strings.ContainsAny(c, ".:") || c == "localhost" || c != strings.ToLower(c)
}
