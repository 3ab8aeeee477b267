//go:build unix

package workspace

import "syscall"

// openFlags make opening a checkout file fail on a symbolic link and not
// block on a FIFO (it is then refused as not a regular file).
const openFlags = syscall.O_NOFOLLOW | syscall.O_NONBLOCK
