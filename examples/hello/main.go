// Command hello is the toolkit's example program, and the one the
// end-to-end tests put into images: a static binary that reports what the
// container gives it (so the tests can check Entrypoint, Cmd, Env, User and
// WorkingDir) and reads a file of the data store path its own store path
// references.
//
//	hello greet         the greeting from the data path
//	hello id            uid and gid
//	hello pwd           the working directory
//	hello env NAME...   NAME=value for each variable
//	hello stat PATH...  the octal mode of each path
//	hello ls PATH...    uid, gid, octal mode (setuid, setgid and sticky
//	                    bits too) and name of each path, not following
//	                    symlinks: what ls -ln shows, for images without ls
//	hello args ...      its arguments, one per line
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Println("usage: hello greet|id|pwd|env|stat|ls|args")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "greet":
		exe, err := os.Executable()
		check(err)
		ref, err := os.ReadFile(filepath.Join(filepath.Dir(exe), "..", "share", "data-path"))
		check(err)
		g, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(ref)), "greeting"))
		check(err)
		fmt.Print(string(g))
	case "id":
		fmt.Printf("uid=%d gid=%d\n", os.Getuid(), os.Getgid())
	case "pwd":
		wd, err := os.Getwd()
		check(err)
		fmt.Println(wd)
	case "env":
		for _, n := range os.Args[2:] {
			fmt.Printf("%s=%s\n", n, os.Getenv(n))
		}
		fmt.Printf("count=%d\n", len(os.Environ()))
	case "stat":
		for _, p := range os.Args[2:] {
			fi, err := os.Lstat(p)
			check(err)
			fmt.Printf("%s %o\n", p, fi.Mode().Perm())
		}
	case "ls":
		for _, p := range os.Args[2:] {
			var st syscall.Stat_t
			check(syscall.Lstat(p, &st))
			fmt.Printf("%d %d %o %s\n", st.Uid, st.Gid, st.Mode&0o7777, p)
		}
	case "args":
		for _, a := range os.Args[2:] {
			fmt.Println(a)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
