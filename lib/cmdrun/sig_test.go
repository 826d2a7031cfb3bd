package cmdrun

import "syscall"

var sigterm = syscall.SIGTERM
