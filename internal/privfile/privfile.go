// Package privfile is how capy and capyd read, create, replace and lock
// the files they keep: key files (device.key, key.enc, the CI key file,
// the KEK keyring, the pepper), the other private files of the capy home,
// and every file the CLI rewrites in a checkout. It is the one copy of
// each of these, because the copies drifted: one created a key file in
// place, so a concurrent reader could read it half written; others checked
// a path with Lstat and then opened it, following a symbolic link swapped
// in between.
//
//   - ReadPrivate opens without following a symbolic link, checks the
//     opened file (regular, no group or world permission bit, not larger
//     than the caller's bound) and reads at most that bound.
//   - CreateOnce makes a file appear complete or not at all (temporary
//     file, fsync, link(2)); whoever loses a race to create it reads the
//     winner's file.
//   - WriteAtomic replaces a file so that a reader or a crash sees the old
//     content or the new one, never a mix (temporary file, fsync, rename,
//     fsync of the directory), and never writes through a symbolic link.
//   - SyncDir makes a rename or link in a directory durable.
//   - Acquire, TryAcquire and AcquireWithin take an exclusive advisory lock
//     (flock(2)) on a file or directory.
//
// It imports only the standard library, so that both the client packages
// and the service packages may use it (internal/arch checks).
package privfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrInsecure means a key file is a symbolic link, not a regular file, or
// has a group or world permission bit: someone else may have read it, so
// it is refused, never repaired.
var ErrInsecure = errors.New("key file is not private")

// ErrTooLarge means a file is larger than its reader's bound.
var ErrTooLarge = errors.New("file too large")

// ReadPrivate reads the key file at path, of at most max bytes. The file
// is opened without following a symbolic link at path (and without
// blocking on a FIFO), and what was opened is checked: a regular file,
// with no group or world permission bit, of at most max bytes; a file
// that grows past max while it is read is refused too. A symbolic link,
// a FIFO, a device or a directory, and a file others may read or write,
// give an error matching ErrInsecure whose text says what to do; a larger
// file, one matching ErrTooLarge; a missing file, one matching
// fs.ErrNotExist.
//
// Only the last element of path is protected against links: the
// directories above it are the caller's to check.
func ReadPrivate(path string, max int64) ([]byte, error) {
	// A first look before the open, so that a FIFO or a device is refused
	// without being opened. It decides nothing for security: a file swapped
	// in after it is refused by the open or by the check of the open file.
	if fi, err := os.Lstat(path); err != nil {
		return nil, err
	} else if err := checkPrivate(path, fi); err != nil && !errors.Is(err, errGroupBits) {
		return nil, err
	}
	f, err := OpenNoFollow(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		// A link put there since the look above (it may be gone again by
		// now). Say so rather than show the system's error.
		if fi, lerr := os.Lstat(path); isLinkRefused(err) || lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%w: %s is a symlink, not a regular file", ErrInsecure, path)
		}
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat key file: %w", err)
	}
	if err := checkPrivate(path, fi); err != nil && !(errors.Is(err, errGroupBits) && aclPrivate(f)) {
		return nil, err
	}
	if fi.Size() > max {
		return nil, tooLarge(path, max)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if int64(len(data)) > max { // it grew since the Stat
		return nil, tooLarge(path, max)
	}
	return data, nil
}

// checkPrivate refuses anything but a regular file without group or world
// permission bits. A file whose only such bits are group bits is refused
// with an error that also matches errGroupBits: ReadPrivate then asks its
// access ACL (aclPrivate) before it refuses.
func checkPrivate(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink, not a regular file", ErrInsecure, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrInsecure, path)
	case fi.Mode().Perm()&0o007 == 0 && fi.Mode().Perm()&0o070 != 0:
		return &modeError{fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecure, path, fi.Mode().Perm(), path)}
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecure, path, fi.Mode().Perm(), path)
	}
	return nil
}

// errGroupBits is matched by checkPrivate's refusal of a file whose only
// group or world bits are group bits. On a file with a POSIX access ACL
// those bits are the ACL's mask, not the owning group's permissions: the
// file may still be readable by no one but its owner and this process's
// user. That is how systemd hands a service its credentials
// ($CREDENTIALS_DIRECTORY, LoadCredential=): a file of root's, mode 0400,
// with an ACL entry that lets the service's user read it, which stat
// shows as 0440.
var errGroupBits = errors.New("group permission bits")

type modeError struct{ error }

func (e *modeError) Unwrap() []error { return []error{e.error, errGroupBits} }

func tooLarge(path string, max int64) error {
	return fmt.Errorf("%w: %s is larger than %d bytes, the most read from it", ErrTooLarge, path, max)
}

// OpenNoFollow opens path for reading. Where the system allows it (Unix),
// the open fails on a symbolic link at the last element of path and does
// not block on a FIFO; elsewhere it is os.Open. Either way the caller
// checks what it opened (f.Stat) before it trusts it.
func OpenNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|noFollow, 0)
}
