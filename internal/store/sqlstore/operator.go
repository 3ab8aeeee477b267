package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// SecretColumns are the columns that hold key material, a secret's hash or
// what a client's key check is made of: every blob (outer-wrapped invites
// and deploy tokens, environment versions), the deploy verifier, the
// session token hash, the login-code HMAC, the environments' signing keys
// and the orgs' key checks. The operator's methods never name one (a test
// keeps this list in step with the schema: every binary column is here).
var SecretColumns = []string{"blob", "verifier", "token_hash", "code_hash", "signing_key", "key_check", "public_key"}

// Tables are capyd's tables, in the order of docs/storage.md's schema
// table (goose's own table aside): what Inventory counts.
var Tables = []string{"users", "login_codes", "sessions", "orgs", "memberships", "invites",
	"projects", "environments", "env_versions", "deploys", "audit_heads", "audit_events", "rate_limits", "shares"}

// checkOperatorSQL refuses a statement that names a secret column or
// selects every column of a table (a * other than count(*)).
func checkOperatorSQL(q string) error {
	lower := strings.ToLower(q)
	if strings.Contains(strings.ReplaceAll(lower, "count(*)", ""), "*") {
		return fmt.Errorf("sqlstore: an operator's statement may not select every column (*): %s", q)
	}
	words := strings.FieldsFunc(lower, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_')
	})
	for _, w := range words {
		if slices.Contains(SecretColumns, w) {
			return fmt.Errorf("sqlstore: an operator's statement may not name the column %q: %s", w, q)
		}
	}
	return nil
}

// operatorTx is the transaction the operator's methods run on: every
// statement passes checkOperatorSQL before it reaches the database, so
// none of them can read (or write, or compare) a value or a key, whatever
// a later change to them does, and carries OperatorMarker.
type operatorTx struct{ tx Tx }

// OperatorMarker opens every statement of the operator's methods (capyd
// admin, restore-check): a comment the database ignores and the org_id
// statement check (postgres/orgscope_test.go) reads as "across orgs by
// design", so the operator's view needs no list of exact texts there.
// Only operatorTx adds it; no request path runs on an operatorTx.
const OperatorMarker = "/* capy:operator */ "

func (o operatorTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	if err := checkOperatorSQL(q); err != nil {
		return 0, err
	}
	return o.tx.Exec(ctx, OperatorMarker+q, args...)
}

func (o operatorTx) QueryRow(ctx context.Context, q string, args ...any) Row {
	if err := checkOperatorSQL(q); err != nil {
		return errRow{err}
	}
	return o.tx.QueryRow(ctx, OperatorMarker+q, args...)
}

func (o operatorTx) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	if err := checkOperatorSQL(q); err != nil {
		return nil, err
	}
	return o.tx.Query(ctx, OperatorMarker+q, args...)
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (s *Store) operatorRead(ctx context.Context, fn func(Tx) error) error {
	return s.db.Read(ctx, func(tx Tx) error { return fn(operatorTx{tx}) })
}

func (s *Store) operatorWrite(ctx context.Context, fn func(Tx) error) error {
	return s.db.Write(ctx, func(tx Tx) error { return fn(operatorTx{tx}) })
}

// ListAllOrgs implements store.Store.
func (s *Store) ListAllOrgs(ctx context.Context) ([]store.OrgSummary, error) {
	var out []store.OrgSummary
	err := s.operatorRead(ctx, func(tx Tx) error {
		var err error
		out, err = collect(ctx, tx, func(r Row) (store.OrgSummary, error) {
			var (
				o  store.OrgSummary
				at Time
			)
			err := r.Scan(&o.ID, &o.Name, &o.CreatedBy, &at, &o.Members, &o.Revoked, &o.AuditSeq)
			o.CreatedAt = at.T
			return o, err
		}, `
			SELECT o.id, o.name, o.created_by, o.created_at,
				(SELECT count(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'active'),
				(SELECT count(*) FROM memberships m WHERE m.org_id = o.id AND m.status = 'revoked'),
				COALESCE((SELECT h.seq FROM audit_heads h WHERE h.org_id = o.id), 0)
			FROM orgs o ORDER BY o.created_at, o.id`)
		return err
	})
	return out, err
}

