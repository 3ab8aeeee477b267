package sqlstore

import (
	"context"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const inviteCols = `i.id, i.org_id, i.email, i.kind, i.role, i.created_by, cu.email, i.created_at, i.expires_at, i.redeemed_at, i.consumed_at, i.revoked_at, COALESCE(i.revoked_reason, '')`
const inviteFrom = ` FROM invites i JOIN users cu ON cu.id = i.created_by`

func scanInvite(r Row) (store.Invite, error) {
	var (
		i store.Invite
		t [5]Time
	)
	err := r.Scan(&i.ID, &i.OrgID, &i.Email, &i.Kind, &i.Role, &i.CreatedBy, &i.CreatedByEmail, &t[0], &t[1], &t[2], &t[3], &t[4], &i.RevokedReason)
	i.CreatedAt, i.ExpiresAt, i.RedeemedAt, i.ConsumedAt, i.RevokedAt = t[0].T, t[1].T, t[2].T, t[3].T, t[4].T
	return i, err
}

func (s *Store) invite(ctx context.Context, tx Tx, id, lock string) (store.Invite, error) {
	return scanInvite(tx.QueryRow(ctx, `SELECT `+inviteCols+inviteFrom+` WHERE i.id = $1`+lock, id))
}

// inviteState returns the error for an invite that can no longer be used.
func inviteState(i store.Invite, now time.Time) error {
	switch {
	case !i.RevokedAt.IsZero():
		return store.ErrRevoked
	case !i.ConsumedAt.IsZero():
		return store.ErrConsumed
	case !now.Before(i.ExpiresAt):
		return store.ErrExpired
	}
	return nil
}

// CreateInvite implements store.Store.
func (s *Store) CreateInvite(ctx context.Context, tok store.TokenHash, in store.NewInvite) (store.Invite, store.AuditHead, error) {
	if err := checkNewInvite(in); err != nil {
		return store.Invite{}, store.AuditHead{}, err
	}
	var (
		inv store.Invite
		hd  store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		actor, err := s.activeMember(ctx, tx, in.OrgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if !now.Before(in.ExpiresAt) {
			return invalid("invite expiry is not in the future")
		}
		switch in.Kind {
		case store.InviteMember:
			if err := requireRole(actor, store.RoleAdmin); err != nil {
				return err
			}
			if !actor.Role.AtLeast(in.Role) {
				return store.ErrForbidden // no one grants more than they hold
			}
			var status string
			err := tx.QueryRow(ctx, `SELECT m.status`+memberFrom+` WHERE m.org_id = $1 AND u.email = $2`, in.OrgID, in.Email).Scan(&status)
			switch {
			case err == nil && status == string(store.StatusActive):
				return store.ErrAlreadyMember
			case err != nil && !errorsIsNotFound(err):
				return err
			}
		case store.InviteDevice:
			if in.Email != sess.Email {
				return store.ErrForbidden
			}
		}
		var open int64
		if err := tx.QueryRow(ctx, `
			SELECT count(*) FROM invites
			WHERE org_id = $1 AND consumed_at IS NULL AND revoked_at IS NULL AND expires_at > $2`, in.OrgID, now).Scan(&open); err != nil {
			return err
		}
		if open >= store.MaxOpenInvites {
			return &store.LimitError{What: "open invites", Limit: store.MaxOpenInvites}
		}
		inv = store.Invite{
			ID: in.ID, OrgID: in.OrgID, Email: in.Email, Kind: in.Kind, Role: in.Role,
			CreatedBy: sess.UserID, CreatedByEmail: sess.Email, CreatedAt: now, ExpiresAt: in.ExpiresAt.UTC().Truncate(time.Microsecond),
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO invites (id, org_id, email, kind, role, created_by, created_at, expires_at, blob)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			inv.ID, inv.OrgID, inv.Email, string(inv.Kind), string(inv.Role), inv.CreatedBy, now, inv.ExpiresAt, in.Blob); err != nil {
			return err
		}
		target := inv.ID + " kind=" + string(inv.Kind) + " email=" + inv.Email
		if inv.Kind == store.InviteMember {
			target += " role=" + string(inv.Role)
		}
		hd, err = s.audit(ctx, tx, in.OrgID, sess.UserID, store.ActionInvite, target, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Invite{}, store.AuditHead{}, err
	}
	return inv, hd, nil
}

func checkNewInvite(in store.NewInvite) error {
	if err := checkID(ident.Invite, in.ID); err != nil {
		return err
	}
	if err := checkID(ident.Org, in.OrgID); err != nil {
		return err
	}
	if err := checkEmail(in.Email); err != nil {
		return err
	}
	switch in.Kind {
	case store.InviteMember:
		if err := checkRole(in.Role); err != nil {
			return err
		}
	case store.InviteDevice:
		if in.Role != "" {
			return invalid("a device invite carries no role")
		}
	default:
		return invalid("unknown invite kind %q", in.Kind)
	}
	if in.ExpiresAt.IsZero() {
		return invalid("invite has no expiry")
	}
	if len(in.Blob) == 0 {
		return invalid("empty invite blob")
	}
	return nil
}

// ListInvites implements store.Store.
func (s *Store) ListInvites(ctx context.Context, tok store.TokenHash, orgID string) ([]store.Invite, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, err
	}
	var out []store.Invite
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		if m.Role.AtLeast(store.RoleAdmin) {
			out, err = collect(ctx, tx, scanInvite, `SELECT `+inviteCols+inviteFrom+` WHERE i.org_id = $1 ORDER BY i.created_at DESC, i.id DESC`, orgID)
		} else {
			out, err = collect(ctx, tx, scanInvite, `SELECT `+inviteCols+inviteFrom+`
				WHERE i.org_id = $1 AND i.created_by = $2 ORDER BY i.created_at DESC, i.id DESC`, orgID, sess.UserID)
		}
		return err
	})
	return out, err
}

