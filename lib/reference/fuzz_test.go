package reference

import (
	"strconv"
	"strings"
	"testing"

	dref "github.com/distribution/reference"
)

// FuzzParse feeds names: Parse takes exactly what distribution/reference
// takes, without digests, ParseRepoTag that with a tag (what docker load
// takes as a RepoTag), and both keep
// the spelling; Key is docker's normalised form and a fixed point; the
// familiar form and the repositories split name the same image; a refusal
// is one line quoting the input and saying more than "invalid reference
// format". Seeds: the table tests' names, good and bad.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"app", "app:1.0", "docker.io/library/app:latest", "index.docker.io/app", "localhost:5000/a/b:c",
		"[::1]:1/x", "REGISTRY.io/app:1", "host:5000", strings.Repeat("a", 64) + ":1",
		"", "A/b", "a@b", "app:", "app::1", "host:port/app", "-host.io/app", "[::1/app", "a//b",
		strings.Repeat("a", 64), strings.Repeat("a", 248), "app@sha256:" + strings.Repeat("0", 64),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		named, derr := dref.ParseNormalizedNamed(s)
		_, digested := named.(dref.Digested)
		docker := derr == nil && !digested
		r, err := Parse(s)
		if (err == nil) != docker {
			t.Fatalf("Parse(%q): %v; distribution/reference: %v (digest: %v)", s, err, derr, digested)
		}
		_, tagged := named.(dref.NamedTagged)
		if _, rerr := ParseRepoTag(s); (rerr == nil) != (docker && tagged) {
			t.Fatalf("ParseRepoTag(%q): %v; docker load takes it: %v", s, rerr, docker && tagged)
		} else if rerr != nil && err == nil {
			err = rerr // its own message, checked below
		}
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || (s != "" && !strings.Contains(msg, strconv.Quote(s))) {
				t.Fatalf("Parse(%q): error %q is not one line quoting the name", s, msg)
			}
			if strings.Contains(msg, "invalid reference format") {
				t.Fatalf("Parse(%q): error %q does not say what is wrong", s, msg)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("Parse(%q) = %+v, spelt %q", s, r, r.String())
		}
		if want := dref.TagNameOnly(named).String(); r.Key() != want {
			t.Fatalf("Parse(%q).Key() = %q, docker's form is %q", s, r.Key(), want)
		}
		for _, other := range []string{r.Key(), r.Familiar()} {
			o, err := Parse(other)
			if err != nil || o.Key() != r.Key() {
				t.Fatalf("Parse(%q): %q reads back as %+v (key %q), %v; want key %q", s, other, o, o.Key(), err, r.Key())
			}
		}
		if name, tag := SplitRepoTag(s); name != r.Name || tag != r.tag() {
			t.Fatalf("SplitRepoTag(%q) = %q %q, Parse gives %+v", s, name, tag, r)
		}
	})
}
