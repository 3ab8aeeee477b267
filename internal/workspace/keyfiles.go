package workspace

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

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
// used and returns its content, read once: it must be a regular, private
// file (no symlink), written by this machine's `capy ci` (as recorded in
// home), and not tracked by git. It returns an error matching
// fs.ErrNotExist when there is none, and ErrUntrustedKeyFile (with the
// reason) when it must not be used. A permission error (privfile's
// insecure file, with its chmod advice) is returned only for a file capy
// wrote; any other is untrusted first.
func (r *Repo) CheckKeyFile(h *Home) ([]byte, error) {
	path := r.KeyFilePath()
	data, err := r.ReadKeyFile(path) // no link, private, bounded
	if errors.Is(err, privfile.ErrInsecure) {
		// Whether capy wrote the file decides the message: only for its
		// own file may one suggest changing the permissions.
		if d, rerr := r.ReadFile(keyFileRel, MaxKeyFile); rerr == nil {
			if ok, _ := h.KeyFileWritten(path, d); !ok {
				return nil, fmt.Errorf("%w (it may have come with a branch)", ErrUntrustedKeyFile)
			}
		}
		return nil, err
	}
	if errors.Is(err, ErrUnsafePath) {
		return nil, fmt.Errorf("%w: %v", ErrUntrustedKeyFile, err)
	}
	if err != nil {
		return nil, err
	}
	ok, err := h.KeyFileWritten(path, data)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w (it may have come with a branch)", ErrUntrustedKeyFile)
	}
	tracked, err := r.GitTracked(keyFileRel)
	if err != nil {
		return nil, err
	}
	if len(tracked) > 0 {
		return nil, fmt.Errorf("%w: git tracks .capy/decrypt (the key is in the repository's history: rotate the environment)", ErrUntrustedKeyFile)
	}
	// The bytes checked are the bytes used: a second read could see a
	// file swapped in between.
	return data, nil
}
