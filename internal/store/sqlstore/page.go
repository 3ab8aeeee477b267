package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// Paged lists (docs/storage.md "Paged lists"). Each List…Page reads one
// page with one statement of this shape:
//
//	SELECT … WHERE <scope> [AND <filters>] [AND <after the key>]
//	ORDER BY <key>, <id> LIMIT <limit + 1>
//
// where an index (migration 00004) starts with the scope's equality
// columns and continues with the key and the id, so the database starts
// reading at the key and stops after limit+1 rows (one more than the page,
// to know whether another follows). The statement's text depends only on
// which filters and whether a key are present, never on values.

// pageLimit checks a page's limit.
func pageLimit(n int) error {
	if n < 1 || n > store.MaxPageLimit {
		return invalid("a page holds 1 to %d items, not %d", store.MaxPageLimit, n)
	}
	return nil
}

// pageSQL builds the text and arguments of a page statement.
type pageSQL struct {
	q    string
	args []any
}

// arg adds an argument and returns its placeholder.
func (b *pageSQL) arg(v any) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args))
}

// where adds " AND cond" with the argument v in place of %s.
func (b *pageSQL) where(cond string, v any) {
	b.q += " AND " + fmt.Sprintf(cond, b.arg(v))
}

// after adds the condition that keeps the rows after the key (at, id) in
// the order key, then idCol, descending if desc, unless the key is the
// start of the list. It is a range on the key and a tie-break on the id,
// not the row comparison (key, id) > (at, id): SQLite uses a row
// comparison as an index range only on plain columns, and the members'
// key is an expression. Rows of the key's own time with ids before it are
// the only ones read and dropped.
func (b *pageSQL) after(key, idCol string, desc bool, k store.TimeKey) {
	if k.IsZero() {
		return
	}
	gt, ge := ">", ">="
	if desc {
		gt, ge = "<", "<="
	}
	at, id := b.arg(k.At.UTC()), b.arg(k.ID)
	b.q += fmt.Sprintf(" AND %s %s %s AND (%s %s %s OR %s %s %s)", key, ge, at, key, gt, at, idCol, gt, id)
}

// order adds the ORDER BY of the key and the id and the LIMIT of limit+1.
func (b *pageSQL) order(key, idCol string, desc bool, limit int) {
	dir := ""
	if desc {
		dir = " DESC"
	}
	b.q += fmt.Sprintf(" ORDER BY %s%s, %s%s LIMIT %s", key, dir, idCol, dir, b.arg(limit+1))
}

// readPage runs a page statement (passing it to the list hook first) and
// cuts the extra row.
func readPage[T any](ctx context.Context, tx Tx, scan func(Row) (T, error), limit int, b *pageSQL) (store.Page[T], error) {
	store.RunListHook(ctx, b.q, b.args)
	items, err := collect(ctx, tx, scan, b.q, b.args...)
	if err != nil {
		return store.Page[T]{}, err
	}
	p := store.Page[T]{Items: items}
	if len(items) > limit {
		p.Items, p.More = items[:limit], true
	}
	return p, nil
}

// wholeMicros is t for a comparison "stored time > t": stored times are
// whole microseconds, so for them it is the same comparison with t cut to
// a microsecond, which both dialects hold exactly (PostgreSQL would round
// a finer time, SQLite's text would cut it).
func wholeMicros(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// memberKey is the members' order, as the memberships indexes of
// migration 00004 hold it (rows from schema v1 have no joined_at).
const memberKey = `COALESCE(m.joined_at, m.created_at)`

// ListOrgsPage implements store.Store. The order is the orgs' but the
// scope is the caller's memberships (memberships_user_id): the caller's
// active memberships are read and sorted, one org row each, so a page
// costs as much as the caller has orgs, not as the database has.
func (s *Store) ListOrgsPage(ctx context.Context, tok store.TokenHash, p store.PageQuery) (store.Page[store.OrgMembership], error) {
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.OrgMembership]{}, err
	}
	var out store.Page[store.OrgMembership]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		b := &pageSQL{q: `SELECT ` + orgCols + `, ` + memberCols + memberFrom + ` JOIN orgs o ON o.id = m.org_id WHERE m.user_id = $1 AND m.status = 'active'`,
			args: []any{sess.UserID}}
		b.after("o.created_at", "o.id", false, p.After)
		b.order("o.created_at", "o.id", false, p.Limit)
		var err error
		out, err = readPage(ctx, tx, scanOrgMembership, p.Limit, b)
		return err
	})
	return out, err
}

