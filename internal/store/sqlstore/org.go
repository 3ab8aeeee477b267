package sqlstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const orgCols = `o.id, o.name, o.key_check, o.created_by, o.created_at, o.offline_grace_seconds`

func scanOrgInto(o *store.Org, at *Time) []any {
	return []any{&o.ID, &o.Name, &o.KeyCheck, &o.CreatedBy, at, seconds{&o.OfflineGrace}}
}

// seconds scans a count of whole seconds (offline_grace_seconds) into a
// duration; NULL (an org a LEFT JOIN did not find) reads as 0.
type seconds struct{ d *time.Duration }

// Scan implements sql.Scanner.
func (s seconds) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.d = 0
	case int64:
		if v < 0 || v > int64(store.MaxOfflineGrace/time.Second) {
			return fmt.Errorf("sqlstore: stored offline grace of %d seconds is out of range", v)
		}
		*s.d = time.Duration(v) * time.Second
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into seconds", src)
	}
	return nil
}

const memberCols = `m.org_id, m.user_id, u.email, m.role, m.status, m.created_at, m.updated_at, m.revoked_at, COALESCE(m.joined_at, m.created_at)`
const memberFrom = ` FROM memberships m JOIN users u ON u.id = m.user_id`

func memberDest(m *store.Member, t *[4]Time) []any {
	return []any{&m.OrgID, &m.UserID, &m.Email, &m.Role, &m.Status, &t[0], &t[1], &t[2], &t[3]}
}

func memberTimes(m *store.Member, t *[4]Time) {
	m.CreatedAt, m.UpdatedAt, m.RevokedAt, m.JoinedAt = t[0].T, t[1].T, t[2].T, t[3].T
}

func scanMember(r Row) (store.Member, error) {
	var (
		m store.Member
		t [4]Time
	)
	err := r.Scan(memberDest(&m, &t)...)
	memberTimes(&m, &t)
	return m, err
}

// member reads a membership, whatever its status, with the given lock
// clause appended; ErrNotFound if there is none.
func (s *Store) member(ctx context.Context, tx Tx, orgID, userID, lock string) (store.Member, error) {
	return scanMember(tx.QueryRow(ctx, `SELECT `+memberCols+memberFrom+` WHERE m.org_id = $1 AND m.user_id = $2`+lock, orgID, userID))
}

// activeMember reads the caller's membership and requires it to be active:
// ErrNotMember if there is none (or no such org), ErrRevoked if revoked.
func (s *Store) activeMember(ctx context.Context, tx Tx, orgID, userID, lock string) (store.Member, error) {
	m, err := s.member(ctx, tx, orgID, userID, lock)
	if err != nil {
		return m, notFoundAs(err, store.ErrNotMember)
	}
	if m.Status != store.StatusActive {
		return m, store.ErrMembershipRevoked
	}
	return m, nil
}

// requireRole returns ErrForbidden unless m has at least role r.
func requireRole(m store.Member, r store.Role) error {
	if !m.Role.AtLeast(r) {
		return store.ErrForbidden
	}
	return nil
}

