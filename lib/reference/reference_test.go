package reference

import (
	"strconv"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("a", 247) // 255 with "library/"
	for _, tc := range []struct {
		in, name, tag string
		key, familiar string
	}{
		{"app", "app", "", "docker.io/library/app:latest", "app:latest"},
		{"app:1.0", "app", "1.0", "docker.io/library/app:1.0", "app:1.0"},
		{"app:latest", "app", "latest", "docker.io/library/app:latest", "app:latest"},
		{"docker.io/app", "docker.io/app", "", "docker.io/library/app:latest", "app:latest"},
		{"docker.io/library/app:latest", "docker.io/library/app", "latest", "docker.io/library/app:latest", "app:latest"},
		{"index.docker.io/library/app", "index.docker.io/library/app", "", "docker.io/library/app:latest", "app:latest"},
		{"library/app:2", "library/app", "2", "docker.io/library/app:2", "app:2"},
		{"fixture/app:a", "fixture/app", "a", "docker.io/fixture/app:a", "fixture/app:a"},
		{"docker.io/fixture/app:a", "docker.io/fixture/app", "a", "docker.io/fixture/app:a", "fixture/app:a"},
		{"registry.example.com:5000/fixture/app:b", "registry.example.com:5000/fixture/app", "b", "registry.example.com:5000/fixture/app:b", "registry.example.com:5000/fixture/app:b"},
		{"localhost:5000/app", "localhost:5000/app", "", "localhost:5000/app:latest", "localhost:5000/app:latest"},
		{"localhost/app:x", "localhost/app", "x", "localhost/app:x", "localhost/app:x"},
		{"localhost", "localhost", "", "docker.io/library/localhost:latest", "localhost:latest"},
		{"host:5000", "host", "5000", "docker.io/library/host:5000", "host:5000"},
		{"REGISTRY.io/app:1", "REGISTRY.io/app", "1", "REGISTRY.io/app:1", "REGISTRY.io/app:1"},
		{"Registry/app", "Registry/app", "", "Registry/app:latest", "Registry/app:latest"},
		{"a__b/c-d/e.f/g---h:T_1.x-y", "a__b/c-d/e.f/g---h", "T_1.x-y", "docker.io/a__b/c-d/e.f/g---h:T_1.x-y", "a__b/c-d/e.f/g---h:T_1.x-y"},
		{"[::1]:5000/app:1", "[::1]:5000/app", "1", "[::1]:5000/app:1", "[::1]:5000/app:1"},
		{"127.0.0.1/app", "127.0.0.1/app", "", "127.0.0.1/app:latest", "127.0.0.1/app:latest"},
		{long, long, "", "docker.io/library/" + long + ":latest", long + ":latest"},
		{strings.Repeat("a", 64) + ":1", strings.Repeat("a", 64), "1", "docker.io/library/" + strings.Repeat("a", 64) + ":1", strings.Repeat("a", 64) + ":1"},
	} {
		r, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if r.Name != tc.name || r.Tag != tc.tag || r.String() != tc.in {
			t.Errorf("Parse(%q) = %q %q (%s), want %q %q", tc.in, r.Name, r.Tag, r, tc.name, tc.tag)
		}
		if r.Key() != tc.key || r.Familiar() != tc.familiar {
			t.Errorf("Parse(%q): key %s, familiar %s; want %s, %s", tc.in, r.Key(), r.Familiar(), tc.key, tc.familiar)
		}
	}
}

