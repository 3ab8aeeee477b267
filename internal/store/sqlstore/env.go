package sqlstore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const projectCols = `id, org_id, name, created_by, created_at`

func scanProject(r Row) (store.Project, error) {
	var (
		p  store.Project
		at Time
	)
	err := r.Scan(&p.ID, &p.OrgID, &p.Name, &p.CreatedBy, &at)
	p.CreatedAt = at.T
	return p, err
}

const envCols = `id, project_id, org_id, name, epoch, signing_key, head_version, head_id, created_by, created_at, updated_at`

func scanEnv(r Row) (store.Env, error) {
	var (
		e store.Env
		t [2]Time
	)
	err := r.Scan(&e.ID, &e.ProjectID, &e.OrgID, &e.Name, &e.Epoch, &e.SigningKey, &e.HeadVersion, &e.HeadID, &e.CreatedBy, &t[0], &t[1])
	e.CreatedAt, e.UpdatedAt = t[0].T, t[1].T
	return e, err
}

func (s *Store) env(ctx context.Context, tx Tx, id, lock string) (store.Env, error) {
	return scanEnv(tx.QueryRow(ctx, `SELECT `+envCols+` FROM environments WHERE id = $1`+lock, id))
}

const versionCols = `env_id, version, epoch, id, parent_id, pushed_by, pushed_at`

func scanVersion(r Row) (store.Version, error) {
	var (
		v  store.Version
		at Time
	)
	err := r.Scan(&v.EnvID, &v.Version, &v.Epoch, &v.ID, &v.ParentID, &v.PushedBy, &at)
	v.PushedAt = at.T
	return v, err
}

func scanVersionBlob(r Row) (store.Version, error) {
	var (
		v  store.Version
		at Time
	)
	err := r.Scan(&v.EnvID, &v.Version, &v.Epoch, &v.ID, &v.ParentID, &v.PushedBy, &at, &v.Blob)
	v.PushedAt = at.T
	return v, err
}

func (s *Store) version(ctx context.Context, tx Tx, envID string, version int64) (store.Version, error) {
	return scanVersionBlob(tx.QueryRow(ctx, `SELECT `+versionCols+`, blob FROM env_versions WHERE env_id = $1 AND version = $2`, envID, version))
}

// CreateProject implements store.Store.
func (s *Store) CreateProject(ctx context.Context, tok store.TokenHash, np store.NewProject) (store.Project, error) {
	if err := checkID(ident.Project, np.ID); err != nil {
		return store.Project{}, err
	}
	if err := checkID(ident.Org, np.OrgID); err != nil {
		return store.Project{}, err
	}
	if err := checkObjectName("project name", np.Name); err != nil {
		return store.Project{}, err
	}
	var p store.Project
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		actor, err := s.activeMember(ctx, tx, np.OrgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		p = store.Project{ID: np.ID, OrgID: np.OrgID, Name: np.Name, CreatedBy: sess.UserID, CreatedAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO projects (id, org_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, p.OrgID, p.Name, p.CreatedBy, now); err != nil {
			return err
		}
		_, err = s.audit(ctx, tx, p.OrgID, sess.UserID, store.ActionProjectCreate, p.ID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Project{}, err
	}
	return p, nil
}

// ListProjects implements store.Store.
func (s *Store) ListProjects(ctx context.Context, tok store.TokenHash, orgID string) ([]store.Project, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, err
	}
	var out []store.Project
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		var err error
		out, err = collect(ctx, tx, scanProject, `SELECT `+projectCols+` FROM projects WHERE org_id = $1 ORDER BY name`, orgID)
		return err
	})
	return out, err
}