// ListMembersPage implements store.Store. Index memberships_org_status_joined
// with a status, memberships_org_joined without; an e-mail selects at most
// one user (users.email is unique).
func (s *Store) ListMembersPage(ctx context.Context, tok store.TokenHash, orgID string, f store.MemberFilter, p store.PageQuery) (store.Page[store.Member], error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Page[store.Member]{}, err
	}
	if f.Status != "" && f.Status != store.StatusActive && f.Status != store.StatusRevoked {
		return store.Page[store.Member]{}, invalid("unknown membership status %q", f.Status)
	}
	if f.Email != "" {
		if err := checkEmail(f.Email); err != nil {
			return store.Page[store.Member]{}, err
		}
	}
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Member]{}, err
	}
	var out store.Page[store.Member]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		b := &pageSQL{q: `SELECT ` + memberCols + memberFrom + ` WHERE m.org_id = $1`, args: []any{orgID}}
		if f.Status != "" {
			b.where("m.status = %s", string(f.Status))
		}
		if f.Email != "" {
			b.where("u.email = %s", f.Email)
		}
		b.after(memberKey, "m.user_id", false, p.After)
		b.order(memberKey, "m.user_id", false, p.Limit)
		var err error
		out, err = readPage(ctx, tx, scanMember, p.Limit, b)
		return err
	})
	return out, err
}

// ListInvitesPage implements store.Store. Index invites_org_created for
// admins, invites_org_creator_created for members; whether an invite is
// open is a filter on the rows the index yields.
func (s *Store) ListInvitesPage(ctx context.Context, tok store.TokenHash, orgID string, openAt time.Time, p store.PageQuery) (store.Page[store.Invite], error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Page[store.Invite]{}, err
	}
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Invite]{}, err
	}
	var out store.Page[store.Invite]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		b := &pageSQL{q: `SELECT ` + inviteCols + inviteFrom + ` WHERE i.org_id = $1`, args: []any{orgID}}
		if !m.Role.AtLeast(store.RoleAdmin) {
			b.where("i.created_by = %s", sess.UserID)
		}
		if !openAt.IsZero() {
			b.where("i.consumed_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > %s", wholeMicros(openAt))
		}
		b.after("i.created_at", "i.id", true, p.After)
		b.order("i.created_at", "i.id", true, p.Limit)
		out, err = readPage(ctx, tx, scanInvite, p.Limit, b)
		return err
	})
	return out, err
}

// ListProjectsPage implements store.Store (index projects_org_created).
func (s *Store) ListProjectsPage(ctx context.Context, tok store.TokenHash, orgID string, p store.PageQuery) (store.Page[store.Project], error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Page[store.Project]{}, err
	}
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Project]{}, err
	}
	var out store.Page[store.Project]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		b := &pageSQL{q: `SELECT ` + projectCols + projectFrom + ` WHERE p.org_id = $1`, args: []any{orgID}}
		b.after("p.created_at", "p.id", false, p.After)
		b.order("p.created_at", "p.id", false, p.Limit)
		var err error
		out, err = readPage(ctx, tx, scanProject, p.Limit, b)
		return err
	})
	return out, err
}

// ListEnvsPage implements store.Store (index environments_project_created).
func (s *Store) ListEnvsPage(ctx context.Context, tok store.TokenHash, orgID, projectID string, p store.PageQuery) (store.Page[store.Env], error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Page[store.Env]{}, err
	}
	if err := checkID(ident.Project, projectID); err != nil {
		return store.Page[store.Env]{}, err
	}
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Env]{}, err
	}
	var out store.Page[store.Env]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, err := s.activeMember(ctx, tx, orgID, sess.UserID, ""); err != nil {
			return err
		}
		prj, err := s.project(ctx, tx, projectID)
		if err != nil {
			return err
		}
		if prj.OrgID != orgID {
			return store.ErrNotFound
		}
		b := &pageSQL{q: `SELECT ` + envCols + ` FROM environments WHERE project_id = $1`, args: []any{projectID}}
		b.after("created_at", "id", false, p.After)
		b.order("created_at", "id", false, p.Limit)
		out, err = readPage(ctx, tx, scanEnv, p.Limit, b)
		return err
	})
	return out, err
}

