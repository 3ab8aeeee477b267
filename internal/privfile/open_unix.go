//go:build unix

package privfile

import (
	"errors"
	"syscall"
)

// noFollow makes an open fail on a symbolic link (ELOOP) and not block on
// a FIFO (it is then refused as not a regular file).
const noFollow = syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// isLinkRefused reports whether an open with noFollow failed because the
// path is a symbolic link: ELOOP (EMLINK on FreeBSD and DragonFly).
func isLinkRefused(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}
