package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

const shareCols = `id, kind, COALESCE(org_id, ''), COALESCE(created_by, ''), public_key, views_left, created_at, expires_at, filled_at, gone_at, COALESCE(gone_reason, ''), blob IS NOT NULL`

func scanShare(r Row) (store.Share, error) {
	var (
		sh     store.Share
		t      [4]Time
		reason string
		sealed bool
	)
	err := r.Scan(&sh.ID, &sh.Kind, &sh.OrgID, &sh.CreatedBy, &sh.PublicKey, &sh.ViewsLeft, &t[0], &t[1], &t[2], &t[3], &reason, &sealed)
	sh.CreatedAt, sh.ExpiresAt, sh.FilledAt, sh.GoneAt = t[0].T, t[1].T, t[2].T, t[3].T
	switch {
	case reason == "opened":
		sh.State = store.ShareOpened
	case reason == "expired":
		sh.State = store.ShareExpired
	case sealed:
		sh.State = store.ShareReady
	default:
		sh.State = store.SharePending
	}
	return sh, err
}

func (s *Store) share(ctx context.Context, tx Tx, id, lock string) (store.Share, error) {
	return scanShare(tx.QueryRow(ctx, `SELECT `+shareCols+` FROM shares WHERE id = $1`+lock, id))
}

// shareGone is the error for a share that can no longer be used, or nil.
func shareGone(sh store.Share, now time.Time) error {
	switch {
	case sh.State == store.ShareOpened:
		return store.ErrConsumed
	case sh.State == store.ShareExpired, !now.Before(sh.ExpiresAt):
		return store.ErrExpired
	}
	return nil
}

