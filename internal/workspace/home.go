// Package workspace is the CLI's local state: the capy home directory
// (~/.capy: device key, credentials, per service key.enc files and audit
// heads seen) and a repository's .capy directory (project.json, state.json and
// the CI key file). Every write is atomic; key files are 0600 in 0700
// directories, and a key file that is a symlink or readable by others is
// refused, never repaired.
package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/privfile"
)

// ErrInsecure means a directory or key file has permissions that let
// others read it.
var ErrInsecure = errors.New("insecure permissions")

// Home is the capy home directory.
type Home struct {
	Dir string
	// DeferAuditHead lets RecordAuditHead return once its fork check is
	// done and leave the write of audit_head.json (an fsync) running
	// while the command goes on. Whoever sets it must call Flush before
	// anything that must not happen after a failed write, and before the
	// process exits.
	DeferAuditHead bool

	mu      sync.Mutex
	pending chan error // the deferred write in flight, if any
}

// Flush waits for a deferred audit_head.json write (see DeferAuditHead)
// and returns its error; with none in flight it returns nil at once.
func (h *Home) Flush() error {
	h.mu.Lock()
	ch := h.pending
	h.pending = nil
	h.mu.Unlock()
	if ch == nil {
		return nil
	}
	return <-ch
}

// OpenHome returns the home directory ($CAPY_HOME, else ~/.capy),
// creating it 0700. An existing directory with group or world access, or
// a symlink, is refused.
func OpenHome() (*Home, error) {
	dir := os.Getenv("CAPY_HOME")
	if dir == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find home directory (set CAPY_HOME): %w", err)
		}
		dir = filepath.Join(h, ".capy")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("capy home: %w", err)
	}
	if err := ensurePrivateDir(abs); err != nil {
		return nil, err
	}
	return &Home{Dir: abs}, nil
}

// ensurePrivateDir creates dir (and parents) 0700, or checks an existing
// one is a real directory without group/world permissions.
func ensurePrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory (a symlink is not accepted)", ErrInsecure, dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o; run chmod 700 %s", ErrInsecure, dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// Device loads or creates this machine's device secret.
func (h *Home) Device() (keys.DeviceSecret, error) {
	return keys.LoadOrCreateDevice(filepath.Join(h.Dir, "device.key"))
}

// writePrivate writes a key file atomically with mode 0600 even when it
// replaces a file with a wider mode (which privfile.ReadPrivate would
// refuse).
func writePrivate(path string, data []byte) error {
	return privfile.WriteAtomicWith(path, data, privfile.Options{Private: true})
}

// readJSON decodes a private JSON file; missing files give fs.ErrNotExist.
func readJSON(path string, max int64, v any) error {
	data, err := privfile.ReadPrivate(path, max)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	data, err := encodeJSON(path, v)
	if err != nil {
		return err
	}
	return writePrivate(path, data)
}

func encodeJSON(path string, v any) ([]byte, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return append(data, '\n'), nil
}
