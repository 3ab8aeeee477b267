package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// BeforeLink, when set, runs after CreateOnce's temporary file is complete
// and before it is linked into place. It exists for tests only (a race
// test pauses a creator here while others read the path); production code
// never sets it.
var BeforeLink func(tmp string)

// CreateOnce creates the key file at path holding data, with permission
// mode (which must have no group or world bit), unless a file is already
// there. The file appears at path complete or not at all: data is written
// to a temporary file in the same directory, synced, closed and then
// hard-linked to path, which fails if anything is there; the directory is
// then synced. So a reader never sees a partial file, and of several
// processes racing to create it exactly one wins.
//
// It returns the content of the file at path: data and created = true if
// this call created it; otherwise the existing file's content as
// ReadPrivate(path, max) reads it (with its errors: a symbolic link or a
// file others may read is refused), and created = false. The directory
// must exist. On a file system without hard links the creation fails.
func CreateOnce(path string, data []byte, mode fs.FileMode, max int64) (content []byte, created bool, err error) {
	if mode.Perm()&0o077 != 0 || mode&^fs.ModePerm != 0 {
		return nil, false, fmt.Errorf("create %s: mode %v is not a private file's", path, mode)
	}
	if int64(len(data)) > max {
		return nil, false, fmt.Errorf("create %s: %d bytes, more than its reader's bound (%d)", path, len(data), max)
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := createTemp(dir, base, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("create %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the link, path keeps the file
	if err := writeClose(f, data, mode); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", path, err)
	}
	if BeforeLink != nil {
		BeforeLink(tmp)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) { // someone else's (or a link: refused)
			content, err := ReadPrivate(path, max)
			return content, false, err
		}
		return nil, false, fmt.Errorf("create %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return data, true, err
	}
	return data, true, nil
}

// writeClose writes data to f, syncs it, gives it mode (unless zero) and
// closes it.
func writeClose(f *os.File, data []byte, mode fs.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if err == nil && mode != 0 {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
