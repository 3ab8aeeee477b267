//go:build unix

package workspace

import "syscall"

// keyFileNoFollow makes the key-file open refuse a symlink.
const keyFileNoFollow = syscall.O_NOFOLLOW
