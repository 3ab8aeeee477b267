// Package sqlstore implements store.Store once, in SQL that both supported
// dialects accept, on top of a small driver interface (DB, Tx). The
// dialect packages (store/sqlite, store/postgres) supply connections,
// transactions, retries, row-lock support and the translation of their
// driver's errors into store errors; everything that decides who may do
// what lives here, so the security rules are written once.
//
// Locking rules (see docs/storage.md): every operation runs in one
// transaction. Writes go through DB.Write: on SQLite one writer connection
// with BEGIN IMMEDIATE serialises them; on PostgreSQL (READ COMMITTED) the
// rows an operation depends on are locked explicitly, always in this
// order: org row, memberships, invites, environment, deploy tokens, audit
// head. Locks are never upgraded within a transaction.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/migrations"
)

// DB is what a dialect driver provides.
type DB interface {
	// Write runs fn in a read-write transaction and commits it if fn
	// returns nil. Writes that lock the same rows are serialised. If the
	// database reports a serialisation failure or deadlock, the driver
	// rolls back and runs fn again (a bounded number of times), so fn must
	// not keep state across runs except by resetting it at its start.
	Write(ctx context.Context, fn func(Tx) error) error
	// Read runs fn in a read-only transaction over one consistent snapshot.
	Read(ctx context.Context, fn func(Tx) error) error
	// ReadOne runs fn, which must issue exactly one read statement, without
	// an explicit transaction: one statement sees one snapshot by itself,
	// and on PostgreSQL this saves the BEGIN and COMMIT round trips.
	ReadOne(ctx context.Context, fn func(Tx) error) error
	// Close releases the connections.
	Close() error
}

