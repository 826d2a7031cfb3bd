package reference

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, name, tag string
		ok            bool
	}{
		{"app", "app", "", true},
		{"app:1.0", "app", "1.0", true},
		{"fixture/app:a", "fixture/app", "a", true},
		{"registry.example.com:5000/fixture/app:b", "registry.example.com:5000/fixture/app", "b", true},
		{"localhost:5000/app", "localhost:5000/app", "", true},
		{"localhost/app:x", "localhost/app", "x", true},
		{"a__b/c-d/e.f/g---h:T_1.x-y", "a__b/c-d/e.f/g---h", "T_1.x-y", true},
		{"[::1]:5000/app:1", "[::1]:5000/app", "1", true},
		{"App", "", "", false},
		{"REGISTRY.io/App:1", "", "", false},
		{"app:", "", "", false},
		{"app:.x", "", "", false},
		{"app::1", "", "", false},
		{"app@sha256:aaaa", "", "", false},
		{"-app", "", "", false},
		{"app_", "", "", false},
		{"a..b", "", "", false},
		{"a/", "", "", false},
		{"host:port/app", "", "", false},
		{"", "", "", false},
		{"app:" + string(make([]byte, 129)), "", "", false},
	} {
		r, err := Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (r.Name != tc.name || r.Tag != tc.tag) {
			t.Errorf("Parse(%q) = %q %q, want %q %q", tc.in, r.Name, r.Tag, tc.name, tc.tag)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"app:1", "localhost:5000/a/b:c", "[::1]:1/x", "A/b", "a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err == nil {
			if r2, err := Parse(r.String()); err != nil || r2 != r {
				t.Fatalf("Parse(%q) = %+v, which does not parse back: %v", s, r, err)
			}
		}
	})
}
