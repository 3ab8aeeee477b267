//go:build unix

package privfile

import (
	"errors"
	"os"
	"syscall"
)

func acquire(path string, block bool) (*Lock, error) {
	how := syscall.LOCK_EX
	if !block {
		how |= syscall.LOCK_NB
	}
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), how)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		switch {
		case errors.Is(err, syscall.EWOULDBLOCK):
			f.Close()
			return nil, ErrLocked
		case err != nil:
			f.Close()
			return nil, &lockError{path: path, err: err}
		}
		// Locked; but if path was replaced meanwhile, the lock is on a file
		// nobody else will look for.
		held, err1 := f.Stat()
		current, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, current) {
			return &Lock{f: f}, nil
		}
		f.Close()
		if err2 != nil {
			return nil, err2
		}
		if err1 != nil {
			return nil, err1
		}
	}
}
