package privfile

import (
	"errors"
	"os"
	"time"
)

// ErrLocked means TryAcquire (or AcquireWithin, after its wait) found the
// lock held through another open file description: another process, or
// another Lock of this one.
var ErrLocked = errors.New("locked by another process")

// Lock is an exclusive advisory lock (flock(2)) on a file or directory,
// held through an open file description: Release, closing it, or the end
// of the process, however it ends, lets it go. Where the system has no
// such locks (Windows, Plan 9), a Lock excludes nothing.
type Lock struct {
	f *os.File
}

// Release lets the lock go. It may be called more than once.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		_ = l.f.Close() // closing the last descriptor releases the lock
		l.f = nil
	}
}

// Acquire takes an exclusive lock on the file or directory at path, which
// must exist, waiting as long as another holds it. The lock is on the file
// that is at path when Acquire returns: if path was replaced (renamed
// over) while it waited, it drops the lock on the old file and takes one
// on the new, so that whoever replaces a file under the lock and whoever
// waits for it agree on one lock. An error matching errors.ErrUnsupported
// means the file system would not lock it (some network file systems).
func Acquire(path string) (*Lock, error) { return acquire(path, true) }

// TryAcquire is Acquire without the wait: ErrLocked if the lock is held.
func TryAcquire(path string) (*Lock, error) { return acquire(path, false) }

// AcquireWithin is Acquire with a bound: it polls TryAcquire while another
// holds the lock, calling waiting (if not nil) once when it starts to
// wait, and after wait gives up with ErrLocked.
func AcquireWithin(path string, wait time.Duration, waiting func()) (*Lock, error) {
	deadline := time.Now().Add(wait)
	told := false
	for {
		l, err := TryAcquire(path)
		if !errors.Is(err, ErrLocked) {
			return l, err
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// lockError is a lock the file system refused: it matches
// errors.ErrUnsupported and wraps the system's error.
type lockError struct {
	path string
	err  error
}

func (e *lockError) Error() string        { return "lock " + e.path + ": " + e.err.Error() }
func (e *lockError) Unwrap() error        { return e.err }
func (e *lockError) Is(target error) bool { return target == errors.ErrUnsupported }
