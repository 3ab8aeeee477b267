package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// audit appends one event to the org's chain inside tx. The head row is
// locked for update (PostgreSQL) or the transaction is already exclusive
// (SQLite), so concurrent appends queue and extend one chain. It must be
// the last lock an operation takes. The event time is read here, after
// the lock, so times follow seq on one clock.
func (s *Store) audit(ctx context.Context, tx Tx, orgID, actor, action, target, result string) (store.AuditHead, error) {
	heads, err := s.auditMany(ctx, tx, orgID, []auditRow{{actor: actor, action: action, target: target, result: result}})
	if err != nil {
		return store.AuditHead{}, err
	}
	return heads[0], nil
}

// auditDenied appends a denied row unless one with the same actor and
// action was written in the org within store.DeniedThrottle (docs/api.md
// §1.9: refusals are recorded, but cannot flood the chain). It takes the
// audit head lock first, so concurrent refusals see each other's rows.
func (s *Store) auditDenied(ctx context.Context, tx Tx, orgID, actor, action, target string) error {
	var seq int64
	if err := tx.QueryRow(ctx, `SELECT seq FROM audit_heads WHERE org_id = $1`+s.forUpdate("audit_heads"), orgID).Scan(&seq); err != nil {
		return fmt.Errorf("audit head of %s: %w", orgID, err)
	}
	since := auditchain.FormatTime(s.now().Add(-store.DeniedThrottle))
	var n int64
	if err := tx.QueryRow(ctx, `
		SELECT count(*) FROM audit_events
		WHERE org_id = $1 AND actor = $2 AND action = $3 AND result = 'denied' AND at > $4`,
		orgID, actor, action, since).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err := s.audit(ctx, tx, orgID, actor, action, target, store.ResultDenied)
	return err
}

