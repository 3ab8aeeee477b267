package capyd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/capy-oss/capy/internal/keyring"
)

// rotateKEK adds a fresh primary key to the key file (atomically, 0600,
// old keys kept so existing blobs still open) and returns the new keyring.
// Concurrent rotations are serialised with a lock on the file.
func rotateKEK(cfg Config) (*keyring.Keyring, error) {
	if cfg.KEK != "" {
		return nil, envKEKRotateError(cfg.KEK)
	}
	unlock, err := lockFile(cfg.KEKFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &configError{msg: fmt.Sprintf("no KEK file at %s", cfg.KEKFile),
				hints: []string{"capyd creates it on first start; check --data-dir / --kek-file"}}
		}
		return nil, fmt.Errorf("lock KEK file %s: %w", cfg.KEKFile, err)
	}
	defer unlock()
	kr, err := keyring.Load(cfg.KEKFile)
	if err != nil {
		return nil, keyFileError("KEK file", cfg.KEKFile, err)
	}
	next, err := kr.Rotate()
	if err != nil {
		return nil, err
	}
	if err := keyring.Save(cfg.KEKFile, next); err != nil {
		return nil, err
	}
	return next, nil
}

// envKEKRotateError explains how to rotate a keyring given in CAPYD_KEK,
// which capyd cannot rewrite.
func envKEKRotateError(text string) error {
	next := "N"
	if kr, err := keyring.Parse(text); err == nil {
		next = fmt.Sprint(kr.Primary() + 1)
	}
	return &configError{
		msg: "CAPYD_KEK is set, so there is no key file to rotate",
		hints: []string{
			"append a new key with the next id to CAPYD_KEK, keeping the old ones, e.g.:",
			fmt.Sprintf(`  CAPYD_KEK="$CAPYD_KEK;capyd-kek 1 %s $(openssl rand -hex 32)"`, next),
			"then give every replica the same new value and restart them (docs/server.md, \"Rotating the KEK\")",
		},
	}
}

// listKEKs prints the key ids, one a line, the primary marked; never key
// material.
func listKEKs(w io.Writer, kr *keyring.Keyring) {
	for _, id := range kr.IDs() {
		if id == kr.Primary() {
			fmt.Fprintf(w, "%d primary\n", id)
		} else {
			fmt.Fprintf(w, "%d\n", id)
		}
	}
}

// loadKEKsForList reads the keyring without creating anything.
func loadKEKsForList(cfg Config) (*keyring.Keyring, keySource, error) {
	if cfg.KEK != "" {
		kr, err := keyring.Parse(cfg.KEK)
		if err != nil {
			return nil, keySource{env: true}, &configError{msg: "CAPYD_KEK: " + err.Error()}
		}
		return kr, keySource{env: true}, nil
	}
	kr, err := keyring.Load(cfg.KEKFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, keySource{}, &configError{msg: fmt.Sprintf("no KEK file at %s", cfg.KEKFile),
			hints: []string{"capyd creates it on first start; check --data-dir / --kek-file"}}
	}
	if err != nil {
		return nil, keySource{}, keyFileError("KEK file", cfg.KEKFile, err)
	}
	return kr, keySource{path: cfg.KEKFile}, nil
}

// lockFile takes an exclusive advisory lock on path (which must exist)
// and returns its release. A rotation replaces the file by rename, so a
// lock won on a file that is no longer at path is dropped and taken again
// on the current one: whoever holds the lock reads the newest keyring.
func lockFile(path string) (func(), error) {
	for {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		held, err1 := f.Stat()
		current, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, current) {
			return func() { f.Close() }, nil
		}
		f.Close()
		if err2 != nil {
			return nil, err2
		}
	}
}
