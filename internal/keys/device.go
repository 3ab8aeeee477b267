package keys

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/capy-oss/capy/internal/privfile"
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
// readable or writable by group or others (privfile.ErrInsecure, which
// every key file reader returns).
var ErrInsecureFile = privfile.ErrInsecure

// LoadOrCreateDevice reads the device secret at path, creating it (0600,
// its directory 0700) when absent. A file that is a symlink, not regular,
// group/world accessible, or not exactly 32 bytes is refused, never
// repaired: any of those means someone else may have it.
//
// The key appears whole or not at all (privfile.CreateOnce: a temporary
// file hard-linked into place). If two processes race, the loser reads the
// winner's complete file instead of overwriting a key already in use or
// reading it half written (O_CREATE|O_EXCL on the final path allowed the
// latter).
func LoadOrCreateDevice(path string) (DeviceSecret, error) {
	var d DeviceSecret
	data, err := privfile.ReadPrivate(path, Size+1)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return d, fmt.Errorf("create device key directory: %w", err)
		}
		if _, err := rand.Read(d[:]); err != nil {
			return d, fmt.Errorf("read random device key: %w", err)
		}
		data, _, err = privfile.CreateOnce(path, d[:], 0o600, Size+1)
		if err != nil {
			return DeviceSecret{}, fmt.Errorf("create device key: %w", err)
		}
	}
	if errors.Is(err, privfile.ErrTooLarge) {
		return DeviceSecret{}, fmt.Errorf("device key %s: has more than %d bytes, want %d", path, Size, Size)
	}
	if err != nil {
		return DeviceSecret{}, err
	}
	if len(data) != Size {
		return DeviceSecret{}, fmt.Errorf("device key %s: has %d bytes, want %d", path, len(data), Size)
	}
	copy(d[:], data)
	return d, nil
}
