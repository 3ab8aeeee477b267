//go:build unix

package capyd

import (
	"os"
	"syscall"
)

// flock blocks until it holds an exclusive lock on f; closing f releases it.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