// userSummaries reads the users that where selects (a condition on u),
// with their sessions and memberships.
func (s *Store) userSummaries(ctx context.Context, tx Tx, where string, args ...any) ([]store.UserSummary, error) {
	users, err := collect(ctx, tx, func(r Row) (store.UserSummary, error) {
		var (
			u                     store.UserSummary
			created, dis, lastUse Time
		)
		err := r.Scan(&u.ID, &u.Email, &created, &dis, &lastUse, &u.Sessions)
		u.CreatedAt, u.DisabledAt, u.LastSeenAt = created.T, dis.T, lastUse.T
		return u, err
	}, `
		SELECT u.id, u.email, u.created_at, u.disabled_at,
			(SELECT max(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id),
			(SELECT count(*) FROM sessions s WHERE s.user_id = u.id)
		FROM users u WHERE `+where+` ORDER BY u.created_at, u.id`, args...)
	if err != nil || len(users) == 0 {
		return users, err
	}
	byID := make(map[string]*store.UserSummary, len(users))
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	rows, err := tx.Query(ctx, `
		SELECT m.user_id, m.org_id, m.role, m.status FROM memberships m JOIN users u ON u.id = m.user_id
		WHERE `+where+` ORDER BY m.user_id, m.org_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			userID string
			m      store.UserOrg
		)
		if err := rows.Scan(&userID, &m.OrgID, &m.Role, &m.Status); err != nil {
			return nil, err
		}
		if u := byID[userID]; u != nil {
			u.Orgs = append(u.Orgs, m)
		}
	}
	return users, rows.Err()
}

// ListAllUsers implements store.Store.
func (s *Store) ListAllUsers(ctx context.Context) ([]store.UserSummary, error) {
	var out []store.UserSummary
	err := s.operatorRead(ctx, func(tx Tx) error {
		var err error
		out, err = s.userSummaries(ctx, tx, "1 = 1")
		return err
	})
	return out, err
}

// DisableUser implements store.Store. The user row is locked first: a
// CreateSession of the user holds it in share until it commits, so a
// session created while the user is being disabled is either deleted here
// or refused there. Deleting the sessions waits, as RevokeSession does,
// for the user's writes in flight that hold their session.
func (s *Store) DisableUser(ctx context.Context, email string) (store.UserChange, error) {
	return s.setDisabled(ctx, email, true)
}

// EnableUser implements store.Store.
func (s *Store) EnableUser(ctx context.Context, email string) (store.UserChange, error) {
	return s.setDisabled(ctx, email, false)
}

func (s *Store) setDisabled(ctx context.Context, email string, disable bool) (store.UserChange, error) {
	if err := checkEmail(email); err != nil {
		return store.UserChange{}, err
	}
	action := store.ActionUserEnable
	if disable {
		action = store.ActionUserDisable
	}
	now := s.now()
	var res store.UserChange
	err := s.operatorWrite(ctx, func(tx Tx) error {
		res = store.UserChange{}
		var (
			id       string
			disabled Time
		)
		err := tx.QueryRow(ctx, `SELECT id, disabled_at FROM users WHERE email = $1`+s.forUpdate("users"), email).Scan(&id, &disabled)
		if err != nil {
			return err
		}
		if disabled.Valid != disable {
			res.Changed = true
			var at any // NULL: enabled
			if disable {
				at = now
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET disabled_at = $1 WHERE id = $2`, at, id); err != nil {
				return err
			}
		}
		if disable {
			if res.EndedSessions, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		if res.Changed {
			orgs, err := ids(ctx, tx, `SELECT org_id FROM memberships WHERE user_id = $1 AND status = 'active' ORDER BY org_id`, id)
			if err != nil {
				return err
			}
			// One org after another in id order, so two operators' changes
			// lock the audit heads in the same order.
			for _, org := range orgs {
				hd, err := s.audit(ctx, tx, org, store.ActorOperator, action, id, store.ResultOK)
				if err != nil {
					return err
				}
				res.Audit = append(res.Audit, hd)
			}
		}
		users, err := s.userSummaries(ctx, tx, "u.id = $1", id)
		if err != nil {
			return err
		}
		if len(users) != 1 {
			return fmt.Errorf("sqlstore: user %s vanished", id)
		}
		res.User = users[0]
		return nil
	})
	if err != nil {
		return store.UserChange{}, err
	}
	return res, nil
}

// EndUserSessions implements store.Store.
func (s *Store) EndUserSessions(ctx context.Context, email string) (int64, error) {
	if err := checkEmail(email); err != nil {
		return 0, err
	}
	var n int64
	err := s.operatorWrite(ctx, func(tx Tx) error {
		var id string
		if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, email).Scan(&id); err != nil {
			return err
		}
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		return err
	})
	return n, err
}

// AuditStatus implements store.Store.
func (s *Store) AuditStatus(ctx context.Context, orgID string) (store.AuditVerification, error) {
	if err := checkID(ident.Org, orgID); err != nil {
		return store.AuditVerification{}, err
	}
	var v store.AuditVerification
	err := s.operatorRead(ctx, func(tx Tx) error {
		var err error
		v, err = s.verify(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return store.AuditVerification{}, fmt.Errorf("org %s: %w", orgID, err)
	}
	return v, nil
}

// Inventory implements store.Store.
func (s *Store) Inventory(ctx context.Context) (store.Inventory, error) {
	var inv store.Inventory
	err := s.operatorRead(ctx, func(tx Tx) error {
		inv = store.Inventory{}
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+VersionTable).Scan(&inv.SchemaVersion); err != nil {
			return fmt.Errorf("schema version: %w", err)
		}
		for _, t := range Tables {
			c := store.TableCount{Table: t}
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+t).Scan(&c.Rows); err != nil {
				return fmt.Errorf("count %s: %w", t, err)
			}
			inv.Tables = append(inv.Tables, c)
		}
		if s.d.IntegrityCheck == "" {
			return nil
		}
		// Row counts read through whichever b-tree is cheapest, so a
		// damaged index or an unreachable page can pass them unseen.
		rows, err := tx.Query(ctx, s.d.IntegrityCheck)
		if err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return fmt.Errorf("integrity check: %w", err)
			}
			if line != "ok" {
				inv.IntegrityProblems = append(inv.IntegrityProblems, line)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		inv.IntegrityChecked = true
		return nil
	})
	return inv, err
}
