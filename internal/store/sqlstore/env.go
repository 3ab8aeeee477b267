package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const projectCols = `p.id, p.org_id, p.name, p.created_by, pu.email, p.created_at`
const projectFrom = ` FROM projects p JOIN users pu ON pu.id = p.created_by`

func scanProject(r Row) (store.Project, error) {
	var (
		p  store.Project
		at Time
	)
	err := r.Scan(&p.ID, &p.OrgID, &p.Name, &p.CreatedBy, &p.CreatedByEmail, &at)
	p.CreatedAt = at.T
	return p, err
}

func (s *Store) project(ctx context.Context, tx Tx, id string) (store.Project, error) {
	return scanProject(tx.QueryRow(ctx, `SELECT `+projectCols+projectFrom+` WHERE p.id = $1`, id))
}

const envCols = `id, project_id, org_id, name, epoch, signing_key, head_version, head_id, created_by, created_at, updated_at, rotated_at`

func scanEnv(r Row) (store.Env, error) {
	var (
		e store.Env
		t [3]Time
	)
	err := r.Scan(&e.ID, &e.ProjectID, &e.OrgID, &e.Name, &e.Epoch, &e.SigningKey, &e.HeadVersion, &e.HeadID, &e.CreatedBy, &t[0], &t[1], &t[2])
	e.CreatedAt, e.UpdatedAt, e.RotatedAt = t[0].T, t[1].T, t[2].T
	return e, err
}

func (s *Store) env(ctx context.Context, tx Tx, id, lock string) (store.Env, error) {
	return scanEnv(tx.QueryRow(ctx, `SELECT `+envCols+` FROM environments WHERE id = $1`+lock, id))
}

const versionCols = `v.env_id, v.version, v.epoch, v.id, v.parent_id, v.pushed_by, vu.email, v.pushed_at, length(v.blob)`
const versionFrom = ` FROM env_versions v JOIN users vu ON vu.id = v.pushed_by`

func scanVersion(r Row) (store.Version, error) {
	var (
		v  store.Version
		at Time
	)
	err := r.Scan(&v.EnvID, &v.Version, &v.Epoch, &v.ID, &v.ParentID, &v.PushedBy, &v.PushedByEmail, &at, &v.Size)
	v.PushedAt = at.T
	return v, err
}

func scanVersionBlob(r Row) (store.Version, error) {
	var (
		v  store.Version
		at Time
	)
	err := r.Scan(&v.EnvID, &v.Version, &v.Epoch, &v.ID, &v.ParentID, &v.PushedBy, &v.PushedByEmail, &at, &v.Size, &v.Blob)
	v.PushedAt = at.T
	return v, err
}

func (s *Store) version(ctx context.Context, tx Tx, envID string, version int64) (store.Version, error) {
	return scanVersionBlob(tx.QueryRow(ctx, `SELECT `+versionCols+`, v.blob`+versionFrom+` WHERE v.env_id = $1 AND v.version = $2`, envID, version))
}