// TestParseErrors: every name docker load refuses is refused with one
// line that quotes it and says what is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "empty image name"},
		{"App", `image name "App": repository name must be lowercase`},
		{"REGISTRY.io/App:1", `image name "REGISTRY.io/App:1": repository name must be lowercase`},
		{"Fixture/App:a", "must be lowercase"},
		{"app/Sub", "must be lowercase"},
		{"app:", `image name "app:": invalid tag ""`},
		{"app:.x", `invalid tag ".x"`},
		{"app:-x", `invalid tag "-x"`},
		{"app:" + strings.Repeat("x", 129), "invalid tag"},
		{"app:" + string(make([]byte, 128)), "invalid tag"},
		{"app:ü", "invalid tag"},
		{"app::1", `invalid path component "app:"`},
		{"app@sha256:" + strings.Repeat("0", 64), "a digest cannot name an image"},
		{"app:1@sha256:" + strings.Repeat("0", 64), "a digest cannot name an image"},
		{"app@sha256:00", "a digest cannot name an image"},
		{strings.Repeat("a", 64), "64 hexadecimal digits are an image ID"},
		{"-app", `invalid path component "-app"`},
		{"app_", `invalid path component "app_"`},
		{"a..b", `invalid path component "a..b"`},
		{"a/", `invalid path component ""`},
		{"/a", `invalid path component ""`},
		{"a//b", `invalid path component ""`},
		{"a b", `invalid path component "a b"`},
		{"host:port/app", `invalid registry host "host:port"`},
		{"-host.io/app", `invalid registry host "-host.io"`},
		{"[::1/app", `invalid registry host "[::1"`},
		{"registry.io/", `invalid path component ""`},
		{strings.Repeat("a", 248), "repository path 256 characters long, more than 255"},
		{"localhost/" + strings.Repeat("a", 256), "repository path 256 characters long, more than 255"},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted", tc.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") || strings.Contains(msg, "invalid reference format") ||
			(tc.in != "" && !strings.Contains(msg, strconv.Quote(tc.in))) {
			t.Errorf("Parse(%q): %q, want one line quoting it and saying %q", tc.in, msg, tc.want)
		}
	}
}

// TestParseRepoTag: a RepoTag needs a tag, as docker load requires; the
// rest is Parse's.
func TestParseRepoTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"app:1", ""},
		{"localhost:5000/app:latest", ""},
		{"app", `image name "app": no tag (docker load takes name:tag only)`},
		{"localhost:5000/app", `image name "localhost:5000/app": no tag`},
		{"App:1", `image name "App:1": repository name must be lowercase`},
		{"", "empty image name"},
	} {
		r, err := ParseRepoTag(tc.in)
		if tc.want == "" {
			if err != nil || r.String() != tc.in {
				t.Errorf("ParseRepoTag(%q) = %+v, %v", tc.in, r, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseRepoTag(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestSameName: Key makes the spellings of one name equal and keeps apart
// the names Docker keeps apart.
func TestSameName(t *testing.T) {
	for _, group := range [][]string{
		{"app", "app:latest", "docker.io/app", "docker.io/app:latest", "docker.io/library/app", "docker.io/library/app:latest",
			"index.docker.io/app", "index.docker.io/library/app:latest", "library/app"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost/app"},
		{"registry-1.docker.io/library/app"},
		{"app:1", "docker.io/library/app:1"},
		{"me/app", "docker.io/me/app:latest", "index.docker.io/me/app"},
		{"localhost:5000/library/app"},
	} {
		for _, s := range group {
			if !sameName(t, group[0], s) {
				t.Errorf("%s and %s are not one name", group[0], s)
			}
		}
	}
	for _, pair := range [][2]string{
		{"app", "localhost:5000/app"},
		{"app", "localhost/app"},
		{"app", "app:1"},
		{"app", "me/app"},
		{"app", "registry-1.docker.io/library/app"},
		{"localhost:5000/app", "localhost:5001/app"},
		{"localhost:5000/app", "localhost:5000/library/app"},
	} {
		if sameName(t, pair[0], pair[1]) {
			t.Errorf("%s and %s are one name", pair[0], pair[1])
		}
	}
}

func sameName(t *testing.T, a, b string) bool {
	t.Helper()
	ra, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return ra.Key() == rb.Key()
}

// TestSplitRepoTag: the repositories file's split keeps the name as spelt
// and gives "latest" to a name without a tag; it splits names it cannot
// check the same way.
func TestSplitRepoTag(t *testing.T) {
	for _, tc := range []struct{ in, name, tag string }{
		{"app", "app", "latest"},
		{"app:1.0", "app", "1.0"},
		{"docker.io/library/app:latest", "docker.io/library/app", "latest"},
		{"localhost:5000/app", "localhost:5000/app", "latest"},
		{"localhost:5000/app:2", "localhost:5000/app", "2"},
		{"[::1]:5000/app", "[::1]:5000/app", "latest"},
		{"Fixture/App:a", "Fixture/App", "a"},
		{"", "", "latest"},
	} {
		if name, tag := SplitRepoTag(tc.in); name != tc.name || tag != tc.tag {
			t.Errorf("SplitRepoTag(%q) = %q %q, want %q %q", tc.in, name, tag, tc.name, tc.tag)
		}
	}
}
