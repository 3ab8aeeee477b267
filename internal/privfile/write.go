package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// rename is os.Rename; tests replace it to simulate a failure.
var rename = os.Rename

// syncDir is SyncDir; tests replace it to see which writes sync the
// directory.
var syncDir = SyncDir

// BeforeRename, when set, runs after WriteAtomic's temporary file is
// complete and before it is renamed over the target. It exists for crash
// tests only (the CLI's end-to-end tests kill the process here to prove
// the old file survives); production code never sets it.
var BeforeRename func(tmp string)

// Options say how WriteAtomicWith writes.
type Options struct {
	// Mode is the permission of a file that does not exist yet (zero:
	// 0600), less the umask as for os.OpenFile. A file that exists keeps
	// its own permission bits.
	Mode fs.FileMode
	// Private makes the file 0600 whatever it was before: a key file,
	// which ReadPrivate would refuse with a wider mode. Mode is ignored.
	Private bool
	// Check, if set, runs once the temporary file is complete (written,
	// synced, closed), immediately before the rename. If it returns an
	// error, the temporary file is removed, path is left as it is, and
	// that error is returned as it is. A caller that read path earlier
	// uses it to refuse to replace a file that someone else changed
	// meanwhile; the check and the rename are microseconds apart, but it
	// is not a lock.
	Check func() error
	// NoDirSync skips the fsync of the directory after the rename: the
	// file's data is synced before the rename, so after a crash path
	// holds the old content or the new one, never a mix or a partial
	// file, but the rename itself may be lost (the old content comes
	// back). Only for files where losing the newest update is harmless
	// (the capy home's audit_head.json, docs/decisions.md).
	NoDirSync bool
}

// WriteAtomic replaces the file at path with data (WriteAtomicWith): an
// existing file keeps its permission bits, a new one gets mode.
func WriteAtomic(path string, data []byte, mode fs.FileMode) error {
	return WriteAtomicWith(path, data, Options{Mode: mode})
}

// WriteAtomicWith replaces the file at path with data so that a reader (or
// a crash) sees either the old content or the new one, never a mix:
//
//  1. refuse if path is a symbolic link (the link would be replaced, or
//     with a naive write, its target overwritten) or anything but a
//     regular file;
//  2. create a temporary file in the same directory (so the rename cannot
//     cross file systems), named "." + name + ".tmp-" + digits;
//  3. write data, fsync it, give it its mode (see Options), close it;
//  4. rename it over path;
//  5. fsync the directory, so the rename itself survives a crash (unless
//     opt.NoDirSync).
//
// If any step before the rename fails, the temporary file is removed and
// the original is untouched. An error from step 5 is returned too, but by
// then path already holds data.
//
// A process killed between steps 2 and 4 cannot remove its temporary
// file. After a successful rename, WriteAtomicWith therefore removes such
// leftovers of earlier writes of the same path that are older than
// StaleTempAge: in a repository they would otherwise sit next to .env,
// outside its .gitignore line, until someone commits them. Only the last
// element of path is checked for a link; the file's owner is not
// preserved (the new file belongs to the caller).
func WriteAtomicWith(path string, data []byte, opt Options) (err error) {
	mode := opt.Mode
	if mode == 0 || opt.Private {
		mode = 0o600
	}
	exact := opt.Private // else a new file's mode is left to the umask
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symbolic link; refusing to write through it (replace it with a regular file)", path)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		if !opt.Private {
			mode, exact = fi.Mode().Perm(), true
		}
	case errors.Is(err, fs.ErrNotExist):
	default:
		return err
	}

	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := createTemp(dir, base, mode)
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	chmod := fs.FileMode(0)
	if exact {
		chmod = mode
	}
	if err = writeClose(f, data, chmod); err != nil {
		return err
	}
	if opt.Check != nil {
		if err = opt.Check(); err != nil {
			return err
		}
	}
	if BeforeRename != nil {
		BeforeRename(tmp)
	}
	if err = rename(tmp, path); err != nil {
		return err
	}
	if !opt.NoDirSync {
		err = syncDir(dir)
	}
	removeStaleTemps(dir, base)
	return err
}

// tempPrefix starts the name of every temporary file made for a file
// named base; decimal digits follow it.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// createTemp creates a new temporary file for dir/base with permission
// mode (less the umask), named as os.CreateTemp would name it.
func createTemp(dir, base string, mode fs.FileMode) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, tempPrefix(base)+strconv.FormatUint(uint64(rand.Uint32()), 10))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) && try < 10000 {
			continue
		}
		return f, err
	}
}

// StaleTempAge is how old a leftover temporary file must be before a later
// write of the same path removes it. A younger one may belong to a write
// still in progress in another process (which would then fail its rename);
// a write takes milliseconds, so ten minutes leaves a wide margin.
const StaleTempAge = 10 * time.Minute

// removeStaleTemps removes, best effort, the temporary files earlier writes
// of dir/base left behind: regular files named tempPrefix(base) followed by
// the decimal digits os.CreateTemp puts there, last modified more than
// StaleTempAge ago. Anything else (other names, links, directories, young
// files) stays.
func removeStaleTemps(dir, base string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
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

// SyncDir makes a rename or link in dir durable. Windows cannot open a
// directory for syncing (and its renames are not made durable this way),
// so it does nothing there.
func SyncDir(dir string) error {
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
