package workspace

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/privfile"
)

// CheckoutRecord is what this machine's capy last wrote in one checkout,
// kept in the capy home (not in the checkout, where a branch could bring
// a record to match its own files): the digest of each environment file
// as capy wrote it, and the state a sync was about to record when it
// replaced a file (see Pending).
type CheckoutRecord struct {
	Root  string            `json:"root"`
	Files map[string]string `json:"files"` // file (relative to Root) → hex SHA-256 of what capy wrote
	// Pending holds, per environment id, the state a sync records once
	// its rewrite of the file is in place. It is written before the
	// rename: if the process dies between the rename and the state.json
	// write, the next sync finds the file it wrote (same digest) and
	// adopts this state instead of merging against the old base, which
	// would push stale values back.
	Pending map[string]PendingState `json:"pending,omitempty"`

	home *Home
	path string
}

// PendingState is a state a sync was about to record.
type PendingState struct {
	File   string   `json:"file"`
	SHA256 string   `json:"sha256"`
	State  EnvState `json:"state"`
}

// FileDigest is the hex SHA-256 of a file's bytes, as records keep it.
func FileDigest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Checkout loads the record of the checkout at root (empty if none).
func (h *Home) Checkout(root string) (*CheckoutRecord, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(abs))
	rec := &CheckoutRecord{home: h, path: filepath.Join(h.Dir, "checkouts", hex.EncodeToString(sum[:16])+".json")}
	err = readJSON(rec.path, 1<<20, rec)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if rec.Root != abs {
		// Missing, or (vanishingly unlikely) another root's digest.
		rec.Root, rec.Files, rec.Pending = abs, nil, nil
	}
	if rec.Files == nil {
		rec.Files = map[string]string{}
	}
	if rec.Pending == nil {
		rec.Pending = map[string]PendingState{}
	}
	return rec, nil
}

// Save writes the record (0600 in a 0700 directory), durably: for a
// pending state, which has to outlive a crash.
func (r *CheckoutRecord) Save() error { return r.save(false) }

// SaveLight writes the record without syncing the directory: for an
// update whose loss after a crash costs only a question (a file then looks
// changed and git is asked again), never a check.
func (r *CheckoutRecord) SaveLight() error { return r.save(true) }

func (r *CheckoutRecord) save(noDirSync bool) error {
	if err := ensurePrivateDir(filepath.Dir(r.path)); err != nil {
		return err
	}
	data, err := encodeJSON(r.path, r)
	if err != nil {
		return err
	}
	return privfile.WriteAtomicWith(r.path, data, privfile.Options{Private: true, NoDirSync: noDirSync})
}

// Wrote reports whether data is exactly what capy last wrote to file.
func (r *CheckoutRecord) Wrote(file string, data []byte) bool {
	d, ok := r.Files[filepath.ToSlash(file)]
	return ok && d == FileDigest(data)
}

// ErrGit means git could not say whether it tracks a file (a dubious
// ownership refusal, a damaged index): capy does not guess "untracked".
var ErrGit = errors.New("git could not say which files it tracks")

// GitTracked returns the files among rels (relative to the repository
// root) that git tracks. Without git, or outside a work tree, none; any
// other failure of git is an error (wrapping ErrGit), not "untracked". It
// starts git (a few milliseconds), so callers ask only about files that
// changed since capy wrote them.
func (r *Repo) GitTracked(rels ...string) ([]string, error) {
	if len(rels) == 0 {
		return nil, nil
	}
	if !inGitWorkTree(r.Root) {
		return nil, nil
	}
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Literal pathspecs: a file name with a glob or a ":(…)" magic word
	// names that file, nothing else.
	args := append([]string{"-C", r.Root, "--literal-pathspecs", "ls-files", "-z", "--"}, rels...)
	cmd := exec.CommandContext(ctx, git, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "not a git repository") {
			return nil, nil
		}
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("%w in %s: %v (%s)", ErrGit, r.Root, err, msg)
	}
	var tracked []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			tracked = append(tracked, f)
		}
	}
	return tracked, nil
}

// inGitWorkTree reports whether dir or a parent holds a .git (directory or
// file), or the environment names a repository (GIT_DIR, GIT_WORK_TREE):
// outside one, git tracks nothing and need not be started (a few
// milliseconds saved on every such check).
func inGitWorkTree(dir string) bool {
	if os.Getenv("GIT_DIR") != "" || os.Getenv("GIT_WORK_TREE") != "" {
		return true
	}
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return true
		}
		parent := filepath.Dir(d)
		if parent == d {
			return false
		}
		d = parent
	}
}
