package sqlstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// codeHash is HMAC-SHA256 under the server's pepper over a labelled
// encoding of the address and the code. Without the pepper, which never
// enters the database, a dump does not allow trying the 10^6 codes.
func (s *Store) codeHash(email, code string) []byte {
	m := hmac.New(sha256.New, s.cfg.CodePepper)
	m.Write([]byte("capy-login-code 1\n" + email + "\n" + code + "\n"))
	return m.Sum(nil)
}

// CreateLoginCode implements store.Store.
func (s *Store) CreateLoginCode(ctx context.Context, email, code string, ttl time.Duration) (store.LoginCode, error) {
	if err := checkEmail(email); err != nil {
		return store.LoginCode{}, err
	}
	if err := checkCode(code); err != nil {
		return store.LoginCode{}, err
	}
	if ttl <= 0 {
		ttl = s.cfg.LoginCodeTTL
	}
	now := s.now()
	lc := store.LoginCode{Email: email, ExpiresAt: now.Add(ttl)}
	err := s.db.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO login_codes (email, code_hash, attempts, created_at, expires_at)
			VALUES ($1, $2, 0, $3, $4)
			ON CONFLICT (email) DO UPDATE SET
				code_hash = excluded.code_hash, attempts = 0,
				created_at = excluded.created_at, expires_at = excluded.expires_at`,
			email, s.codeHash(email, code), now, lc.ExpiresAt)
		return err
	})
	if err != nil {
		return store.LoginCode{}, err
	}
	return lc, nil
}

// VerifyLoginCode implements store.Store.
func (s *Store) VerifyLoginCode(ctx context.Context, email, code string) (store.User, error) {
	if err := checkEmail(email); err != nil {
		return store.User{}, err
	}
	// A malformed code is a wrong code: it counts as an attempt.
	well := checkCode(code) == nil
	now := s.now()
	var (
		u       store.User
		outcome error // a refusal that still commits (the attempt count)
	)
	err := s.db.Write(ctx, func(tx Tx) error {
		outcome = nil
		var (
			hash     []byte
			attempts int
			expires  Time
		)
		err := tx.QueryRow(ctx, `SELECT code_hash, attempts, expires_at FROM login_codes WHERE email = $1`+s.forUpdate("login_codes"),
			email).Scan(&hash, &attempts, &expires)
		if errors.Is(err, store.ErrNotFound) {
			return store.ErrBadCode
		}
		if err != nil {
			return err
		}
		if !now.Before(expires.T) {
			return store.ErrExpired
		}
		if attempts >= s.cfg.LoginCodeMaxAttempts {
			return store.ErrCodeLocked
		}
		if !well || subtle.ConstantTimeCompare(hash, s.codeHash(email, code)) != 1 {
			outcome = store.ErrBadCode
			if attempts+1 >= s.cfg.LoginCodeMaxAttempts {
				outcome = store.ErrCodeLocked // this try locks the code
			}
			_, err := tx.Exec(ctx, `UPDATE login_codes SET attempts = attempts + 1 WHERE email = $1`, email)
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM login_codes WHERE email = $1`, email); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO users (id, email, created_at) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
			ident.NewID(ident.User), email, now); err != nil {
			return err
		}
		var disabled Time
		u, err = scanUser(tx.QueryRow(ctx, `SELECT id, email, created_at, disabled_at FROM users WHERE email = $1`, email), &disabled)
		if err == nil && disabled.Valid {
			// The right code, for a disabled user: the code is used up
			// (committed), and the refusal is said only to whoever could
			// read the code.
			outcome = store.ErrUserDisabled
		}
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	if outcome != nil {
		return store.User{}, outcome
	}
	return u, nil
}

// scanUser reads id, email and created_at, then the columns of more.
func scanUser(r Row, more ...any) (store.User, error) {
	var (
		u  store.User
		at Time
	)
	err := r.Scan(append([]any{&u.ID, &u.Email, &at}, more...)...)
	u.CreatedAt = at.T
	return u, err
}

const sessionCols = `s.id, s.user_id, u.email, s.label, s.created_at, s.last_seen_at, s.expires_at, u.created_at`

// sessionFrom joins the session's user, unless an operator disabled them:
// DisableUser deletes their sessions, and the join makes one that was
// written some other way (a restored backup, a bug) no session either.
const sessionFrom = ` FROM sessions s JOIN users u ON u.id = s.user_id AND u.disabled_at IS NULL`

