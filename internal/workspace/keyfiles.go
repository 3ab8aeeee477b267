package workspace

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/privfile"
)

// A CI key file (.capy/decrypt) is trusted only if this machine's `capy
// ci` wrote it. The checkout is not the place to record that: a branch can
// carry a .capy/decrypt of its own (and a state.json), and a member who
// checks it out would otherwise run with the attacker's environment. So
// `capy ci` records, in the capy home, a digest of the file it wrote under
// a name derived from the file's absolute path (one small file each: no
// read-modify-write for concurrent runners to race on).

func (h *Home) keyFileRecordPath(abs string) string {
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(h.Dir, "keyfiles", hex.EncodeToString(sum[:16]))
}

// RecordKeyFile notes that this machine's `capy ci` wrote content to the
// key file at path.
func (h *Home) RecordKeyFile(path string, content []byte) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := ensurePrivateDir(filepath.Join(h.Dir, "keyfiles")); err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	return writePrivate(h.keyFileRecordPath(abs), []byte(hex.EncodeToString(sum[:])+"\n"))
}

// KeyFileWritten reports whether this machine's `capy ci` wrote exactly
// content to the key file at path.
func (h *Home) KeyFileWritten(path string, content []byte) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	rec, err := privfile.ReadPrivate(h.keyFileRecordPath(abs), 128)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(content)
	want := []byte(hex.EncodeToString(sum[:]))
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(string(rec))), want) == 1, nil
}

// ErrUntrustedKeyFile means a key file exists that this machine's `capy
// ci` did not write (or that git tracks): it may have come with a branch.
var ErrUntrustedKeyFile = errors.New("the key file was not written by `capy ci` on this machine")

// CheckKeyFile decides whether the checkout's default key file may be
// used: it must be a regular file (no symlink), written by this machine's
// `capy ci` (as recorded in home), and not tracked by git. It returns
// fs.ErrNotExist when there is none, ErrUntrustedKeyFile (with the reason)
// when it must not be used. The file's permissions are checked by the
// reader afterwards: only for a file capy wrote does an error suggest
// changing them.
func (r *Repo) CheckKeyFile(h *Home) error {
	path := r.KeyFilePath()
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symlink", keys.ErrInsecureFile, path)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: .capy/decrypt is not a regular file", ErrUntrustedKeyFile)
	}
	content, err := r.ReadFile(Dir+"/decrypt", MaxKeyFile)
	if err != nil {
		return err
	}
	ok, err := h.KeyFileWritten(path, content)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (it may have come with a branch)", ErrUntrustedKeyFile)
	}
	tracked, err := r.GitTracked(Dir + "/decrypt")
	if err != nil {
		return err
	}
	if len(tracked) > 0 {
		return fmt.Errorf("%w: git tracks .capy/decrypt (the key is in the repository's history: rotate the environment)", ErrUntrustedKeyFile)
	}
	return nil
}
