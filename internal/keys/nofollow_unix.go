//go:build unix

package keys

import "syscall"

const oNoFollow = syscall.O_NOFOLLOW