// sessionRow receives the sessionCols of a row, alone or among other
// columns of a joined read.
type sessionRow struct {
	x                                     store.Session
	created, seen, expiresAt, userCreated Time
}

func (r *sessionRow) dest() []any {
	return []any{&r.x.ID, &r.x.UserID, &r.x.Email, &r.x.Label, &r.created, &r.seen, &r.expiresAt, &r.userCreated}
}

// session returns the scanned session with its times filled in.
func (r *sessionRow) session(s *Store) store.Session {
	x := r.x
	x.CreatedAt, x.ExpiresAt, x.UserCreatedAt = r.created.T, r.expiresAt.T, r.userCreated.T
	s.setSeen(&x, r.seen.T)
	return x
}

func (s *Store) scanSession(r Row) (store.Session, error) {
	var sr sessionRow
	err := r.Scan(sr.dest()...)
	return sr.session(s), err
}

// oneStatementSession finishes a one-statement read that joined the
// session (AuthorizeOrg, envRead) the way readAuthed does: no row is
// ErrUnauthenticated, an ended session ErrSessionExpired, and a use due to
// be recorded is recorded.
func (s *Store) oneStatementSession(ctx context.Context, readErr error, x *store.Session, now time.Time) error {
	switch {
	case errors.Is(readErr, store.ErrNotFound):
		return store.ErrUnauthenticated
	case readErr != nil:
		return readErr
	case !s.live(*x, now):
		return store.ErrSessionExpired
	}
	if s.touchDue(*x, now) {
		if err := s.touch(ctx, x.ID, now); err != nil {
			return err
		}
		s.setSeen(x, now)
	}
	return nil
}

func (s *Store) setSeen(x *store.Session, seen time.Time) {
	x.LastSeenAt = seen
	x.IdleExpiresAt = seen.Add(s.cfg.SessionIdle)
}

func (s *Store) live(x store.Session, now time.Time) bool {
	return now.Before(x.ExpiresAt) && now.Before(x.IdleExpiresAt)
}

// session returns the live session of tok or ErrUnauthenticated. lock is
// appended to the read: a write transaction passes s.forKeyShare("s"),
// which holds the row against a revocation until the transaction ends
// (authed); a read passes "".
func (s *Store) session(ctx context.Context, tx Tx, tok store.TokenHash, now time.Time, lock string) (store.Session, error) {
	x, err := s.scanSession(tx.QueryRow(ctx, `SELECT `+sessionCols+sessionFrom+` WHERE s.token_hash = $1`+lock, tok[:]))
	if errors.Is(err, store.ErrNotFound) {
		return x, store.ErrUnauthenticated
	}
	if err != nil {
		return x, err
	}
	if !s.live(x, now) {
		return x, store.ErrSessionExpired
	}
	return x, nil
}

