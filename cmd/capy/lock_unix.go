//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// tryLockDir takes flock(LOCK_EX) on dir without blocking; errLocked if
// another open file description holds it.
func tryLockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	switch {
	case err == nil:
		return func() { f.Close() }, nil // closing the last descriptor releases the lock
	case errors.Is(err, syscall.EWOULDBLOCK):
		f.Close()
		return nil, errLocked
	default: // no flock here (some network file systems): go on unlocked
		f.Close()
		return func() {}, nil
	}
}
