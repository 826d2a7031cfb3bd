package cmdrun

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{Usagef("bad flag %s", "-x"), 2},
		{fmt.Errorf("wrapped: %w", Usage(errors.New("y"))), 2},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
	if Usage(nil) != nil {
		t.Error("Usage(nil) is not nil")
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb  c\n\n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}

func TestLog(t *testing.T) {
	var b bytes.Buffer
	l := &Log{W: &b}
	l.Printf("a %d", 1)
	l.Printf("b\n")
	(&Log{Quiet: true, W: &b}).Printf("hidden")
	(*Log)(nil).Printf("nil log")
	if b.String() != "a 1\nb\n" {
		t.Errorf("log wrote %q", b.String())
	}
}

// TestExitAndSignals runs this test binary as a small program (see
// TestMain) to watch Exit's and Setup's effects from outside.
func TestExitAndSignals(t *testing.T) {
	run := func(mode string) (int, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CMDRUN_TEST_MODE="+mode)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stderr.String()
	}
	if code, stderr := run("fail"); code != 1 || stderr != "tool: it broke: on two lines\n" {
		t.Errorf("Exit with an error: %d %q", code, stderr)
	}
	if code, stderr := run("usage"); code != 2 || !strings.HasPrefix(stderr, "tool: ") {
		t.Errorf("Exit with a usage error: %d %q", code, stderr)
	}
	if code, stderr := run("ok"); code != 0 || stderr != "" {
		t.Errorf("Exit(nil): %d %q", code, stderr)
	}
	if code, _ := run("sigterm"); code != 143 {
		t.Errorf("SIGTERM: exit %d, want 143", code)
	}
}

func TestMain(m *testing.M) {
	switch os.Getenv("CMDRUN_TEST_MODE") {
	case "fail":
		Exit("tool", errors.New("it broke:\non two lines"))
	case "usage":
		Exit("tool", Usagef("no such flag"))
	case "ok":
		Exit("tool", nil)
	case "sigterm":
		Setup()
		p, _ := os.FindProcess(os.Getpid())
		p.Signal(os.Signal(sigterm))
		select {}
	}
	os.Exit(m.Run())
}

func TestLimitStreamMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, tc := range []struct {
		env  string
		want int64
	}{
		{"", StreamMemoryLimit},
		{"1GiB", 1 << 30}, // the runtime applied it at start; it stays
	} {
		t.Setenv("GOMEMLIMIT", tc.env)
		debug.SetMemoryLimit(tc.want)
		if tc.env == "" {
			debug.SetMemoryLimit(math.MaxInt64)
		}
		LimitStreamMemory()
		if got := debug.SetMemoryLimit(-1); got != tc.want {
			t.Errorf("GOMEMLIMIT=%q: limit %d, want %d", tc.env, got, tc.want)
		}
	}
}
