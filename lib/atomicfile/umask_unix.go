//go:build unix

package atomicfile

import (
	"os"
	"syscall"
)

// umaskVal is the process umask, read once at start-up (before any other
// goroutine can create files), so committed files get the mode a plain
// create would have given them: temporary files are created 0600.
var umaskVal = func() os.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return os.FileMode(m)
}()

func umask() os.FileMode { return umaskVal }
