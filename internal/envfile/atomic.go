package envfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// rename is os.Rename; tests replace it to simulate a failure.
var rename = os.Rename

// BeforeRename, when set, runs after the temporary file is complete and
// before it is renamed over the target. It exists for crash tests only
// (the CLI's end-to-end tests kill the process here to prove the old file
// survives); production code never sets it.
var BeforeRename func(tmp string)

// WriteFileAtomic replaces the file at path with data so that a reader (or a
// crash) sees either the old content or the new one, never a mix:
//
//  1. refuse if path is a symbolic link (the link would be replaced, or with
//     a naive write, its target overwritten) or anything but a regular file;
//  2. create a temporary file in the same directory (so the rename cannot
//     cross file systems) with os.CreateTemp, which makes it 0600;
//  3. write data, fsync it, set its mode to the original file's permission
//     bits (0600 for a new file), close it;
//  4. rename it over path;
//  5. fsync the directory, so the rename itself survives a crash.
//
// If any step before the rename fails, the temporary file is removed and the
// original is untouched. An error from step 5 is returned too, but by then
// path already holds data.
//
// A process killed between steps 2 and 4 cannot remove its temporary file.
// After a successful rename, WriteFileAtomic therefore removes such
// leftovers of earlier writes of the same path (see removeStaleTemps): in a
// repository they would otherwise sit next to .env, outside its .gitignore
// line, until someone commits them. Only the last element of path is checked for a
// link; the file's owner is not preserved (the new file belongs to the
// caller).
func WriteFileAtomic(path string, data []byte) error {
	return WriteFileAtomicIf(path, data, nil)
}

// WriteFileAtomicIf is WriteFileAtomic with a last-moment precondition:
// check (if not nil) runs once the temporary file is complete (written,
// synced, closed), immediately before the rename. If it returns an error,
// the temporary file is removed, path is left as it is, and that error is
// returned as it is. A caller that read path earlier uses it to refuse to
// replace a file that someone else changed meanwhile; the check and the
// rename are microseconds apart, but it is not a lock.
func WriteFileAtomicIf(path string, data []byte, check func() error) error {
	return writeFileAtomic(path, data, check, true)
}

// WriteFileAtomicNoDirSync is WriteFileAtomic without step 5: the file's
// data is synced before the rename, so after a crash path holds the old
// content or the new one, never a mix or a partial file, but the rename
// itself may be lost (the old content comes back). It saves one fsync (of
// the directory) per write, and is meant only for files where losing the
// newest update is harmless: workspace's audit_head.json, rewritten on
// every unlock, whose older value is a valid earlier view of the same
// audit chain (docs/decisions.md).
func WriteFileAtomicNoDirSync(path string, data []byte) error {
	return writeFileAtomic(path, data, nil, false)
}

func writeFileAtomic(path string, data []byte, check func() error, durableRename bool) (err error) {
	mode := fs.FileMode(0o600)
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; refusing to write through it (replace it with a regular file)", path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	case errors.Is(err, fs.ErrNotExist):
	default:
		return err
	}

	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = f.Close()
			}
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Chmod(mode); err != nil {
		return err
	}
	closed = true
	if err = f.Close(); err != nil {
		return err
	}
	if check != nil {
		if err = check(); err != nil {
			return err
		}
	}
	if BeforeRename != nil {
		BeforeRename(tmp)
	}
	if err = rename(tmp, path); err != nil {
		return err
	}
	if durableRename {
		err = syncDir(dir)
	}
	removeStaleTemps(dir, filepath.Base(path))
	return err
}

// StaleTempAge is how old a leftover temporary file must be before a later
// write of the same path removes it. A younger one may belong to a write
// still in progress in another process (which would then fail its rename);
// a write takes milliseconds, so ten minutes leaves a wide margin.
const StaleTempAge = 10 * time.Minute

// removeStaleTemps removes, best effort, the temporary files earlier writes
// of dir/base left behind: regular files named "."+base+".tmp-" followed by
// the decimal digits os.CreateTemp puts there, last modified more than
// StaleTempAge ago. Anything else (other names, links, directories, young
// files) stays.
func removeStaleTemps(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + base + ".tmp-"
	for _, e := range ents {
		digits, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) <= StaleTempAge {
			continue
		}
		_ = os.Remove(filepath.Join(dir, e.Name()))
	}
}

// syncDir is fsyncDir; tests replace it to see which writes sync the
// directory.
var syncDir = fsyncDir

// fsyncDir makes a rename in dir durable. Windows cannot open a directory
// for syncing (and its renames are not made durable this way), so it is
// skipped there.
func fsyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return d.Close()
}
