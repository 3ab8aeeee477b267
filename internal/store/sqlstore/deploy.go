package sqlstore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const deployCols = `d.id, d.org_id, d.project_id, d.env_id, d.name, d.epoch, d.minted_by, du.email, d.created_at, d.expires_at, d.revoked_at, COALESCE(d.revoked_reason, ''), d.last_used_at`
const deployFrom = ` FROM deploys d JOIN users du ON du.id = d.minted_by`

func deployDest(d *store.Deploy, t *[4]Time) []any {
	return []any{&d.ID, &d.OrgID, &d.ProjectID, &d.EnvID, &d.Name, &d.Epoch, &d.MintedBy, &d.MintedByEmail, &t[0], &t[1], &t[2], &d.RevokedReason, &t[3]}
}

func deployTimes(d *store.Deploy, t *[4]Time) {
	d.CreatedAt, d.ExpiresAt, d.RevokedAt, d.LastUsedAt = t[0].T, t[1].T, t[2].T, t[3].T
}

func scanDeploy(r Row) (store.Deploy, error) {
	var (
		d store.Deploy
		t [4]Time
	)
	err := r.Scan(deployDest(&d, &t)...)
	deployTimes(&d, &t)
	return d, err
}

func (s *Store) deploy(ctx context.Context, tx Tx, id, lock string) (store.Deploy, error) {
	return scanDeploy(tx.QueryRow(ctx, `SELECT `+deployCols+deployFrom+` WHERE d.id = $1`+lock, id))
}

// openStored runs open (if any) on a stored outer blob inside tx and, when
// it hands back a re-wrap under the newest KEK, stores that with update
// ($1 = id, $2 = the new blob). open's error is returned as it is.
func (s *Store) openStored(ctx context.Context, tx Tx, open store.OpenFunc, update, id, orgID string, blob []byte) error {
	if open == nil {
		return nil
	}
	re, err := open(orgID, blob)
	if err != nil {
		return err
	}
	if len(re) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, update, id, re)
	return err
}

// dummyVerifier is what a deploy decrypt for an unknown token is compared
// against, so that unknown ids and wrong keys cost the same.
var dummyVerifier = sha256.Sum256([]byte("capyd: no such deploy token"))