// ListVersionsPage implements store.Store: a backward range scan of the
// primary key (env_id, version).
func (s *Store) ListVersionsPage(ctx context.Context, tok store.TokenHash, envID string, before int64, limit int) (store.Page[store.Version], error) {
	if err := checkID(ident.Env, envID); err != nil {
		return store.Page[store.Version]{}, err
	}
	if err := pageLimit(limit); err != nil {
		return store.Page[store.Version]{}, err
	}
	var out store.Page[store.Version]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		if _, _, err := s.memberEnv(ctx, tx, envID, sess.UserID, ""); err != nil {
			return err
		}
		b := &pageSQL{q: `SELECT ` + versionCols + versionFrom + ` WHERE v.env_id = $1`, args: []any{envID}}
		if before > 0 {
			b.where("v.version < %s", before)
		}
		b.q += " ORDER BY v.version DESC LIMIT " + b.arg(limit+1)
		var err error
		out, err = readPage(ctx, tx, scanVersion, limit, b)
		return err
	})
	return out, err
}

// ListDeploysPage implements store.Store. Index deploys_env_created for
// one environment, deploys_org_minter_created for one minter,
// deploys_org_created otherwise; whether a token is active is a filter on
// the rows the index yields.
func (s *Store) ListDeploysPage(ctx context.Context, tok store.TokenHash, orgID string, f store.DeployFilter, p store.PageQuery) (store.Page[store.Deploy], error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Page[store.Deploy]{}, err
	}
	if f.EnvID != "" {
		if err := checkID(ident.Env, f.EnvID); err != nil {
			return store.Page[store.Deploy]{}, err
		}
	}
	if f.MintedBy != "" {
		if err := checkID(ident.User, f.MintedBy); err != nil {
			return store.Page[store.Deploy]{}, err
		}
	}
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Deploy]{}, err
	}
	var out store.Page[store.Deploy]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		if err := requireRole(m, store.RoleAdmin); err != nil {
			return err
		}
		b := &pageSQL{q: `SELECT ` + deployCols + deployFrom + ` WHERE d.org_id = $1`, args: []any{orgID}}
		if f.EnvID != "" {
			b.where("d.env_id = %s", f.EnvID)
		}
		if f.MintedBy != "" {
			b.where("d.minted_by = %s", f.MintedBy)
		}
		if !f.ActiveAt.IsZero() {
			b.where("d.revoked_at IS NULL AND (d.expires_at IS NULL OR d.expires_at > %s)", wholeMicros(f.ActiveAt))
		}
		b.after("d.created_at", "d.id", true, p.After)
		b.order("d.created_at", "d.id", true, p.Limit)
		out, err = readPage(ctx, tx, scanDeploy, p.Limit, b)
		return err
	})
	return out, err
}

// ListSessionsPage implements store.Store (index sessions_user_created; a
// user has at most store.MaxSessions sessions). Live means what
// Store.live means: before the absolute expiry and the idle one.
func (s *Store) ListSessionsPage(ctx context.Context, tok store.TokenHash, p store.PageQuery) (store.Page[store.Session], error) {
	if err := pageLimit(p.Limit); err != nil {
		return store.Page[store.Session]{}, err
	}
	var out store.Page[store.Session]
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		// now < last_seen_at + idle ⇔ last_seen_at > now − idle.
		seenAfter := wholeMicros(now.Add(-s.cfg.SessionIdle))
		b := &pageSQL{q: `SELECT ` + sessionCols + sessionFrom + ` WHERE s.user_id = $1 AND s.expires_at > $2 AND s.last_seen_at > $3`,
			args: []any{sess.UserID, now, seenAfter}}
		b.after("s.created_at", "s.id", true, p.After)
		b.order("s.created_at", "s.id", true, p.Limit)
		var err error
		if out, err = readPage(ctx, tx, s.scanSession, p.Limit, b); err != nil {
			return err
		}
		for i := range out.Items {
			out.Items[i].Current = out.Items[i].ID == sess.ID
		}
		return nil
	})
	return out, err
}
