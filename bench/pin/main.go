// Command pin keeps files in the page cache while the benchmark runs: it
// maps every regular file under the paths given (read-only, shared,
// populated), prints "pinned N files, M bytes" and waits until it is
// killed or its parent ends.
//
//	pin -shard 0/2 DIR... >ready &
//
// Some machines page out file pages that nothing touched for a while
// (the VMs bench/run was written on run DAMON's proactive reclaim on
// unmapped page cache), so "warm page cache" would not hold between
// two runs of a command that reads gigabytes. Mapped pages are left alone
// there and stay reclaimable under real memory pressure; nothing is
// locked. A process can hold about 65,000 mappings: -shard i/n maps only
// every n-th file (from the i-th), so n processes share a large tree.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	shard := flag.String("shard", "0/1", "map the files `I/N`: every N-th, from the I-th")
	flag.Parse()
	var i, n int
	if _, err := fmt.Sscanf(*shard, "%d/%d", &i, &n); err != nil || n < 1 || i < 0 || i >= n || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: pin [-shard I/N] PATH...")
		os.Exit(2)
	}
	parent := os.Getppid()
	var maps [][]byte
	var files, bytes, k int
	for _, root := range flag.Args() {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			k++
			if (k-1)%n != i {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil // unreadable: nothing to keep
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil || fi.Size() == 0 {
				return nil
			}
			m, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
			if err != nil {
				return fmt.Errorf("%s: mmap: %w", p, err)
			}
			maps = append(maps, m)
			files++
			bytes += len(m)
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "pin:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("pinned %d files, %d bytes\n", files, bytes)
	os.Stdout.Close()
	for os.Getppid() == parent {
		time.Sleep(time.Second)
	}
	_ = maps // held until here
}