// CreateEnv implements store.Store.
func (s *Store) CreateEnv(ctx context.Context, tok store.TokenHash, ne store.NewEnv) (store.Env, error) {
	if err := checkID(ident.Env, ne.ID); err != nil {
		return store.Env{}, err
	}
	if err := checkID(ident.Project, ne.ProjectID); err != nil {
		return store.Env{}, err
	}
	if err := checkObjectName("environment name", ne.Name); err != nil {
		return store.Env{}, err
	}
	if err := checkSigningKey(ne.SigningKey); err != nil {
		return store.Env{}, err
	}
	var e store.Env
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		p, err := scanProject(tx.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, ne.ProjectID))
		if err != nil {
			return err
		}
		actor, err := s.activeMember(ctx, tx, p.OrgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		e = store.Env{
			ID: ne.ID, ProjectID: p.ID, OrgID: p.OrgID, Name: ne.Name, Epoch: 1,
			SigningKey: append([]byte(nil), ne.SigningKey...), CreatedBy: sess.UserID, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO environments (id, project_id, org_id, name, epoch, signing_key, head_version, head_id, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 1, $5, 0, '', $6, $7, $7)`,
			e.ID, e.ProjectID, e.OrgID, e.Name, e.SigningKey, e.CreatedBy, now); err != nil {
			return err
		}
		_, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionEnvCreate, e.ID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Env{}, err
	}
	return e, nil
}

// memberEnv reads an environment (ErrNotFound) and requires the caller to
// be an active member of its org, with the membership read under lock.
func (s *Store) memberEnv(ctx context.Context, tx Tx, envID, userID, lock string) (store.Env, store.Member, error) {
	e, err := s.env(ctx, tx, envID, "")
	if err != nil {
		return e, store.Member{}, err
	}
	m, err := s.activeMember(ctx, tx, e.OrgID, userID, lock)
	return e, m, err
}

// GetEnv implements store.Store.
func (s *Store) GetEnv(ctx context.Context, tok store.TokenHash, envID string) (store.Env, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.Env{}, err
	}
	var e store.Env
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		var err error
		e, _, err = s.memberEnv(ctx, tx, envID, sess.UserID, "")
		return err
	})
	if err != nil {
		return store.Env{}, err
	}
	return e, nil
}

// ListEnvs implements store.Store.
func (s *Store) ListEnvs(ctx context.Context, tok store.TokenHash, projectID string) ([]store.Env, error) {
	if err := checkID(ident.Project, projectID); err != nil {
		return nil, err
	}
	var out []store.Env
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		p, err := scanProject(tx.QueryRow(ctx, `SELECT `+projectCols+` FROM projects WHERE id = $1`, projectID))
		if err != nil {
			return err
		}
		if _, err := s.activeMember(ctx, tx, p.OrgID, sess.UserID, ""); err != nil {
			return err
		}
		out, err = collect(ctx, tx, scanEnv, `SELECT `+envCols+` FROM environments WHERE project_id = $1 ORDER BY name`, projectID)
		return err
	})
	return out, err
}

// fitsHead reports whether v may become the next version of e at epoch.
func fitsHead(e store.Env, v store.NewVersion, epoch int64) bool {
	parent := e.HeadID
	if e.HeadVersion == 0 {
		parent = store.FirstParent
	}
	return v.Epoch == epoch && v.Version == e.HeadVersion+1 && v.ParentID == parent
}

// storeVersion inserts v as the environment's new head. The environment
// row must be locked by the caller.
func (s *Store) storeVersion(ctx context.Context, tx Tx, e store.Env, v store.NewVersion, userID string, now time.Time) (store.Version, error) {
	_, err := tx.Exec(ctx, `
		INSERT INTO env_versions (env_id, version, epoch, id, parent_id, blob, pushed_by, pushed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, v.Version, v.Epoch, v.ID, v.ParentID, v.Blob, userID, now)
	if errors.Is(err, store.ErrExists) {
		return store.Version{}, store.ErrConflict // belt and braces: the row lock should have caught it
	}
	if err != nil {
		return store.Version{}, err
	}
	return store.Version{
		EnvID: e.ID, Version: v.Version, Epoch: v.Epoch, ID: v.ID, ParentID: v.ParentID,
		Blob: append([]byte(nil), v.Blob...), PushedBy: userID, PushedAt: now,
	}, nil
}

// Push implements store.Store.
func (s *Store) Push(ctx context.Context, tok store.TokenHash, envID string, v store.NewVersion) (store.Version, store.AuditHead, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.Version{}, store.AuditHead{}, err
	}
	if err := checkNewVersion(v); err != nil {
		return store.Version{}, store.AuditHead{}, err
	}
	var (
		ver store.Version
		hd  store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		if _, _, err := s.memberEnv(ctx, tx, envID, sess.UserID, s.forShare("m")); err != nil {
			return err
		}
		e, err := s.env(ctx, tx, envID, s.forUpdate("environments"))
		if err != nil {
			return err
		}
		if !fitsHead(e, v, e.Epoch) {
			return store.ErrConflict
		}
		store.RunHook(ctx, store.HookPushLocked)
		if ver, err = s.storeVersion(ctx, tx, e, v, sess.UserID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE environments SET head_version = $2, head_id = $3, updated_at = $4 WHERE id = $1`,
			envID, v.Version, v.ID, now); err != nil {
			return err
		}
		hd, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionPush, envID+" "+strconv.FormatInt(v.Version, 10), store.ResultOK)
		return err
	})
	if err != nil {
		return store.Version{}, store.AuditHead{}, err
	}
	return ver, hd, nil
}

// GetHead implements store.Store.
func (s *Store) GetHead(ctx context.Context, tok store.TokenHash, envID string) (store.Version, error) {
	return s.getVersion(ctx, tok, envID, 0)
}

// GetVersion implements store.Store.
func (s *Store) GetVersion(ctx context.Context, tok store.TokenHash, envID string, version int64) (store.Version, error) {
	if version < 1 {
		return store.Version{}, invalid("versions start at 1")
	}
	return s.getVersion(ctx, tok, envID, version)
}

// getVersion reads one version; 0 means the head.
func (s *Store) getVersion(ctx context.Context, tok store.TokenHash, envID string, version int64) (store.Version, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.Version{}, err
	}
	var v store.Version
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		e, _, err := s.memberEnv(ctx, tx, envID, sess.UserID, "")
		if err != nil {
			return err
		}
		want := version
		if want == 0 {
			if e.HeadVersion == 0 {
				return store.ErrNotFound
			}
			want = e.HeadVersion
		}
		v, err = s.version(ctx, tx, envID, want)
		return err
	})
	if err != nil {
		return store.Version{}, err
	}
	return v, nil
}

// ListVersions implements store.Store.
func (s *Store) ListVersions(ctx context.Context, tok store.TokenHash, envID string) ([]store.Version, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return nil, err
	}
	var out []store.Version
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, _, err := s.memberEnv(ctx, tx, envID, sess.UserID, ""); err != nil {
			return err
		}
		var err error
		out, err = collect(ctx, tx, scanVersion, `SELECT `+versionCols+` FROM env_versions WHERE env_id = $1 ORDER BY version DESC`, envID)
		return err
	})
	return out, err
}

// RotateEnv implements store.Store.
func (s *Store) RotateEnv(ctx context.Context, tok store.TokenHash, envID string, r store.Rotation) (store.RotateResult, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.RotateResult{}, err
	}
	if r.Epoch < 2 {
		return store.RotateResult{}, invalid("a rotation moves to epoch 2 or later")
	}
	if err := checkSigningKey(r.SigningKey); err != nil {
		return store.RotateResult{}, err
	}
	if err := checkNewVersion(r.Head); err != nil {
		return store.RotateResult{}, err
	}
	if r.Head.Epoch != r.Epoch {
		return store.RotateResult{}, invalid("the rotated head must be of the new epoch")
	}
	var res store.RotateResult
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		res = store.RotateResult{}
		_, actor, err := s.memberEnv(ctx, tx, envID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		e, err := s.env(ctx, tx, envID, s.forUpdate("environments"))
		if err != nil {
			return err
		}
		if r.Epoch != e.Epoch+1 || !fitsHead(e, r.Head, r.Epoch) {
			return store.ErrConflict
		}
		if res.Version, err = s.storeVersion(ctx, tx, e, r.Head, sess.UserID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			UPDATE environments SET epoch = $2, signing_key = $3, head_version = $4, head_id = $5, updated_at = $6
			WHERE id = $1`, envID, r.Epoch, r.SigningKey, r.Head.Version, r.Head.ID, now); err != nil {
			return err
		}
		e.Epoch, e.SigningKey, e.HeadVersion, e.HeadID, e.UpdatedAt = r.Epoch, append([]byte(nil), r.SigningKey...), r.Head.Version, r.Head.ID, now
		res.Env = e
		if res.RevokedDeploys, err = ids(ctx, tx, `
			UPDATE deploys SET revoked_at = $2 WHERE env_id = $1 AND revoked_at IS NULL RETURNING id`, envID, now); err != nil {
			return err
		}
		res.Audit, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionEnvRotate, envID+" "+strconv.FormatInt(r.Epoch, 10), store.ResultOK)
		return err
	})
	if err != nil {
		return store.RotateResult{}, err
	}
	return res, nil
}