// CreateSession implements store.Store.
func (s *Store) CreateSession(ctx context.Context, userID string, tok store.TokenHash, label string) (store.Session, error) {
	if err := checkID(ident.User, userID); err != nil {
		return store.Session{}, err
	}
	if err := checkText("session label", label, maxLabelLen, false); err != nil {
		return store.Session{}, err
	}
	now := s.now()
	var x store.Session
	err := s.db.Write(ctx, func(tx Tx) error {
		// The user row is held in share until commit: DisableUser, which
		// updates it, then either waits and deletes this session with the
		// others, or has committed and is seen here.
		var disabled Time
		u, err := scanUser(tx.QueryRow(ctx, `SELECT id, email, created_at, disabled_at FROM users WHERE id = $1`+s.forShare("users"), userID), &disabled)
		if err != nil {
			return err
		}
		if disabled.Valid {
			return store.ErrUserDisabled
		}
		x = store.Session{
			ID: ident.NewID(sessionKind), UserID: u.ID, Email: u.Email, Label: label,
			CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionAbsolute), UserCreatedAt: u.CreatedAt,
		}
		s.setSeen(&x, now)
		// At most MaxSessions per user: the least recently used go first.
		old, err := ids(ctx, tx, `SELECT id FROM sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, created_at DESC, id DESC`, u.ID)
		if err != nil {
			return err
		}
		for i := store.MaxSessions - 1; i < len(old); i++ {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, old[i]); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO sessions (id, token_hash, user_id, label, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $5, $6)`,
			x.ID, tok[:], x.UserID, label, now, x.ExpiresAt)
		return err
	})
	if err != nil {
		return store.Session{}, err
	}
	return x, nil
}

// LookupSession implements store.Store.
func (s *Store) LookupSession(ctx context.Context, tok store.TokenHash) (store.Session, error) {
	var x store.Session
	err := s.readAuthed(ctx, tok, func(_ Tx, sess store.Session, _ time.Time) error {
		x = sess
		return nil
	})
	if err != nil {
		return store.Session{}, err
	}
	if now := s.now(); s.touchDue(x, now) {
		s.setSeen(&x, now)
	}
	return x, nil
}

// ListSessions implements store.Store.
func (s *Store) ListSessions(ctx context.Context, tok store.TokenHash) ([]store.Session, error) {
	var out []store.Session
	err := s.readAuthed(ctx, tok, func(tx Tx, sess store.Session, now time.Time) error {
		all, err := collect(ctx, tx, s.scanSession,
			`SELECT `+sessionCols+sessionFrom+` WHERE s.user_id = $1 AND s.expires_at > $2 ORDER BY s.created_at DESC, s.id`,
			sess.UserID, now)
		if err != nil {
			return err
		}
		out = out[:0]
		for _, x := range all {
			if !s.live(x, now) {
				continue
			}
			x.Current = x.ID == sess.ID
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

// RevokeSession implements store.Store. The DELETE takes the row lock
// that every write transaction of that session holds in share (authed, the
// gate): it waits for those in flight to commit, and one that starts while
// it is being deleted waits for the revocation and then finds no session.
// A logout locks its own row for the delete from the start (a shared lock
// first would have to be upgraded; two logouts of one session would then
// wait for each other).
func (s *Store) RevokeSession(ctx context.Context, tok store.TokenHash, id string) error {
	if id != "" {
		if err := checkID(sessionKind, id); err != nil {
			return err
		}
	}
	lock := s.forKeyShare("s")
	if id == "" {
		lock = s.forDelete("s")
	}
	now := s.now()
	return s.db.Write(ctx, func(tx Tx) error {
		sess, err := s.session(ctx, tx, tok, now, lock)
		if err != nil {
			return err
		}
		target := id
		if target == "" {
			target = sess.ID
		}
		if target != sess.ID && s.touchDue(sess, now) {
			if _, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
				return err
			}
		}
		n, err := tx.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2`, target, sess.UserID)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		store.RunHook(ctx, store.HookSessionRevoked)
		return nil
	})
}

// RateLimit implements store.Store.
func (s *Store) RateLimit(ctx context.Context, key string, limit int64, window time.Duration) (store.RateDecision, error) {
	if err := checkText("rate-limit key", key, maxKeyLen, true); err != nil {
		return store.RateDecision{}, err
	}
	if limit < 1 || window < time.Microsecond {
		return store.RateDecision{}, invalid("rate limit needs limit ≥ 1 and a positive window")
	}
	now := s.now()
	var d store.RateDecision
	err := s.db.Write(ctx, func(tx Tx) error {
		var end Time
		err := tx.QueryRow(ctx, `
			INSERT INTO rate_limits (key, window_end, count) VALUES ($1, $2, 1)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN rate_limits.window_end <= $3 THEN 1 ELSE rate_limits.count + 1 END,
				window_end = CASE WHEN rate_limits.window_end <= $3 THEN $2 ELSE rate_limits.window_end END
			RETURNING count, window_end`,
			key, now.Add(window), now).Scan(&d.Count, &end)
		d.ResetAt = end.T
		return err
	})
	if err != nil {
		return store.RateDecision{}, err
	}
	d.Allowed = d.Count <= limit
	return d, nil
}

// PurgeExpired implements store.Store.
func (s *Store) PurgeExpired(ctx context.Context) (int64, error) {
	now := s.now()
	var total int64
	err := s.db.Write(ctx, func(tx Tx) error {
		total = 0
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2`, []any{now, now.Add(-s.cfg.SessionIdle)}},
			{`DELETE FROM login_codes WHERE expires_at <= $1`, []any{now}},
			{`DELETE FROM rate_limits WHERE window_end <= $1`, []any{now}},
		} {
			n, err := tx.Exec(ctx, q.sql, q.args...)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	return total, err
}
