// Command timeit times shell commands for bench/run and appends what it
// measured to a JSON-lines results file, one line per command:
//
//	timeit -runs 5 -warmup 1 -section path-to-layer -bytes N -out results.jsonl \
//	  ID BASELINE 'label' 'command'  ID BASELINE 'label' 'command' ...
//
// BASELINE is the ID of the row a row is compared with in the report, or
// "-" for none.
//
// The commands run interleaved, round after round (A B C, A B C, ...), so
// a machine that gets busier or quieter during a measurement shifts every
// command alike and the ratios between them stay honest. Each run records
// wall time, CPU time (user+system of the command and everything it
// waited for) and peak RSS: the largest maximum resident set size of any
// one process of the command, the figure `/usr/bin/time -f %M` prints.
//
// With -after CMD, CMD runs (untimed) after every run: say, removing what
// the run wrote and `sync`, so that gigabytes of dirty pages left by one
// command are not written back during the next one.
//
// A command that exits non-zero fails the whole measurement, loudly, with
// its stderr: a broken run is never reported.
//
// With -ref ID LABEL, nothing runs: the line records a reference figure
// that is not measured here (a number quoted from an issue): -seconds for
// -bytes.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// Result is one line of the results file.
type Result struct {
	Section string    `json:"section"`
	ID      string    `json:"id"`
	Vs      string    `json:"vs,omitempty"` // the baseline's ID
	Label   string    `json:"label"`
	Command string    `json:"command,omitempty"`
	Bytes   int64     `json:"bytes,omitempty"`
	Wall    []float64 `json:"wall"` // seconds, one per run
	CPU     []float64 `json:"cpu,omitempty"`
	MaxRSS  int64     `json:"maxRSSKiB,omitempty"` // over all runs
	Ref     bool      `json:"ref,omitempty"`
}

func main() {
	runs := flag.Int("runs", 5, "timed runs of each command")
	warmup := flag.Int("warmup", 1, "untimed runs of each command first")
	section := flag.String("section", "", "the table the commands belong to")
	nbytes := flag.Int64("bytes", 0, "bytes each command processes (for MB/s)")
	out := flag.String("out", "", "append the results to `FILE` (JSON lines)")
	ref := flag.Bool("ref", false, "record a reference figure (ID LABEL), with -seconds")
	seconds := flag.Float64("seconds", 0, "with -ref: the reference time")
	after := flag.String("after", "", "run `CMD` (untimed) after every run")
	flag.Parse()
	args := flag.Args()
	if *section == "" || *out == "" {
		fail("usage: timeit -section S -out FILE [-runs N] [-warmup N] [-bytes N] ID BASELINE LABEL COMMAND...")
	}
	var results []Result
	if *ref {
		if len(args) != 2 || *seconds <= 0 {
			fail("-ref takes ID LABEL and -seconds")
		}
		results = append(results, Result{Section: *section, ID: args[0], Label: args[1], Bytes: *nbytes,
			Wall: []float64{*seconds}, Ref: true})
	} else {
		if len(args) == 0 || len(args)%4 != 0 || *runs < 1 {
			fail("want ID BASELINE LABEL COMMAND quadruples and -runs >= 1")
		}
		for i := 0; i < len(args); i += 4 {
			vs := args[i+1]
			if vs == "-" {
				vs = ""
			}
			results = append(results, Result{Section: *section, ID: args[i], Vs: vs, Label: args[i+2], Command: args[i+3], Bytes: *nbytes})
		}
		for round := -*warmup; round < *runs; round++ {
			for i := range results {
				r := &results[i]
				wall, cpu, rss, err := run(r.Command)
				if err != nil {
					fail(fmt.Sprintf("%s: %s: %v", *section, r.Label, err))
				}
				if *after != "" {
					if _, _, _, err := run(*after); err != nil {
						fail(fmt.Sprintf("%s: after %s: %v", *section, r.Label, err))
					}
				}
				if round < 0 {
					continue
				}
				r.Wall = append(r.Wall, wall)
				r.CPU = append(r.CPU, cpu)
				r.MaxRSS = max(r.MaxRSS, rss)
				fmt.Fprintf(os.Stderr, "  %-58s run %d/%d  %7.3f s wall  %7.3f s CPU  %6d KiB\n",
					r.Label, round+1, *runs, wall, cpu, rss)
			}
		}
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fail(err.Error())
	}
	enc := json.NewEncoder(f)
	for _, r := range results {
		if err := enc.Encode(r); err != nil {
			fail(err.Error())
		}
		if !r.Ref {
			w := slices.Clone(r.Wall)
			slices.Sort(w)
			med := (w[(len(w)-1)/2] + w[len(w)/2]) / 2
			fmt.Fprintf(os.Stderr, "%s: %s: median %.3f s [%.3f-%.3f]\n", r.Section, r.Label, med, w[0], w[len(w)-1])
		}
	}
	if err := f.Close(); err != nil {
		fail(err.Error())
	}
}

// run runs command with bash and returns its wall time, CPU time and peak
// RSS in KiB.
func run(command string) (wall, cpu float64, rss int64, err error) {
	cmd := exec.Command("bash", "-o", "pipefail", "-euc", command)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = os.Stdout // commands send what they make elsewhere
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start).Seconds()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v; stderr:\n%s", err, tail(stderr.Bytes()))
		}
		return 0, 0, 0, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(syscall.TimevalToNsec(ru.Utime) + syscall.TimevalToNsec(ru.Stime)).Seconds()
	return wall, cpu, ru.Maxrss, nil
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return b
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "timeit:", msg)
	os.Exit(1)
}