// RevokeInvite implements store.Store.
func (s *Store) RevokeInvite(ctx context.Context, tok store.TokenHash, orgID, inviteID string) (store.Invite, store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.Invite{}, store.AuditHead{}, err
	}
	if err := checkID(ident.Invite, inviteID); err != nil {
		return store.Invite{}, store.AuditHead{}, err
	}
	var (
		inv store.Invite
		hd  store.AuditHead
	)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		hd = store.AuditHead{}
		actor, err := s.activeMember(ctx, tx, orgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if inv, err = s.invite(ctx, tx, inviteID, s.forUpdate("i")); err != nil {
			return err
		}
		if inv.OrgID != orgID || (inv.CreatedBy != sess.UserID && !actor.Role.AtLeast(store.RoleAdmin)) {
			return store.ErrNotFound
		}
		if !inv.Open(now) {
			return nil // idempotent: nothing to do, no row
		}
		if _, err := tx.Exec(ctx, `UPDATE invites SET revoked_at = $2, revoked_reason = 'manual' WHERE id = $1`, inviteID, now); err != nil {
			return err
		}
		inv.RevokedAt, inv.RevokedReason = now, store.ReasonManual
		hd, err = s.audit(ctx, tx, inv.OrgID, sess.UserID, store.ActionInviteRevoke, inviteID, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Invite{}, store.AuditHead{}, err
	}
	return inv, hd, nil
}

// Redeem implements store.Store.
func (s *Store) Redeem(ctx context.Context, tok store.TokenHash, inviteID string, open store.OpenFunc) (store.Redemption, error) {
	if err := checkID(ident.Invite, inviteID); err != nil {
		return store.Redemption{}, err
	}
	var r store.Redemption
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		r = store.Redemption{}
		inv, err := s.invite(ctx, tx, inviteID, "")
		if err != nil {
			return err
		}
		// The e-mail binding comes first: to anyone else the invite's
		// state is not revealed.
		if inv.Email != sess.Email {
			return store.ErrForbidden
		}
		// The state, as read now, before the membership of a device
		// invite (docs/api.md §4.4 gives that order); it is checked again
		// under lock below.
		if err := inviteState(inv, now); err != nil {
			return err
		}
		// Lock order: membership, then invite.
		var m store.Member
		switch inv.Kind {
		case store.InviteMember:
			// Insert-if-absent then lock, so concurrent redeems of two
			// invites for one person cannot collide. Rolled back with the
			// rest if the invite turns out to be unusable.
			if _, err := tx.Exec(ctx, `
				INSERT INTO memberships (org_id, user_id, role, status, created_at, updated_at, joined_at)
				VALUES ($1, $2, $3, 'active', $4, $4, $4)
				ON CONFLICT (org_id, user_id) DO NOTHING`, inv.OrgID, sess.UserID, string(inv.Role), now); err != nil {
				return err
			}
			if m, err = s.member(ctx, tx, inv.OrgID, sess.UserID, s.forUpdate("m")); err != nil {
				return err
			}
		case store.InviteDevice:
			if m, err = s.activeMember(ctx, tx, inv.OrgID, sess.UserID, s.forShare("m")); err != nil {
				return err
			}
		}
		if inv, err = s.invite(ctx, tx, inviteID, s.forUpdate("i")); err != nil {
			return err
		}
		if err := inviteState(inv, now); err != nil {
			return err
		}
		if inv.Kind == store.InviteMember && m.Status != store.StatusActive {
			// A revoked member invited again by an admin comes back with
			// the new invite's role.
			if _, err := tx.Exec(ctx, `
				UPDATE memberships SET status = 'active', role = $3, revoked_at = NULL, updated_at = $4, joined_at = $4
				WHERE org_id = $1 AND user_id = $2`, inv.OrgID, sess.UserID, string(inv.Role), now); err != nil {
				return err
			}
			m.Status, m.Role, m.RevokedAt, m.UpdatedAt, m.JoinedAt = store.StatusActive, inv.Role, time.Time{}, now, now
		}
		if inv.RedeemedAt.IsZero() {
			if _, err := tx.Exec(ctx, `UPDATE invites SET redeemed_at = $2 WHERE id = $1`, inviteID, now); err != nil {
				return err
			}
			inv.RedeemedAt = now
		}
		if err := tx.QueryRow(ctx, `SELECT blob FROM invites WHERE id = $1`, inviteID).Scan(&r.Blob); err != nil {
			return err
		}
		// Opened before the row and the commit: a blob that does not
		// open (a KEK this service lacks) undoes the redeem.
		if err := s.openStored(ctx, tx, open, `UPDATE invites SET blob = $2 WHERE id = $1`, inviteID, inv.OrgID, r.Blob); err != nil {
			return err
		}
		var at Time
		if err := tx.QueryRow(ctx, `SELECT `+orgCols+` FROM orgs o WHERE o.id = $1`, inv.OrgID).Scan(scanOrgInto(&r.Org, &at)...); err != nil {
			return err
		}
		r.Org.CreatedAt = at.T
		r.Invite, r.Member = inv, m
		r.Audit, err = s.audit(ctx, tx, inv.OrgID, sess.UserID, store.ActionRedeem, inviteID+" kind="+string(inv.Kind), store.ResultOK)
		return err
	})
	if err != nil {
		return store.Redemption{}, err
	}
	return r, nil
}