// taken checks, before an insert, whether the id or the name (within
// its parent) is taken, and says which in an *ExistsError. (A failed
// insert aborts a PostgreSQL transaction, so the question cannot be asked
// afterwards; an insert that still fails lost a race and is reported as
// the id.)
func taken(ctx context.Context, tx Tx, table, id, parentCol, parent, name string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`, id).Scan(&one)
	if err == nil {
		return &store.ExistsError{Field: "id"}
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err = tx.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE `+parentCol+` = $1 AND name = $2`, parent, name).Scan(&one)
	if err == nil {
		return &store.ExistsError{Field: "name"}
	}
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// existsAsID reports a unique violation of an insert as a taken id.
func existsAsID(err error) error {
	if errors.Is(err, store.ErrExists) {
		return &store.ExistsError{Field: "id"}
	}
	return err
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
		if _, err := s.activeMember(ctx, tx, np.OrgID, sess.UserID, s.forShare("m")); err != nil {
			return err
		}
		if err := taken(ctx, tx, "projects", np.ID, "org_id", np.OrgID, np.Name); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM projects WHERE org_id = $1`, np.OrgID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxProjects {
			return &store.LimitError{What: "projects", Limit: store.MaxProjects}
		}
		p = store.Project{ID: np.ID, OrgID: np.OrgID, Name: np.Name, CreatedBy: sess.UserID, CreatedByEmail: sess.Email, CreatedAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO projects (id, org_id, name, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			p.ID, p.OrgID, p.Name, p.CreatedBy, now); err != nil {
			return existsAsID(err)
		}
		_, err := s.audit(ctx, tx, p.OrgID, sess.UserID, store.ActionProjectCreate, p.ID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Project{}, err
	}
	return p, nil
}

// GetProject implements store.Store.
func (s *Store) GetProject(ctx context.Context, tok store.TokenHash, orgID, projectID string) (store.Project, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Project{}, err
	}
	if err := checkID(ident.Project, projectID); err != nil {
		return store.Project{}, err
	}
	var p store.Project
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		var err error
		if p, err = s.project(ctx, tx, projectID); err != nil {
			return err
		}
		if p.OrgID != orgID {
			return store.ErrNotFound
		}
		return nil
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
		out, err = collect(ctx, tx, scanProject, `SELECT `+projectCols+projectFrom+` WHERE p.org_id = $1 ORDER BY p.created_at, p.id`, orgID)
		return err
	})
	return out, err
}

// CreateEnv implements store.Store.
func (s *Store) CreateEnv(ctx context.Context, tok store.TokenHash, ne store.NewEnv) (store.Env, error) {
	if err := checkID(ident.Env, ne.ID); err != nil {
		return store.Env{}, err
	}
	if err := checkID(ident.Org, ne.OrgID); err != nil {
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
		if _, err := s.activeMember(ctx, tx, ne.OrgID, sess.UserID, s.forShare("m")); err != nil {
			return err
		}
		p, err := s.project(ctx, tx, ne.ProjectID)
		if err != nil {
			return err
		}
		if p.OrgID != ne.OrgID {
			return store.ErrNotFound
		}
		if err := taken(ctx, tx, "environments", ne.ID, "project_id", p.ID, ne.Name); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM environments WHERE project_id = $1`, p.ID).Scan(&n); err != nil {
			return err
		}
		if n >= store.MaxEnvs {
			return &store.LimitError{What: "environments", Limit: store.MaxEnvs}
		}
		e = store.Env{
			ID: ne.ID, ProjectID: p.ID, OrgID: p.OrgID, Name: ne.Name, Epoch: 1,
			SigningKey: append([]byte(nil), ne.SigningKey...), CreatedBy: sess.UserID, CreatedAt: now, UpdatedAt: now,
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO environments (id, project_id, org_id, name, epoch, signing_key, head_version, head_id, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, 1, $5, 0, '', $6, $7, $7)`,
			e.ID, e.ProjectID, e.OrgID, e.Name, e.SigningKey, e.CreatedBy, now); err != nil {
			return existsAsID(err)
		}
		_, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionEnvCreate, e.ID+" project="+p.ID+" epoch=1", store.ResultOK)
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
	e, _, err := s.envRead(ctx, tok, envID, false)
	return e, err
}

// envRead is GetEnv (and, with head, GetEnvHead) as one statement —
// session, environment, the caller's membership of its org and, if asked,
// the head version joined — run outside an explicit transaction: every
// environment route starts with it, and one statement is one round trip
// and one snapshot. The refusals are those of readAuthed and memberEnv, in
// their order: session, environment, membership.
func (s *Store) envRead(ctx context.Context, tok store.TokenHash, envID string, head bool) (store.Env, *store.Version, error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.Env{}, nil, err
	}
	now := s.now()
	var (
		x      store.Session
		e      store.Env
		status string
		v      store.Version
		vFound bool
	)
	err := s.db.ReadOne(ctx, func(tx Tx) error {
		var (
			sr       sessionRow
			et       [3]Time
			vAt      Time
			vVersion int64
		)
		dest := append(sr.dest(),
			&e.ID, &e.ProjectID, &e.OrgID, &e.Name, &e.Epoch, &e.SigningKey, &e.HeadVersion, &e.HeadID, &e.CreatedBy, &et[0], &et[1], &et[2],
			&status)
		q := `SELECT ` + sessionCols + `,
				COALESCE(e.id, ''), COALESCE(e.project_id, ''), COALESCE(e.org_id, ''), COALESCE(e.name, ''), COALESCE(e.epoch, 0),
				e.signing_key, COALESCE(e.head_version, 0), COALESCE(e.head_id, ''), COALESCE(e.created_by, ''),
				e.created_at, e.updated_at, e.rotated_at,
				COALESCE(m.status, '')`
		from := sessionFrom + `
			LEFT JOIN environments e ON e.id = $2
			LEFT JOIN memberships m ON m.org_id = e.org_id AND m.user_id = s.user_id`
		if head {
			q += `, COALESCE(v.version, 0), COALESCE(v.epoch, 0), COALESCE(v.id, ''), COALESCE(v.parent_id, ''),
				COALESCE(v.pushed_by, ''), COALESCE(vu.email, ''), v.pushed_at, COALESCE(length(v.blob), 0), v.blob`
			from += `
			LEFT JOIN env_versions v ON v.env_id = e.id AND v.version = e.head_version AND m.status = 'active'
			LEFT JOIN users vu ON vu.id = v.pushed_by`
			dest = append(dest, &vVersion, &v.Epoch, &v.ID, &v.ParentID, &v.PushedBy, &v.PushedByEmail, &vAt, &v.Size, &v.Blob)
		}
		if err := tx.QueryRow(ctx, q+from+` WHERE s.token_hash = $1`, tok[:], envID).Scan(dest...); err != nil {
			return err
		}
		x = sr.session(s)
		e.CreatedAt, e.UpdatedAt, e.RotatedAt = et[0].T, et[1].T, et[2].T
		if vVersion > 0 {
			v.EnvID, v.Version, v.PushedAt, vFound = e.ID, vVersion, vAt.T, true
		}
		return nil
	})
	if err := s.oneStatementSession(ctx, err, &x, now); err != nil {
		return store.Env{}, nil, err
	}
	switch {
	case e.ID == "":
		return store.Env{}, nil, store.ErrNotFound
	case status == "":
		return store.Env{}, nil, store.ErrNotMember
	case status != string(store.StatusActive):
		return store.Env{}, nil, store.ErrMembershipRevoked
	case head && e.HeadVersion > 0 && !vFound:
		return store.Env{}, nil, fmt.Errorf("environment %s: head version %d is missing", e.ID, e.HeadVersion)
	}
	if !vFound {
		return e, nil, nil
	}
	return e, &v, nil
}

// ListEnvs implements store.Store.
func (s *Store) ListEnvs(ctx context.Context, tok store.TokenHash, orgID, projectID string) ([]store.Env, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, err
	}
	if err := checkID(ident.Project, projectID); err != nil {
		return nil, err
	}
	var out []store.Env
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		p, err := s.project(ctx, tx, projectID)
		if err != nil {
			return err
		}
		if p.OrgID != orgID {
			return store.ErrNotFound
		}
		out, err = collect(ctx, tx, scanEnv, `SELECT `+envCols+` FROM environments WHERE project_id = $1 ORDER BY created_at, id`, projectID)
		return err
	})
	return out, err
}

// fitsHead returns nil if v may become the next version of e at epoch,
// else a *ConflictError: epoch first, then version and parent.
func fitsHead(e store.Env, v store.NewVersion, epoch int64) error {
	parent := e.HeadID
	if e.HeadVersion == 0 {
		parent = store.FirstParent
	}
	c := &store.ConflictError{Epoch: e.Epoch, HeadVersion: e.HeadVersion, HeadID: e.HeadID}
	switch {
	case v.Epoch != epoch:
		c.Reason = store.ConflictEpoch
	case v.Version != e.HeadVersion+1 || v.ParentID != parent:
		c.Reason = store.ConflictVersion
	default:
		return nil
	}
	return c
}

// storeVersion inserts v as the environment's new head. The environment
// row must be locked by the caller.
func (s *Store) storeVersion(ctx context.Context, tx Tx, e store.Env, v store.NewVersion, userID string, now time.Time) (store.Version, error) {
	_, err := tx.Exec(ctx, `
		INSERT INTO env_versions (env_id, version, epoch, id, parent_id, blob, pushed_by, pushed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, v.Version, v.Epoch, v.ID, v.ParentID, v.Blob, userID, now)
	if errors.Is(err, store.ErrExists) {
		// Belt and braces: the row lock should have caught it.
		return store.Version{}, &store.ConflictError{Reason: store.ConflictVersion, Epoch: e.Epoch, HeadVersion: e.HeadVersion, HeadID: e.HeadID}
	}
	if err != nil {
		return store.Version{}, err
	}
	return store.Version{
		EnvID: e.ID, Version: v.Version, Epoch: v.Epoch, ID: v.ID, ParentID: v.ParentID,
		Blob: append([]byte(nil), v.Blob...), Size: int64(len(v.Blob)), PushedBy: userID, PushedAt: now,
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
		if err := fitsHead(e, v, e.Epoch); err != nil {
			return err
		}
		store.RunHook(ctx, store.HookPushLocked)
		if ver, err = s.storeVersion(ctx, tx, e, v, sess.UserID, now); err != nil {
			return err
		}
		ver.PushedByEmail = sess.Email
		if _, err := tx.Exec(ctx, `UPDATE environments SET head_version = $2, head_id = $3, updated_at = $4 WHERE id = $1`,
			envID, v.Version, v.ID, now); err != nil {
			return err
		}
		hd, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionPush, envID+" version="+strconv.FormatInt(v.Version, 10)+" id="+v.ID, store.ResultOK)
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

// GetEnvHead implements store.Store.
func (s *Store) GetEnvHead(ctx context.Context, tok store.TokenHash, envID string) (store.Env, *store.Version, error) {
	return s.envRead(ctx, tok, envID, true)
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
		out, err = collect(ctx, tx, scanVersion, `SELECT `+versionCols+versionFrom+` WHERE v.env_id = $1 ORDER BY v.version DESC`, envID)
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
		if r.Epoch != e.Epoch+1 {
			return &store.ConflictError{Reason: store.ConflictEpoch, Epoch: e.Epoch, HeadVersion: e.HeadVersion, HeadID: e.HeadID}
		}
		if err := fitsHead(e, r.Head, r.Epoch); err != nil {
			return err
		}
		if res.Version, err = s.storeVersion(ctx, tx, e, r.Head, sess.UserID, now); err != nil {
			return err
		}
		res.Version.PushedByEmail = sess.Email
		if _, err := tx.Exec(ctx, `
			UPDATE environments SET epoch = $2, signing_key = $3, head_version = $4, head_id = $5, updated_at = $6, rotated_at = $6
			WHERE id = $1`, envID, r.Epoch, r.SigningKey, r.Head.Version, r.Head.ID, now); err != nil {
			return err
		}
		e.Epoch, e.SigningKey, e.HeadVersion, e.HeadID, e.UpdatedAt, e.RotatedAt = r.Epoch, append([]byte(nil), r.SigningKey...), r.Head.Version, r.Head.ID, now, now
		res.Env = e
		if res.RevokedDeploys, err = ids(ctx, tx, `
			UPDATE deploys SET revoked_at = $2, revoked_reason = 'rotate'
			WHERE env_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2) RETURNING id`, envID, now); err != nil {
			return err
		}
		sort.Strings(res.RevokedDeploys)
		what := fmt.Sprintf("%s epoch=%d version=%d id=%s deploys=%d", envID, r.Epoch, r.Head.Version, r.Head.ID, len(res.RevokedDeploys))
		res.Audit, err = s.audit(ctx, tx, e.OrgID, sess.UserID, store.ActionEnvRotate, what, store.ResultOK)
		return err
	})
	if err != nil {
		return store.RotateResult{}, err
	}
	return res, nil
}