// CreateDeploy implements store.Store.
func (s *Store) CreateDeploy(ctx context.Context, tok store.TokenHash, nd store.NewDeploy) (store.Deploy, store.AuditHead, error) {
	if err := checkID(ident.Deploy, nd.ID); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	if err := checkID(ident.Org, nd.OrgID); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	if err := checkID(ident.Env, nd.EnvID); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	if err := checkText("deploy name", nd.Name, maxLabelLen, true); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	if nd.Epoch < 1 {
		return store.Deploy{}, store.AuditHead{}, invalid("epochs start at 1")
	}
	if len(nd.Verifier) != sha256.Size {
		return store.Deploy{}, store.AuditHead{}, invalid("deploy verifier must be a %d-byte SHA-256", sha256.Size)
	}
	if len(nd.Blob) == 0 {
		return store.Deploy{}, store.AuditHead{}, invalid("empty deploy blob")
	}
	var (
		d  store.Deploy
		hd store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		actor, err := s.activeMember(ctx, tx, nd.OrgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		if !nd.ExpiresAt.IsZero() && !now.Before(nd.ExpiresAt) {
			return invalid("deploy expiry is not in the future")
		}
		// Shared lock: a concurrent rotation waits, so a token is never
		// minted for an epoch that is being retired.
		e, err := s.env(ctx, tx, nd.EnvID, s.forShare("environments"))
		if err != nil {
			return err
		}
		if e.OrgID != nd.OrgID {
			return store.ErrNotFound
		}
		if nd.Epoch != e.Epoch {
			return &store.ConflictError{Reason: store.ConflictEpoch, Epoch: e.Epoch, HeadVersion: e.HeadVersion, HeadID: e.HeadID}
		}
		var n int64
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM deploys
			WHERE env_id = $1 AND revoked_at IS NULL AND epoch = $2 AND (expires_at IS NULL OR expires_at > $3)`,
			e.ID, e.Epoch, now).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxActiveDeploys {
			return &store.LimitError{What: "active deploy tokens", Limit: store.MaxActiveDeploys}
		}
		d = store.Deploy{
			ID: nd.ID, OrgID: e.OrgID, ProjectID: e.ProjectID, EnvID: e.ID, Name: nd.Name, Epoch: e.Epoch,
			MintedBy: sess.UserID, MintedByEmail: sess.Email, CreatedAt: now,
		}
		if !nd.ExpiresAt.IsZero() {
			d.ExpiresAt = nd.ExpiresAt.UTC().Truncate(time.Microsecond)
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO deploys (id, org_id, project_id, env_id, name, epoch, verifier, blob, minted_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			d.ID, d.OrgID, d.ProjectID, d.EnvID, d.Name, d.Epoch, nd.Verifier, nd.Blob, d.MintedBy, now, nullable(d.ExpiresAt)); err != nil {
			return err
		}
		hd, err = s.audit(ctx, tx, d.OrgID, sess.UserID, store.ActionDeployMint, fmt.Sprintf("%s env=%s epoch=%d", d.ID, d.EnvID, d.Epoch), store.ResultOK)
		return err
	})
	if err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	return d, hd, nil
}

// ListDeploys implements store.Store.
func (s *Store) ListDeploys(ctx context.Context, tok store.TokenHash, orgID string) ([]store.Deploy, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, err
	}
	var out []store.Deploy
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		if err := requireRole(m, store.RoleAdmin); err != nil {
			return err
		}
		out, err = collect(ctx, tx, scanDeploy, `SELECT `+deployCols+deployFrom+` WHERE d.org_id = $1 ORDER BY d.created_at DESC, d.id DESC`, orgID)
		return err
	})
	return out, err
}

// RevokeDeploy implements store.Store.
func (s *Store) RevokeDeploy(ctx context.Context, tok store.TokenHash, orgID, deployID string) (store.Deploy, store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	if err := checkID(ident.Deploy, deployID); err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	var (
		d  store.Deploy
		hd store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		hd = store.AuditHead{}
		actor, err := s.activeMember(ctx, tx, orgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		if d, err = s.deploy(ctx, tx, deployID, s.forUpdate("d")); err != nil {
			return err
		}
		if d.OrgID != orgID {
			return store.ErrNotFound
		}
		if d.Status(now) != "active" {
			return nil // idempotent: nothing to do, no row
		}
		if _, err := tx.Exec(ctx, `UPDATE deploys SET revoked_at = $2, revoked_reason = 'manual' WHERE id = $1`, deployID, now); err != nil {
			return err
		}
		d.RevokedAt, d.RevokedReason = now, store.ReasonManual
		hd, err = s.audit(ctx, tx, d.OrgID, sess.UserID, store.ActionDeployRevoke, deployID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Deploy{}, store.AuditHead{}, err
	}
	return d, hd, nil
}

// DeployDecrypt implements store.Store.
func (s *Store) DeployDecrypt(ctx context.Context, deployID string, verifier []byte, open store.OpenFunc) (store.DeployGrant, error) {
	if ident.CheckID(ident.Deploy, deployID) != nil || len(verifier) != sha256.Size {
		subtle.ConstantTimeCompare(dummyVerifier[:], verifier)
		return store.DeployGrant{}, store.ErrUnauthenticated
	}
	now := s.now()
	var (
		g      store.DeployGrant
		denied error
	)
	err := s.db.Write(ctx, func(tx Tx) error {
		g, denied = store.DeployGrant{}, nil
		d, err := s.deploy(ctx, tx, deployID, "")
		if errors.Is(err, store.ErrNotFound) {
			// Unknown token: the same comparison as for a known one.
			subtle.ConstantTimeCompare(dummyVerifier[:], verifier)
			return store.ErrUnauthenticated
		}
		if err != nil {
			return err
		}
		// Lock order: environment (shared, against a rotation), then the
		// token (shared, against a revocation or kick).
		e, err := s.env(ctx, tx, d.EnvID, s.forShare("environments"))
		if err != nil {
			return err
		}
		var (
			t      [4]Time
			stored []byte
		)
		err = tx.QueryRow(ctx, `SELECT `+deployCols+`, d.verifier, d.blob`+deployFrom+` WHERE d.id = $1`+s.forShare("d"), deployID).
			Scan(append(deployDest(&d, &t), &stored, &g.Blob)...)
		if err != nil {
			return err
		}
		deployTimes(&d, &t)
		if subtle.ConstantTimeCompare(stored, verifier) != 1 {
			return store.ErrUnauthenticated
		}
		target := fmt.Sprintf("%s env=%s epoch=%d", deployID, d.EnvID, d.Epoch)
		switch {
		case !d.RevokedAt.IsZero() || d.Epoch != e.Epoch:
			denied = store.ErrRevoked
		case !d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt):
			denied = store.ErrExpired
		}
		if denied != nil {
			return s.auditDenied(ctx, tx, d.OrgID, deployID, store.ActionDeployDecrypt, target)
		}
		// Opened before anything is written: a blob that does not open (a
		// KEK this service lacks) leaves no last use and no row.
		if err := s.openStored(ctx, tx, open, `UPDATE deploys SET blob = $2 WHERE id = $1`, deployID, d.OrgID, g.Blob); err != nil {
			return err
		}
		if e.HeadVersion > 0 {
			head, err := s.version(ctx, tx, e.ID, e.HeadVersion)
			if err != nil {
				return err
			}
			g.Head = &head
		}
		if _, err := tx.Exec(ctx, `UPDATE deploys SET last_used_at = $2 WHERE id = $1`, deployID, now); err != nil {
			return err
		}
		d.LastUsedAt = now
		g.Deploy, g.Env = d, e
		g.Audit, err = s.audit(ctx, tx, d.OrgID, deployID, store.ActionDeployDecrypt, target, store.ResultOK)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.DeployGrant{}, store.ErrUnauthenticated
		}
		return store.DeployGrant{}, err
	}
	if denied != nil {
		return store.DeployGrant{}, denied
	}
	return g, nil
}
