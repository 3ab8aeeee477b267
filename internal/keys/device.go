package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// DeviceSecret is D: 32 random bytes that never leave this machine. It is
// mixed into the inner wrap key so key.enc cannot be opened anywhere else,
// not even by the service.
type DeviceSecret [Size]byte

// String redacts the secret.
func (DeviceSecret) String() string { return redacted }

// GoString redacts the secret.
func (DeviceSecret) GoString() string { return redacted }

// ErrInsecureFile means a key file is a symlink, not a regular file, or
// readable or writable by group or others.
var ErrInsecureFile = errors.New("key file is not private")

// LoadOrCreateDevice reads the device secret at path, creating it (0600,
// its directory 0700) when absent. A file that is a symlink, not regular,
// group/world accessible, or not exactly 32 bytes is refused, never
// repaired: any of those means someone else may have it.
func LoadOrCreateDevice(path string) (DeviceSecret, error) {
	var d DeviceSecret
	data, err := ReadPrivateFile(path, Size+1)
	if err == nil {
		if len(data) != Size {
			return d, fmt.Errorf("device key %s: has %d bytes, want %d", path, len(data), Size)
		}
		copy(d[:], data)
		return d, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return d, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return d, fmt.Errorf("create device key directory: %w", err)
	}
	if _, err := rand.Read(d[:]); err != nil {
		return d, fmt.Errorf("read random device key: %w", err)
	}
	// Write the key to a temporary file and hard-link it into place: the
	// key appears whole or not at all. If two processes race, os.Link
	// fails for the loser, which then reads the winner's complete file
	// instead of overwriting a key already in use or reading it half
	// written (O_CREATE|O_EXCL on the final path allowed the latter).
	f, err := os.CreateTemp(filepath.Dir(path), ".device-key-*.tmp") // mode 0600
	if err != nil {
		return d, fmt.Errorf("create device key: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(d[:]); err != nil {
		f.Close()
		return d, fmt.Errorf("write device key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return d, fmt.Errorf("sync device key: %w", err)
	}
	if err := f.Close(); err != nil {
		return d, fmt.Errorf("close device key: %w", err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateDevice(path)
		}
		return d, fmt.Errorf("create device key: %w", err)
	}
	return d, nil
}

// ReadPrivateFile reads a key file of at most max bytes after checking
// that it is a regular file (not a symlink) with no group or world
// permissions. A missing file gives an error matching fs.ErrNotExist.
func ReadPrivateFile(path string, max int64) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	// Check the opened file again: the path may have been swapped between
	// Lstat and Open.
	fi, err = f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat key file: %w", err)
	}
	if err := checkPrivate(path, fi); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, max))
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	return data, nil
}

func checkPrivate(path string, fi fs.FileInfo) error {
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink", ErrInsecureFile, path)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file", ErrInsecureFile, path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%w: %s has mode %04o; run chmod 600 %s", ErrInsecureFile, path, fi.Mode().Perm(), path)
	}
	return nil
}