// Tx is an open transaction. Queries use $1, $2, … placeholders. Drivers
// accept time.Time arguments (UTC) and nil for NULL, and deliver times to
// Time scanners. Errors are already translated: no row from Row.Scan is
// store.ErrNotFound, a unique violation store.ErrExists, any other
// constraint violation store.ErrInvalid; no driver error type leaks out.
type Tx interface {
	Exec(ctx context.Context, query string, args ...any) (rowsAffected int64, err error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	Query(ctx context.Context, query string, args ...any) (Rows, error)
}

// Row is the result of Tx.QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// Rows is the result of Tx.Query; Close must be called.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Dialect is what the shared SQL needs to know about the database.
type Dialect struct {
	// RowLocks: the database supports SELECT … FOR SHARE / FOR NO KEY
	// UPDATE OF …, and write transactions rely on them (PostgreSQL). When
	// false, write transactions must be fully serialised by the driver
	// (SQLite: BEGIN IMMEDIATE on one writer connection).
	RowLocks bool
	// BatchSQL: the database takes array parameters (= ANY($n), unnest)
	// and an INSERT in a WITH clause (PostgreSQL). The gate's group
	// statements then keep one text whatever the group's size (prepared
	// once per connection, not once per size), and the audit append and
	// head update are one statement: one round trip less while the org's
	// audit head is locked.
	BatchSQL bool
	// Schema names the dialect's migrations, whose latest version Ping
	// expects the database to be at.
	Schema migrations.Dialect
	// IntegrityCheck is the statement that checks the database file's
	// structure for Inventory (SQLite: PRAGMA integrity_check, one row
	// "ok" or a row per problem); empty when the database has none a
	// read-only user may run (PostgreSQL's amcheck needs an extension).
	IntegrityCheck string
}

// Store is the shared implementation of store.Store.
type Store struct {
	db    DB
	d     Dialect
	cfg   store.Config
	gates gateQueues // co-decrypts waiting for their org's next group commit
}

var _ store.Store = (*Store)(nil)

// New returns a Store over db. cfg gets its defaults filled in.
func New(db DB, d Dialect, cfg store.Config) (*Store, error) {
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	return &Store{db: db, d: d, cfg: cfg}, nil
}

// Ping implements store.Store: one read transaction that reads the schema
// version.
func (s *Store) Ping(ctx context.Context) error {
	var v int64
	err := s.db.Read(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM `+VersionTable).Scan(&v)
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ping: %w", ctx.Err())
		}
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		return fmt.Errorf("%w: ping: %v", store.ErrUnavailable, err)
	}
	if s.d.Schema == "" {
		return nil
	}
	switch know := migrations.Latest(s.d.Schema); {
	case v > know:
		return tooNew(v, know)
	case v < know:
		return fmt.Errorf("%w: the database is at schema version %d, this binary needs %d", store.ErrSchemaOutdated, v, know)
	}
	return nil
}

// Close closes the underlying database.
func (s *Store) Close() error { return s.db.Close() }

// now is the store's clock: UTC, truncated to microseconds so both
// dialects store it exactly.
func (s *Store) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// forShare returns the clause that locks the rows of the named tables
// against concurrent updates until commit, or "" without row locks.
func (s *Store) forShare(tables string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR SHARE OF " + tables
}

// forUpdate returns the clause that locks the rows of the named tables for
// a later update in the same transaction, or "" without row locks. NO KEY
// UPDATE does not block foreign-key checks of concurrent inserts.
func (s *Store) forUpdate(tables string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR NO KEY UPDATE OF " + tables
}

// forKeyShare returns the clause that keeps the rows of the named tables
// from being deleted (or their keys changed) until commit, or "" without
// row locks. Updates of other columns are not blocked: a session row held
// this way can still have its last use recorded.
func (s *Store) forKeyShare(tables string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR KEY SHARE OF " + tables
}

// forDelete returns the clause that locks the rows of the named tables
// for a later DELETE in the same transaction, or "" without row locks.
func (s *Store) forDelete(tables string) string {
	if !s.d.RowLocks {
		return ""
	}
	return " FOR UPDATE OF " + tables
}

// TextTimeLayout is how dialects without a time type store times: fixed
// width, UTC, microseconds, so that string order is time order.
const TextTimeLayout = "2006-01-02T15:04:05.000000Z"

// Time scans a possibly NULL time column delivered either as time.Time or
// as text in TextTimeLayout.
type Time struct {
	T     time.Time // UTC; zero when NULL
	Valid bool
}

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = Time{}
	case time.Time:
		*t = Time{T: v.UTC(), Valid: true}
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (t *Time) parse(s string) error {
	v, err := time.Parse(TextTimeLayout, s)
	if err != nil {
		return fmt.Errorf("sqlstore: bad stored time %q", s)
	}
	*t = Time{T: v.UTC(), Valid: true}
	return nil
}

// nullable returns t as a query argument, NULL for the zero time.
func nullable(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// authed runs fn in a write transaction after checking the session; the
// session's last use is recorded inside the same transaction when due.
//
// The session row is read FOR KEY SHARE and so held until the transaction
// ends: a revocation (a DELETE) of the session waits for this transaction
// to commit, and a write that starts while a revocation is committing
// waits for it and then finds no session. Every write of a session is
// thereby ordered with its revocation (docs/storage.md decision 10). The
// lock does not block recording the last use (a non-key update), so two
// requests of one session never wait for each other. SQLite's single
// writer orders them by itself.
func (s *Store) authed(ctx context.Context, tok store.TokenHash, fn func(tx Tx, sess store.Session, now time.Time) error) error {
	now := s.now()
	return s.db.Write(ctx, func(tx Tx) error {
		sess, err := s.session(ctx, tx, tok, now, s.forKeyShare("s"))
		if err != nil {
			return err
		}
		if s.touchDue(sess, now) {
			if _, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, now, sess.ID); err != nil {
				return err
			}
			s.setSeen(&sess, now)
		}
		store.RunHook(ctx, store.HookSessionChecked)
		return fn(tx, sess, now)
	})
}

// readAuthed runs fn in a read transaction after checking the session, and
// records the session's use afterwards when due.
func (s *Store) readAuthed(ctx context.Context, tok store.TokenHash, fn func(tx Tx, sess store.Session, now time.Time) error) error {
	now := s.now()
	var sess store.Session
	err := s.db.Read(ctx, func(tx Tx) error {
		var err error
		if sess, err = s.session(ctx, tx, tok, now, ""); err != nil {
			return err
		}
		return fn(tx, sess, now)
	})
	if err != nil {
		return err
	}
	if s.touchDue(sess, now) {
		return s.touch(ctx, sess.ID, now)
	}
	return nil
}

func (s *Store) touchDue(sess store.Session, now time.Time) bool {
	return now.Sub(sess.LastSeenAt) >= s.cfg.SessionTouch
}

func (s *Store) touch(ctx context.Context, id string, now time.Time) error {
	return s.db.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1`, now, id)
		return err
	})
}

// notFoundAs maps store.ErrNotFound to e and leaves other errors alone.
func notFoundAs(err, e error) error {
	if errors.Is(err, store.ErrNotFound) {
		return e
	}
	return err
}

// invalid returns an ErrInvalid with a message.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrInvalid}, args...)...)
}

// collect reads every row of q with scan.
func collect[T any](ctx context.Context, tx Tx, scan func(Row) (T, error), q string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ids reads a single text column from every row of q.
func ids(ctx context.Context, tx Tx, q string, args ...any) ([]string, error) {
	return collect(ctx, tx, func(r Row) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	}, q, args...)
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