// CreateOrg implements store.Store.
func (s *Store) CreateOrg(ctx context.Context, tok store.TokenHash, o store.NewOrg) (store.Org, store.AuditHead, error) {
	if err := checkID(ident.Org, o.ID); err != nil {
		return store.Org{}, store.AuditHead{}, err
	}
	if err := checkText("org name", o.Name, maxOrgNameLen, true); err != nil {
		return store.Org{}, store.AuditHead{}, err
	}
	if !keyCheckRe.MatchString(o.KeyCheck) {
		return store.Org{}, store.AuditHead{}, invalid("key check must be 32 lowercase hex characters")
	}
	var (
		org store.Org
		hd  store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		org = store.Org{ID: o.ID, Name: o.Name, KeyCheck: o.KeyCheck, CreatedBy: sess.UserID, CreatedAt: now}
		if _, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, key_check, created_by, created_at) VALUES ($1, $2, $3, $4, $5)`,
			org.ID, org.Name, org.KeyCheck, org.CreatedBy, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO memberships (org_id, user_id, role, status, created_at, updated_at, joined_at)
			VALUES ($1, $2, 'owner', 'active', $3, $3, $3)`, org.ID, sess.UserID, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (org_id, seq, hash) VALUES ($1, 0, $2)`, org.ID, auditchain.Genesis); err != nil {
			return err
		}
		var err error
		hd, err = s.audit(ctx, tx, org.ID, sess.UserID, store.ActionOrgCreate, org.ID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Org{}, store.AuditHead{}, err
	}
	return org, hd, nil
}

// GetOrg implements store.Store.
func (s *Store) GetOrg(ctx context.Context, tok store.TokenHash, orgID string) (store.Org, store.Member, error) {
	_, org, m, err := s.AuthorizeOrg(ctx, tok, orgID)
	return org, m, err
}

// AuthorizeOrg implements store.Store. It is one statement (session,
// membership and org joined), so it costs one round trip: it runs before
// every org route.
func (s *Store) AuthorizeOrg(ctx context.Context, tok store.TokenHash, orgID string) (store.Session, store.Org, store.Member, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Session{}, store.Org{}, store.Member{}, err
	}
	now := s.now()
	var (
		x   store.Session
		org store.Org
		m   store.Member
	)
	err := s.db.ReadOne(ctx, func(tx Tx) error {
		var (
			sr    sessionRow
			orgAt Time
			mt    [4]Time
		)
		dest := append(sr.dest(), memberDest(&m, &mt)...)
		dest = append(dest, scanOrgInto(&org, &orgAt)...)
		err := tx.QueryRow(ctx, `SELECT `+sessionCols+`,
				COALESCE(m.org_id, ''), COALESCE(m.user_id, ''), u.email, COALESCE(m.role, ''), COALESCE(m.status, ''),
				m.created_at, m.updated_at, m.revoked_at, COALESCE(m.joined_at, m.created_at),
				COALESCE(o.id, ''), COALESCE(o.name, ''), COALESCE(o.key_check, ''), COALESCE(o.created_by, ''), o.created_at,
				o.offline_grace_seconds`+
			sessionFrom+`
			LEFT JOIN memberships m ON m.org_id = $2 AND m.user_id = s.user_id
			LEFT JOIN orgs o ON o.id = m.org_id
			WHERE s.token_hash = $1`, tok[:], orgID).Scan(dest...)
		if err != nil {
			return err
		}
		x = sr.session(s)
		memberTimes(&m, &mt)
		org.CreatedAt = orgAt.T
		return nil
	})
	if err := s.oneStatementSession(ctx, err, &x, now); err != nil {
		return store.Session{}, store.Org{}, store.Member{}, err
	}
	switch {
	case m.OrgID == "" || org.ID == "":
		return x, store.Org{}, store.Member{}, store.ErrNotMember
	case m.Status != store.StatusActive:
		return x, store.Org{}, store.Member{}, store.ErrMembershipRevoked
	}
	return x, org, m, nil
}

// ListOrgs implements store.Store.
func (s *Store) ListOrgs(ctx context.Context, tok store.TokenHash) ([]store.OrgMembership, error) {
	var out []store.OrgMembership
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		var err error
		out, err = collect(ctx, tx, scanOrgMembership, `SELECT `+orgCols+`, `+memberCols+memberFrom+` JOIN orgs o ON o.id = m.org_id
			WHERE m.user_id = $1 AND m.status = 'active' ORDER BY o.created_at, o.id`, sess.UserID)
		return err
	})
	return out, err
}

// scanOrgMembership reads orgCols, then memberCols.
func scanOrgMembership(r Row) (store.OrgMembership, error) {
	var (
		om store.OrgMembership
		at Time
		t  [4]Time
	)
	err := r.Scan(append(scanOrgInto(&om.Org, &at), memberDest(&om.Member, &t)...)...)
	om.Org.CreatedAt = at.T
	memberTimes(&om.Member, &t)
	return om, err
}

// ListMembers implements store.Store.
func (s *Store) ListMembers(ctx context.Context, tok store.TokenHash, orgID string) ([]store.Member, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, err
	}
	var out []store.Member
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		var err error
		out, err = collect(ctx, tx, scanMember, `SELECT `+memberCols+memberFrom+` WHERE m.org_id = $1 ORDER BY COALESCE(m.joined_at, m.created_at), m.user_id`, orgID)
		return err
	})
	return out, err
}

// lockOrg serialises membership changes (role changes, kicks) of one org,
// so that "is this the last owner?" is answered on a stable set. NO KEY
// UPDATE: inserts elsewhere that reference the org are not blocked.
func (s *Store) lockOrg(ctx context.Context, tx Tx, orgID string) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`+s.forUpdate("orgs"), orgID).Scan(&id)
	return notFoundAs(err, store.ErrNotMember)
}

