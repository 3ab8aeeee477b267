package envfile

import "github.com/capy-oss/capy/internal/privfile"

// StaleTempAge is how old a leftover temporary file must be before a later
// write of the same path removes it (privfile.StaleTempAge).
const StaleTempAge = privfile.StaleTempAge

// WriteFileAtomic replaces the file at path with data so that a reader (or
// a crash) sees either the old content or the new one, never a mix:
// privfile.WriteAtomic (temporary file in the same directory, fsync,
// rename, fsync of the directory; a symbolic link or anything but a
// regular file at path is refused; leftovers of killed writes of the same
// path are removed). An existing file keeps its mode; a new one is 0600.
func WriteFileAtomic(path string, data []byte) error {
	return privfile.WriteAtomic(path, data, 0o600)
}

// WriteFileAtomicIf is WriteFileAtomic with a last-moment precondition:
// check (if not nil) runs once the temporary file is complete, immediately
// before the rename; an error from it leaves path as it is and is returned
// as it is (privfile.Options.Check).
func WriteFileAtomicIf(path string, data []byte, check func() error) error {
	return privfile.WriteAtomicWith(path, data, privfile.Options{Check: check})
}