// CreateShareRequest implements store.Store.
func (s *Store) CreateShareRequest(ctx context.Context, id string, publicKey []byte) (store.Share, error) {
	if err := checkShareID(id); err != nil {
		return store.Share{}, err
	}
	if len(publicKey) == 0 || len(publicKey) > 1024 {
		return store.Share{}, invalid("a share request's public key is 1 to 1024 bytes")
	}
	now := s.now()
	sh := store.Share{ID: id, Kind: store.ShareRequest, State: store.SharePending, PublicKey: publicKey, ViewsLeft: 1,
		CreatedAt: now, ExpiresAt: now.Add(store.ShareRequestTTL)}
	err := s.db.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO shares (id, kind, public_key, views_left, created_at, expires_at)
			VALUES ($1, 'request', $2, 1, $3, $4)`, id, publicKey, now, sh.ExpiresAt)
		return err
	})
	if err != nil {
		return store.Share{}, err
	}
	return sh, nil
}

// GetShareRequest implements store.Store.
func (s *Store) GetShareRequest(ctx context.Context, tok store.TokenHash, id string) (store.Share, error) {
	if err := checkShareID(id); err != nil {
		return store.Share{}, err
	}
	var sh store.Share
	err := s.readAuthed(ctx, tok, func(tx Tx, _ store.Session, now time.Time) error {
		var err error
		if sh, err = s.share(ctx, tx, id, ""); err != nil {
			return err
		}
		return pendingRequest(sh, now)
	})
	if err != nil {
		return store.Share{}, err
	}
	return sh, nil
}

// pendingRequest is nil for a request a member may still answer.
func pendingRequest(sh store.Share, now time.Time) error {
	if sh.Kind != store.ShareRequest {
		return store.ErrNotFound
	}
	if err := shareGone(sh, now); err != nil {
		return err
	}
	if sh.State != store.SharePending {
		return store.ErrConsumed
	}
	return nil
}

// CreateShare implements store.Store.
func (s *Store) CreateShare(ctx context.Context, tok store.TokenHash, in store.NewShare) (store.Share, store.AuditHead, error) {
	if err := checkNewShare(in); err != nil {
		return store.Share{}, store.AuditHead{}, err
	}
	var (
		sh store.Share
		hd store.AuditHead
	)
	expires := in.ExpiresAt.UTC().Truncate(time.Microsecond)
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		if _, err := s.activeMember(ctx, tx, in.OrgID, sess.UserID, s.forShare("m")); err != nil {
			return err
		}
		if !now.Before(expires) || expires.Sub(now) > store.ShareMaxTTL {
			return invalid("a share's expiry must be in the future and at most %s away", store.ShareMaxTTL)
		}
		views := in.Views
		switch in.Kind {
		case store.ShareRequest:
			var err error
			if sh, err = s.share(ctx, tx, in.ID, s.forUpdate("shares")); err != nil {
				return err
			}
			if err := pendingRequest(sh, now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `
				UPDATE shares SET org_id = $2, created_by = $3, blob = $4, filled_at = $5, expires_at = $6
				WHERE id = $1`, in.ID, in.OrgID, sess.UserID, in.Blob, now, expires); err != nil {
				return err
			}
			views = 1
		case store.ShareLink:
			if _, err := tx.Exec(ctx, `
				INSERT INTO shares (id, kind, org_id, created_by, blob, views_left, created_at, expires_at, filled_at)
				VALUES ($1, 'link', $2, $3, $4, $5, $6, $7, $6)`, in.ID, in.OrgID, sess.UserID, in.Blob, views, now, expires); err != nil {
				return err
			}
			sh = store.Share{ID: in.ID, Kind: store.ShareLink, CreatedAt: now}
		}
		sh.State, sh.OrgID, sh.CreatedBy, sh.ViewsLeft, sh.ExpiresAt, sh.FilledAt = store.ShareReady, in.OrgID, sess.UserID, views, expires, now
		target := fmt.Sprintf("%s kind=%s views=%d expires=%s", in.ID, in.Kind, views, expires.Format(time.RFC3339))
		var err error
		hd, err = s.audit(ctx, tx, in.OrgID, sess.UserID, store.ActionShareCreate, target, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Share{}, store.AuditHead{}, err
	}
	return sh, hd, nil
}

func checkShareID(id string) error {
	if err := ident.CheckShareID(id); err != nil {
		return invalid("%v", err)
	}
	return nil
}

func checkNewShare(in store.NewShare) error {
	if err := checkShareID(in.ID); err != nil {
		return err
	}
	if err := checkID(ident.Org, in.OrgID); err != nil {
		return err
	}
	switch in.Kind {
	case store.ShareRequest:
		if in.Views != 0 && in.Views != 1 {
			return invalid("an answered request is opened once")
		}
	case store.ShareLink:
		if in.Views < 1 || in.Views > store.ShareMaxViews {
			return invalid("a link share allows 1 to %d views", store.ShareMaxViews)
		}
	default:
		return invalid("unknown share kind %q", in.Kind)
	}
	if len(in.Blob) == 0 {
		return invalid("empty share blob")
	}
	if in.ExpiresAt.IsZero() {
		return invalid("a share has no expiry")
	}
	return nil
}

// OpenShare implements store.Store.
func (s *Store) OpenShare(ctx context.Context, id string) (store.Share, error) {
	if err := checkShareID(id); err != nil {
		return store.Share{}, err
	}
	var (
		sh   store.Share
		gone error // the share's state, returned after the expiry commits
	)
	err := s.db.Write(ctx, func(tx Tx) error {
		gone = nil
		now := s.now()
		var err error
		if sh, err = s.share(ctx, tx, id, s.forUpdate("shares")); err != nil {
			return err
		}
		if gone = shareGone(sh, now); gone != nil {
			if sh.State == store.SharePending || sh.State == store.ShareReady {
				return s.expireShare(ctx, tx, sh, now)
			}
			return nil
		}
		if sh.State == store.SharePending {
			return nil
		}
		if err := tx.QueryRow(ctx, `SELECT blob FROM shares WHERE id = $1`, id).Scan(&sh.Blob); err != nil {
			return err
		}
		sh.ViewsLeft--
		if sh.ViewsLeft <= 0 {
			sh.ViewsLeft, sh.State, sh.GoneAt, sh.PublicKey = 0, store.ShareOpened, now, nil
			_, err = tx.Exec(ctx, `
				UPDATE shares SET views_left = 0, public_key = NULL, blob = NULL, gone_at = $2, gone_reason = 'opened'
				WHERE id = $1`, id, now)
		} else {
			_, err = tx.Exec(ctx, `UPDATE shares SET views_left = $2 WHERE id = $1`, id, sh.ViewsLeft)
		}
		if err != nil {
			return err
		}
		target := fmt.Sprintf("%s kind=%s views_left=%d", id, sh.Kind, sh.ViewsLeft)
		_, err = s.audit(ctx, tx, sh.OrgID, store.ActorRecipient, store.ActionShareOpen, target, store.ResultOK)
		return err
	})
	if err != nil {
		return store.Share{}, err
	}
	if gone != nil {
		return store.Share{}, gone
	}
	return sh, nil
}

// expireShare forgets a share's key and blob at its expiry, audited in
// its org when a member had sealed it.
func (s *Store) expireShare(ctx context.Context, tx Tx, sh store.Share, now time.Time) error {
	if _, err := tx.Exec(ctx, `
		UPDATE shares SET public_key = NULL, blob = NULL, gone_at = $2, gone_reason = 'expired'
		WHERE id = $1`, sh.ID, now); err != nil {
		return err
	}
	if sh.OrgID == "" {
		return nil
	}
	_, err := s.audit(ctx, tx, sh.OrgID, store.ActorExpiry, store.ActionShareExpire, sh.ID+" kind="+string(sh.Kind), store.ResultOK)
	return err
}

// SweepShares implements store.Store. Each share expires in its own
// transaction, so a big sweep never holds many orgs' audit heads at once.
func (s *Store) SweepShares(ctx context.Context) (int64, error) {
	now := s.now()
	var due []string
	err := s.db.Read(ctx, func(tx Tx) error {
		var err error
		due, err = ids(ctx, tx, `SELECT id FROM shares WHERE expires_at <= $1 AND gone_at IS NULL ORDER BY expires_at LIMIT 1000`, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range due {
		err := s.db.Write(ctx, func(tx Tx) error {
			sh, err := s.share(ctx, tx, id, s.forUpdate("shares"))
			if err != nil || !sh.GoneAt.IsZero() || now.Before(sh.ExpiresAt) {
				return notFoundAs(err, nil)
			}
			return s.expireShare(ctx, tx, sh, now)
		})
		if err != nil {
			return n, err
		}
		n++
	}
	err = s.db.Write(ctx, func(tx Tx) error {
		// Unanswered requests belong to no org and leave no tombstone.
		d1, err := tx.Exec(ctx, `DELETE FROM shares WHERE gone_at IS NOT NULL AND (gone_at <= $1 OR org_id IS NULL)`, now.Add(-store.ShareTombstoneTTL))
		if err != nil {
			return err
		}
		n += d1
		return nil
	})
	return n, err
}
