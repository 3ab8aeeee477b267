package sqlstore

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const deployCols = `id, org_id, project_id, env_id, name, epoch, minted_by, created_at, expires_at, revoked_at`

func deployDest(d *store.Deploy, t *[3]Time) []any {
	return []any{&d.ID, &d.OrgID, &d.ProjectID, &d.EnvID, &d.Name, &d.Epoch, &d.MintedBy, &t[0], &t[1], &t[2]}
}

func deployTimes(d *store.Deploy, t *[3]Time) {
	d.CreatedAt, d.ExpiresAt, d.RevokedAt = t[0].T, t[1].T, t[2].T
}

func scanDeploy(r Row) (store.Deploy, error) {
	var (
		d store.Deploy
		t [3]Time
	)
	err := r.Scan(deployDest(&d, &t)...)
	deployTimes(&d, &t)
	return d, err
}

func (s *Store) deploy(ctx context.Context, tx Tx, id, lock string) (store.Deploy, error) {
	return scanDeploy(tx.QueryRow(ctx, `SELECT `+deployCols+` FROM deploys WHERE id = $1`+lock, id))
}

// CreateDeploy implements store.Store.
func (s *Store) CreateDeploy(ctx context.Context, tok store.TokenHash, nd store.NewDeploy) (store.Deploy, store.AuditHead, error) {
	if err := checkID(ident.Deploy, nd.ID); err != nil {
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
		_, actor, err := s.memberEnv(ctx, tx, nd.EnvID, sess.UserID, s.forShare("m"))
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
		if nd.Epoch != e.Epoch {
			return store.ErrConflict
		}
		d = store.Deploy{
			ID: nd.ID, OrgID: e.OrgID, ProjectID: e.ProjectID, EnvID: e.ID, Name: nd.Name, Epoch: e.Epoch,
			MintedBy: sess.UserID, CreatedAt: now,
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
		hd, err = s.audit(ctx, tx, d.OrgID, sess.UserID, store.ActionDeployMint, d.ID, store.ResultOK)
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
		out, err = collect(ctx, tx, scanDeploy, `SELECT `+deployCols+` FROM deploys WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
		return err
	})
	return out, err
}

// RevokeDeploy implements store.Store.
func (s *Store) RevokeDeploy(ctx context.Context, tok store.TokenHash, deployID string) (store.AuditHead, error) {
	if err := checkID(ident.Deploy, deployID); err != nil {
		return store.AuditHead{}, err
	}
	var hd store.AuditHead
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		d, err := s.deploy(ctx, tx, deployID, "")
		if err != nil {
			return err
		}
		actor, err := s.activeMember(ctx, tx, d.OrgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return notMemberAsNotFound(err)
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		if d, err = s.deploy(ctx, tx, deployID, s.forUpdate("deploys")); err != nil {
			return err
		}
		if !d.RevokedAt.IsZero() {
			return store.ErrRevoked
		}
		if _, err := tx.Exec(ctx, `UPDATE deploys SET revoked_at = $2 WHERE id = $1`, deployID, now); err != nil {
			return err
		}
		hd, err = s.audit(ctx, tx, d.OrgID, sess.UserID, store.ActionDeployRevoke, deployID, store.ResultOK)
		return err
	})
	return hd, err
}

// DeployDecrypt implements store.Store.
func (s *Store) DeployDecrypt(ctx context.Context, deployID string, verifier []byte) (store.DeployGrant, error) {
	if ident.CheckID(ident.Deploy, deployID) != nil || len(verifier) != sha256.Size {
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
		if err != nil {
			return notFoundAs(err, store.ErrUnauthenticated)
		}
		// Lock order: environment (shared, against a rotation), then the
		// token (shared, against a revocation or kick).
		e, err := s.env(ctx, tx, d.EnvID, s.forShare("environments"))
		if err != nil {
			return err
		}
		var (
			t      [3]Time
			stored []byte
		)
		err = tx.QueryRow(ctx, `SELECT `+deployCols+`, verifier, blob FROM deploys WHERE id = $1`+s.forShare("deploys"), deployID).
			Scan(append(deployDest(&d, &t), &stored, &g.Blob)...)
		if err != nil {
			return err
		}
		deployTimes(&d, &t)
		if subtle.ConstantTimeCompare(stored, verifier) != 1 {
			return store.ErrUnauthenticated
		}
		result := store.ResultOK
		switch {
		case !d.RevokedAt.IsZero() || d.Epoch != e.Epoch:
			denied, result = store.ErrRevoked, store.ResultDeniedDeployRevoked
		case !d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt):
			denied, result = store.ErrExpired, store.ResultDeniedDeployExpired
		}
		if denied == nil && e.HeadVersion > 0 {
			head, err := s.version(ctx, tx, e.ID, e.HeadVersion)
			if err != nil {
				return err
			}
			g.Head = &head
		}
		g.Deploy, g.Env = d, e
		g.Audit, err = s.audit(ctx, tx, d.OrgID, deployID, store.ActionDeployDecrypt, e.ID, result)
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
