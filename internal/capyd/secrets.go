package capyd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/store"
)

// PepperSize is the size of a pepper capyd generates.
const PepperSize = 32

// keySource says where the keyring came from, for logs: "env" or the file.
type keySource struct {
	env  bool
	path string
}

func (k keySource) String() string {
	if k.env {
		return "env CAPYD_KEK"
	}
	return k.path
}

// loadKeyring returns the KEKs: from CAPYD_KEK when set, otherwise from the
// key file, created (0600, one fresh key) when it does not exist. A file
// readable by group or others, or a symlink, is refused.
func loadKeyring(cfg Config, log *slog.Logger) (*kekring.Ring, keySource, error) {
	if cfg.KEK != "" {
		kr, err := kekring.Parse(cfg.KEK)
		if err != nil {
			return nil, keySource{env: true}, &configError{msg: "CAPYD_KEK: " + err.Error()}
		}
		if _, err := os.Lstat(cfg.KEKFile); err == nil && log != nil {
			log.Warn("CAPYD_KEK is set; the key file is ignored", "kek_file", cfg.KEKFile)
		}
		return kr, keySource{env: true}, nil
	}
	_, statErr := os.Lstat(cfg.KEKFile)
	kr, err := kekring.LoadOrCreate(cfg.KEKFile)
	if err != nil {
		return nil, keySource{path: cfg.KEKFile}, keyFileError("KEK file", cfg.KEKFile, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) && log != nil {
		log.Warn("created a new KEK file: back it up (with the pepper and the database); without it every stored key blob is unopenable",
			"kek_file", cfg.KEKFile, "kek_id", kr.Primary())
	}
	return kr, keySource{path: cfg.KEKFile}, nil
}

// keyFileError turns a key file problem into a message with what to do.
func keyFileError(what, path string, err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, privfile.ErrInsecure):
		return &configError{msg: fmt.Sprintf("%s %s: %v", what, path, unwrapMsg(err)),
			hints: []string{fmt.Sprintf("a key file must be a regular file readable by its owner only: chmod 600 %s", path),
				"if someone else could read it, treat the key as leaked (docs/server.md, \"Keys\")"}}
	case errors.As(err, &pe):
		return fmt.Errorf("%s %s: %v", what, path, pe.Err)
	default:
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
}

func unwrapMsg(err error) string {
	return strings.TrimPrefix(err.Error(), privfile.ErrInsecure.Error()+": ")
}

// maxPepperFile bounds the pepper file (64 hex digits and a newline when
// capyd wrote it).
const maxPepperFile = 4096

// loadPepper returns the login-code HMAC key: CAPYD_PEPPER (hex) when set,
// otherwise the pepper file (hex), created 0600 with PepperSize random
// bytes when it does not exist.
func loadPepper(cfg Config, log *slog.Logger) ([]byte, error) {
	if cfg.Pepper != "" {
		p, err := decodePepper(cfg.Pepper)
		if err != nil {
			return nil, &configError{msg: "CAPYD_PEPPER: " + err.Error(),
				hints: []string{"generate one with: openssl rand -hex 32"}}
		}
		return p, nil
	}
	p, created, err := loadOrCreatePepper(cfg.PepperFile)
	if err != nil {
		return nil, keyFileError("pepper file", cfg.PepperFile, err)
	}
	if created && log != nil {
		log.Info("created a new pepper file (login-code HMAC key)", "pepper_file", cfg.PepperFile)
	}
	return p, nil
}

func decodePepper(text string) ([]byte, error) {
	p, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return nil, errors.New("not hex")
	}
	if len(p) < store.MinCodePepperLen {
		return nil, fmt.Errorf("%d bytes; at least %d are needed", len(p), store.MinCodePepperLen)
	}
	return p, nil
}

// loadOrCreatePepper reads the pepper file, creating it when it is
// missing (privfile.CreateOnce): it appears complete or not at all, so a
// replica sharing the directory either wins or reads the winner's file.
func loadOrCreatePepper(path string) (pepper []byte, created bool, err error) {
	p, err := readPepperFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return p, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	raw := make([]byte, PepperSize)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	data, created, err := privfile.CreateOnce(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600, maxPepperFile)
	if err != nil {
		return nil, false, err
	}
	if created {
		return raw, true, nil
	}
	p, err = parsePepperFile(data)
	return p, false, err
}

// readPepperFile reads the pepper file: a regular file (not a symlink)
// with no group or world permission bit (privfile.ReadPrivate).
func readPepperFile(path string) ([]byte, error) {
	data, err := privfile.ReadPrivate(path, maxPepperFile)
	if err != nil {
		return nil, err
	}
	return parsePepperFile(data)
}

func parsePepperFile(data []byte) ([]byte, error) {
	p, err := decodePepper(string(data))
	if err != nil {
		return nil, fmt.Errorf("malformed: %w", err)
	}
	return p, nil
}

// ensureDataDir creates the data directory (0700) if it is missing and
// warns when an existing one is open to others.
func ensureDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		if log != nil {
			log.Info("created data directory", "data_dir", dir)
		}
		return nil
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	case !fi.IsDir():
		return &configError{msg: fmt.Sprintf("--data-dir %s is not a directory", dir)}
	}
	if fi.Mode().Perm()&0o077 != 0 && log != nil {
		log.Warn("data directory is open to other users; chmod 700 it", "data_dir", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return nil
}

// inside reports whether path lies in dir (lexically).
func inside(dir, path string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
