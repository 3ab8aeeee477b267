package capyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"

	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/store"
)

// rotateKEK adds a fresh primary key to the key file (atomically, 0600,
// old keys kept so existing blobs still open) and returns the new keyring.
// Concurrent rotations are serialised with a lock on the file
// (privfile.Acquire, which follows the file a rotation renames into place,
// so whoever holds the lock reads the newest keyring).
func rotateKEK(cfg Config) (*kekring.Ring, error) {
	if cfg.KEK != "" {
		return nil, envKEKRotateError(cfg.KEK)
	}
	lock, err := privfile.Acquire(cfg.KEKFile)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &configError{msg: fmt.Sprintf("no KEK file at %s", cfg.KEKFile),
				hints: []string{"capyd creates it on first start; check --data-dir / --kek-file"}}
		}
		return nil, fmt.Errorf("lock KEK file %s: %w", cfg.KEKFile, err)
	}
	defer lock.Release()
	kr, err := kekring.Load(cfg.KEKFile)
	if err != nil {
		return nil, keyFileError("KEK file", cfg.KEKFile, err)
	}
	next, err := kr.Rotate()
	if err != nil {
		return nil, err
	}
	if err := kekring.Save(cfg.KEKFile, next); err != nil {
		return nil, err
	}
	return next, nil
}

// envKEKRotateError explains how to rotate a keyring given in CAPYD_KEK,
// which capyd cannot rewrite.
func envKEKRotateError(text string) error {
	next := "N"
	if kr, err := kekring.Parse(text); err == nil {
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
func listKEKs(w io.Writer, kr *kekring.Ring) {
	for _, id := range kr.IDs() {
		if id == kr.Primary() {
			fmt.Fprintf(w, "%d primary\n", id)
		} else {
			fmt.Fprintf(w, "%d\n", id)
		}
	}
}

// loadKEKsForList reads the keyring without creating anything.
func loadKEKsForList(cfg Config) (*kekring.Ring, keySource, error) {
	if cfg.KEK != "" {
		kr, err := kekring.Parse(cfg.KEK)
		if err != nil {
			return nil, keySource{env: true}, &configError{msg: "CAPYD_KEK: " + err.Error()}
		}
		return kr, keySource{env: true}, nil
	}
	kr, err := kekring.Load(cfg.KEKFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, keySource{}, &configError{msg: fmt.Sprintf("no KEK file at %s", cfg.KEKFile),
			hints: []string{"capyd creates it on first start; check --data-dir / --kek-file"}}
	}
	if err != nil {
		return nil, keySource{}, keyFileError("KEK file", cfg.KEKFile, err)
	}
	return kr, keySource{path: cfg.KEKFile}, nil
}

// parseKEKID reads a KEK id argument.
func parseKEKID(arg string) (uint32, error) {
	id, err := strconv.ParseUint(arg, 10, 32)
	if err != nil || arg != strconv.FormatUint(id, 10) {
		return 0, usageError{fmt.Errorf("%q is not a KEK id (see 'capyd kek list')", arg)}
	}
	return uint32(id), nil
}

// retireKEK removes KEK id from the key file, refusing while the store
// still holds an outer blob under it that may be opened (an invite not yet
// consumed, revoked or expired; a deploy token not revoked or expired),
// and always for the primary. Members' key.enc files are on their
// machines and cannot be counted: note says so. With CAPYD_KEK there is no
// file: after the same checks it says which entry to drop.
func retireKEK(ctx context.Context, cfg Config, id uint32, note io.Writer) (*kekring.Ring, error) {
	var (
		kr  *kekring.Ring
		err error
	)
	if cfg.KEK != "" {
		if kr, err = kekring.Parse(cfg.KEK); err != nil {
			return nil, &configError{msg: "CAPYD_KEK: " + err.Error()}
		}
	} else {
		lock, err := privfile.Acquire(cfg.KEKFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &configError{msg: fmt.Sprintf("no KEK file at %s", cfg.KEKFile),
					hints: []string{"check --data-dir / --kek-file"}}
			}
			return nil, fmt.Errorf("lock KEK file %s: %w", cfg.KEKFile, err)
		}
		defer lock.Release()
		if kr, err = kekring.Load(cfg.KEKFile); err != nil {
			return nil, keyFileError("KEK file", cfg.KEKFile, err)
		}
	}
	src := cfg.KEKFile
	if cfg.KEK != "" {
		src = "CAPYD_KEK"
	}
	switch {
	case !kr.Has(id):
		return nil, &refusal{msg: fmt.Sprintf("there is no KEK %d in %s", id, src), hints: []string{"'capyd kek list' shows the ids"}}
	case id == kr.Primary():
		return nil, &refusal{msg: fmt.Sprintf("KEK %d is the primary: new outer wraps use it", id), hints: []string{
			"rotate first ('capyd kek rotate'), reload every replica (SIGHUP) so new wraps use the new primary,",
			fmt.Sprintf("and retire KEK %d once nothing needs it any more", id),
		}}
	}
	use, err := countOuterBlobs(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for _, u := range use {
		if u.KEKID != id || u.Invites+u.Deploys == 0 {
			continue
		}
		return nil, &refusal{
			msg: fmt.Sprintf("KEK %d still opens %s (%s, %s); retiring it would make them unusable",
				id, count(u.Invites+u.Deploys, "stored outer blob"), count(u.Invites, "invite"), count(u.Deploys, "deploy token")),
			hints: []string{
				fmt.Sprintf("each moves to the primary KEK %d when it is used (a redeem, a deploy decrypt); or revoke it, or wait until it expires", kr.Primary()),
				"then run 'capyd kek retire' again",
			},
		}
	}
	fmt.Fprintf(note, "capyd: no stored invite or deploy token needs KEK %d\n", id)
	fmt.Fprintf(note, "capyd: note: members' key.enc files are on their machines and cannot be counted: one still under KEK %d stops opening (its owner runs 'capy recover'); each moves to the primary at its next unlock, and capyd_outer_unwraps_total{purpose=\"key\",kek=\"%d\"} shows whether any is still used\n", id, id)
	next, err := kr.Without(id)
	if err != nil {
		return nil, err
	}
	if cfg.KEK != "" {
		return nil, &configError{
			msg: "CAPYD_KEK is set, so there is no key file to change",
			hints: []string{
				fmt.Sprintf("remove the entry 'capyd-kek 1 %d …' from CAPYD_KEK, keeping the others,", id),
				"then give every replica the same new value and restart them (docs/server.md, \"Retiring a KEK\")",
			},
		}
	}
	if err := kekring.Save(cfg.KEKFile, next); err != nil {
		return nil, err
	}
	return next, nil
}

// countOuterBlobs opens the store read-only in effect (no migration, no
// write) and counts its outer blobs per KEK.
func countOuterBlobs(ctx context.Context, cfg Config) ([]store.KEKUse, error) {
	st, err := openExisting(ctx, cfg, "retiring a KEK needs the database whose blobs it may still open")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	use, err := st.OuterKeyUse(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, errInterrupted
		}
		return nil, fmt.Errorf("count the stored outer blobs: %w", err)
	}
	return use, nil
}

// count is "1 invite", "2 invites".
func count(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