func (s *Store) auditHead(ctx context.Context, tx Tx, orgID string) (store.AuditHead, error) {
	hd := store.AuditHead{OrgID: orgID}
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_heads WHERE org_id = $1`, orgID).Scan(&hd.Seq, &hd.Hash)
	return hd, err
}

const auditCols = `org_id, seq, at, actor, action, target, result, prev_hash, hash`

func scanAudit(r Row) (store.AuditEvent, error) {
	var (
		e  store.AuditEvent
		at string
	)
	if err := r.Scan(&e.OrgID, &e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Result, &e.PrevHash, &e.Hash); err != nil {
		return e, err
	}
	t, err := auditchain.ParseTime(at)
	if err != nil {
		return e, fmt.Errorf("%w: seq %d: %v", store.ErrChainBroken, e.Seq, err)
	}
	e.Time = t
	return e, nil
}

// maxAuditPage bounds ListAudit.
const maxAuditPage = 1000

// ListAudit implements store.Store.
func (s *Store) ListAudit(ctx context.Context, tok store.TokenHash, orgID string, afterSeq int64, limit int) ([]store.AuditEvent, store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return nil, store.AuditHead{}, err
	}
	if limit <= 0 || limit > maxAuditPage {
		limit = maxAuditPage
	}
	var (
		out []store.AuditEvent
		hd  store.AuditHead
	)
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		if err := requireRole(m, store.RoleAdmin); err != nil {
			return err
		}
		if hd, err = s.auditHead(ctx, tx, orgID); err != nil {
			return err
		}
		q := `SELECT ` + auditCols + ` FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`
		store.RunListHook(ctx, q, []any{orgID, afterSeq, limit})
		out, err = collect(ctx, tx, scanAudit, q, orgID, afterSeq, limit)
		return err
	})
	if err != nil {
		return nil, store.AuditHead{}, err
	}
	return out, hd, nil
}

// VerifyAudit implements store.Store.
func (s *Store) VerifyAudit(ctx context.Context, tok store.TokenHash, orgID string) (store.AuditVerification, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.AuditVerification{}, err
	}
	var v store.AuditVerification
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, "")
		if err != nil {
			return err
		}
		if err := requireRole(m, store.RoleAdmin); err != nil {
			return err
		}
		v, err = s.verify(ctx, tx, orgID)
		return err
	})
	return v, err
}

// verify recomputes an org's chain inside tx.
func (s *Store) verify(ctx context.Context, tx Tx, orgID string) (store.AuditVerification, error) {
	var v store.AuditVerification
	var err error
	if v.Head, err = s.auditHead(ctx, tx, orgID); err != nil {
		return v, err
	}
	rows, err := tx.Query(ctx, `SELECT org_id, seq, at, actor, action, target, result, prev_hash, hash FROM audit_events WHERE org_id = $1 ORDER BY seq`, orgID)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	chain := auditchain.NewVerifier()
	seq := int64(0)
	for rows.Next() {
		var (
			e  store.AuditEvent
			at string
		)
		if err := rows.Scan(&e.OrgID, &e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Result, &e.PrevHash, &e.Hash); err != nil {
			return v, err
		}
		seq++
		v.Rows++
		if v.FirstBadSeq != 0 {
			continue
		}
		t, terr := auditchain.ParseTime(at)
		if terr != nil || chain.Next(auditchain.Event{Seq: e.Seq, Time: t, Actor: e.Actor, Action: e.Action, Target: e.Target, Result: e.Result}, e.PrevHash, e.Hash) != nil {
			v.FirstBadSeq = seq
		}
	}
	if err := rows.Err(); err != nil {
		return v, err
	}
	if last, prev := chain.Head(); v.FirstBadSeq == 0 && (v.Head.Seq != last || v.Head.Hash != prev) {
		v.FirstBadSeq = min(v.Head.Seq, seq) + 1
	}
	v.Valid = v.FirstBadSeq == 0
	return v, nil
}

// VerifyChain implements store.Store.
func (s *Store) VerifyChain(ctx context.Context, orgID string) (store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.AuditHead{}, err
	}
	var hd store.AuditHead
	err := s.db.Read(ctx, func(tx Tx) error {
		var err error
		if hd, err = s.auditHead(ctx, tx, orgID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit_events WHERE org_id = $1 ORDER BY seq`, orgID)
		if err != nil {
			return err
		}
		defer rows.Close()
		chain := auditchain.NewVerifier()
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				return err
			}
			if err := chain.Next(auditchain.Event{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Result: e.Result}, e.PrevHash, e.Hash); err != nil {
				return fmt.Errorf("%w: org %s: %v", store.ErrChainBroken, orgID, err)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if seq, prev := chain.Head(); hd.Seq != seq || hd.Hash != prev {
			return fmt.Errorf("%w: org %s: head (%d) does not match the last event (%d)", store.ErrChainBroken, orgID, hd.Seq, seq)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.AuditHead{}, fmt.Errorf("org %s: %w", orgID, store.ErrNotFound)
		}
		return store.AuditHead{}, err
	}
	return hd, nil
}

// RecordEvent implements store.Store.
func (s *Store) RecordEvent(ctx context.Context, tok store.TokenHash, orgID string, ev store.ClientEvent) (store.AuditHead, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.AuditHead{}, err
	}
	if err := ev.Check(); err != nil {
		return store.AuditHead{}, err
	}
	var hd store.AuditHead
	err := s.authed(ctx, tok, func(tx Tx, sess store.Session, _ time.Time) error {
		m, err := s.activeMember(ctx, tx, orgID, sess.UserID, s.forShare("m"))
		if err != nil {
			return err
		}
		if err := requireRole(m, ev.MinRole()); err != nil {
			return err
		}
		hd, err = s.audit(ctx, tx, orgID, sess.UserID, ev.Action, ev.Target(sess.UserID), store.ResultOK)
		return err
	})
	if err != nil {
		return store.AuditHead{}, err
	}
	return hd, nil
}