// actorAndTarget locks the caller's membership (shared) and the target's
// (for update) — or the caller's alone for update when they are the same.
// The target may be revoked; ErrNotFound if it has no membership.
func (s *Store) actorAndTarget(ctx context.Context, tx Tx, orgID, actorID, targetID string) (actor, target store.Member, err error) {
	if actorID == targetID {
		actor, err = s.activeMember(ctx, tx, orgID, actorID, s.forUpdate("m"))
		return actor, actor, err
	}
	if actor, err = s.activeMember(ctx, tx, orgID, actorID, s.forShare("m")); err != nil {
		return
	}
	target, err = s.member(ctx, tx, orgID, targetID, s.forUpdate("m"))
	return
}

// otherOwners counts the org's active owners other than userID.
func (s *Store) otherOwners(ctx context.Context, tx Tx, orgID, userID string) (int64, error) {
	var n int64
	err := tx.QueryRow(ctx, `
		SELECT count(*) FROM memberships
		WHERE org_id = $1 AND user_id <> $2 AND role = 'owner' AND status = 'active'`, orgID, userID).Scan(&n)
	return n, err
}

// SetRole implements store.Store.
func (s *Store) SetRole(ctx context.Context, tok store.TokenHash, orgID, userID string, role store.Role) (store.Member, store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Member{}, store.AuditHead{}, err
	}
	if err := checkID(ident.User, userID); err != nil {
		return store.Member{}, store.AuditHead{}, err
	}
	if err := checkRole(role); err != nil {
		return store.Member{}, store.AuditHead{}, err
	}
	var (
		m  store.Member
		hd store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		if err := s.lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		actor, target, err := s.actorAndTarget(ctx, tx, orgID, sess.UserID, userID)
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleOwner); err != nil {
			return err
		}
		if target.Status != store.StatusActive {
			return store.ErrMemberNotActive
		}
		m = target
		if target.Role == role {
			hd = store.AuditHead{} // a no-op: no row
			return nil
		}
		if target.Role == store.RoleOwner && role != store.RoleOwner {
			n, err := s.otherOwners(ctx, tx, orgID, userID)
			if err != nil {
				return err
			}
			if n == 0 {
				return store.ErrLastOwner
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET role = $3, updated_at = $4 WHERE org_id = $1 AND user_id = $2`,
			orgID, userID, string(role), now); err != nil {
			return err
		}
		m.Role, m.UpdatedAt = role, now
		hd, err = s.audit(ctx, tx, orgID, sess.UserID, store.ActionRole, userID+" role="+string(role), store.ResultOK)
		return err
	})
	if err != nil {
		return store.Member{}, store.AuditHead{}, err
	}
	return m, hd, nil
}

// SetOrgPolicy implements store.Store.
func (s *Store) SetOrgPolicy(ctx context.Context, tok store.TokenHash, orgID string, p store.OrgPolicy) (store.Org, store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Org{}, store.AuditHead{}, err
	}
	g := p.OfflineGrace
	if g < 0 || g > store.MaxOfflineGrace || g%time.Second != 0 {
		return store.Org{}, store.AuditHead{}, invalid("offline grace must be whole seconds from 0 (off) to 7 days")
	}
	var (
		org store.Org
		hd  store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		hd = store.AuditHead{}
		// The org row is locked for update first (as a role change does),
		// then the caller's membership is read shared.
		var at Time
		err := tx.QueryRow(ctx, `SELECT `+orgCols+` FROM orgs o WHERE o.id = $1`+s.forUpdate("o"), orgID).Scan(scanOrgInto(&org, &at)...)
		if err != nil {
			return notFoundAs(err, store.ErrNotMember)
		}
		org.CreatedAt = at.T
		actor, err := s.activeMember(ctx, tx, orgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		if org.OfflineGrace == g {
			return nil // a no-op: no row
		}
		if _, err := tx.Exec(ctx, `UPDATE orgs SET offline_grace_seconds = $2 WHERE id = $1`, orgID, int64(g/time.Second)); err != nil {
			return err
		}
		org.OfflineGrace = g
		hd, err = s.audit(ctx, tx, orgID, sess.UserID, store.ActionOrgPolicy, fmt.Sprintf("%s offline_grace=%d", orgID, int64(g/time.Second)), store.ResultOK)
		return err
	})
	if err != nil {
		return store.Org{}, store.AuditHead{}, err
	}
	return org, hd, nil
}

// Kick implements store.Store.
func (s *Store) Kick(ctx context.Context, tok store.TokenHash, orgID, userID string, opts store.KickOptions) (store.KickResult, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.KickResult{}, err
	}
	if err := checkID(ident.User, userID); err != nil {
		return store.KickResult{}, err
	}
	var res store.KickResult
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		res = store.KickResult{}
		if err := s.lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		actor, target, err := s.actorAndTarget(ctx, tx, orgID, sess.UserID, userID)
		if err != nil {
			return err
		}
		if err := requireRole(actor, store.RoleAdmin); err != nil {
			return err
		}
		if target.Role == store.RoleOwner {
			if actor.Role != store.RoleOwner {
				return store.ErrForbidden
			}
			if target.Status == store.StatusActive {
				n, err := s.otherOwners(ctx, tx, orgID, userID)
				if err != nil {
					return err
				}
				if n == 0 {
					return store.ErrLastOwner
				}
			}
		}
		res.Member = target
		if target.Status == store.StatusActive {
			if _, err := tx.Exec(ctx, `
				UPDATE memberships SET status = 'revoked', revoked_at = $3, updated_at = $3
				WHERE org_id = $1 AND user_id = $2`, orgID, userID, now); err != nil {
				return err
			}
			res.Member.Status, res.Member.RevokedAt, res.Member.UpdatedAt = store.StatusRevoked, now, now
		}
		if res.RevokedInvites, err = ids(ctx, tx, `
			UPDATE invites SET revoked_at = $4, revoked_reason = 'kick'
			WHERE org_id = $1 AND (created_by = $2 OR email = $3) AND consumed_at IS NULL AND revoked_at IS NULL
			  AND expires_at > $4
			RETURNING id`, orgID, userID, target.Email, now); err != nil {
			return err
		}
		active := `org_id = $1 AND minted_by = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)`
		if opts.KeepDeploys {
			res.KeptDeploys, err = ids(ctx, tx, `SELECT id FROM deploys WHERE `+active, orgID, userID, now)
		} else {
			res.RevokedDeploys, err = ids(ctx, tx, `
				UPDATE deploys SET revoked_at = $3, revoked_reason = 'kick'
				WHERE `+active+` RETURNING id`, orgID, userID, now)
		}
		if err != nil {
			return err
		}
		sort.Strings(res.RevokedInvites)
		sort.Strings(res.RevokedDeploys)
		sort.Strings(res.KeptDeploys)
		store.RunHook(ctx, store.HookKickLocked)
		what := fmt.Sprintf("%s invites=%d deploys=%d kept=%d", userID, len(res.RevokedInvites), len(res.RevokedDeploys), len(res.KeptDeploys))
		res.Audit, err = s.audit(ctx, tx, orgID, sess.UserID, store.ActionKick, what, store.ResultOK)
		return err
	})
	if err != nil {
		return store.KickResult{}, err
	}
	return res, nil
}
