package atomicfile

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to start writing a range of f to the
// disk, without waiting for it (SYNC_FILE_RANGE_WRITE).
func startWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			syscall.SyncFileRange(int(fd), off, n, 2 /* SYNC_FILE_RANGE_WRITE */)
		})
	}
}
