package closure

import (
	"os/exec"
	"testing"

	"github.com/go-dockertools/dockertools/lib/testutil"
)

func TestAppendText(t *testing.T) {
	got := string(AppendText(nil, [][]string{{"/s/a"}, {"/s/b", "/s/c"}}))
	if want := "/s/a\n/s/b /s/c\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := AppendText(nil, nil); len(got) != 0 {
		t.Errorf("empty plan: %q", got)
	}
}

func TestAppendJSON(t *testing.T) {
	layers := [][]string{{"/s/a"}, {"/s/b", "/s/\"é\\😀"}}
	want := `[["/s/a"], ["/s/b", "/s/\"\u00e9\\\ud83d\ude00"]]` + "\n"
	if got := string(AppendJSON(nil, layers)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := string(AppendJSON(nil, nil)); got != "[]\n" {
		t.Errorf("empty plan: %q", got)
	}
	if got := string(AppendJSONList(nil, []string{"/s/a", "/s/b"})); got != `["/s/a", "/s/b"]`+"\n" {
		t.Errorf("list: %q", got)
	}
	// The same bytes as Python's json.dumps, when python3 is at hand.
	py := testutil.Need(t, "python3")[0]
	cmd := exec.Command(py, "-c", `import json, sys; print(json.dumps([["/s/a"], ["/s/b", "/s/\"é\\😀\x7f"]]))`)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	layers[1][1] += "\x7f"
	if got := string(AppendJSON(nil, layers)); got != string(out) {
		t.Errorf("got    %s\npython %s", got, out)
	}
}
