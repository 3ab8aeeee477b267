// Package postgres is the production store: PostgreSQL through pgx/v5 and
// pgxpool, for one or several stateless capyd replicas.
//
// Write transactions run at READ COMMITTED and lock what they depend on
// explicitly (SELECT … FOR SHARE / FOR NO KEY UPDATE, in a fixed order; see
// package sqlstore and docs/storage.md). Serialisation failures (40001) and
// deadlocks (40P01) roll back and re-run the transaction a bounded number
// of times inside the store. Read-only operations use REPEATABLE READ
// READ ONLY snapshots.
//
// Migrations are applied by goose under a session-level advisory lock, so
// replicas that start together apply them once.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/migrations"
)

// MaxAttempts bounds how often a write transaction is run when PostgreSQL
// reports a serialisation failure or deadlock.
const MaxAttempts = 8

// MigrationLockID is the advisory-lock key under which migrations run
// ("capymigr" in ASCII).
const MigrationLockID int64 = 0x63617079_6d696772

// advisoryLocker implements goose's lock.SessionLocker with a blocking
// pg_advisory_lock: a replica waiting for another's migration wakes as soon
// as it is done, instead of polling like goose's built-in locker (whose
// shortest period is one second). Cancelling ctx stops the wait.
type advisoryLocker struct{}

// SessionLock waits for the migration lock on conn's session.
func (advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, MigrationLockID); err != nil {
		return fmt.Errorf("migration lock: %w", translate(ctx, err))
	}
	return nil
}

// SessionUnlock releases the migration lock.
func (advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_advisory_unlock($1)`, MigrationLockID).Scan(&ok); err != nil {
		return fmt.Errorf("migration unlock: %w", translate(ctx, err))
	}
	if !ok {
		return errors.New("migration unlock: the advisory lock was not held")
	}
	return nil
}

// Migrate applies pending migrations to the database at url (a
// postgres:// URL or key=value DSN) under the advisory lock. Usable by
// `capyd migrate`.
func Migrate(ctx context.Context, url string) (sqlstore.MigrationResult, error) {
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		return sqlstore.MigrationResult{}, fmt.Errorf("%w: postgres: bad database URL", store.ErrInvalid)
	}
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	db.SetMaxOpenConns(2)
	return sqlstore.Migrate(ctx, db, migrations.Postgres, advisoryLocker{})
}

// Open connects a pool to the database at url and returns the store. With
// cfg.AutoMigrate pending migrations are applied first; otherwise a
// database not at this binary's schema version is refused. Pool size and
// the like can be set in the URL (pool_max_conns=…).
func Open(ctx context.Context, url string, cfg store.Config) (*sqlstore.Store, error) {
	return openTraced(ctx, url, cfg, nil)
}

// openTraced is Open with a pgx QueryTracer on every pool connection (nil: none).
// Only this package's tests pass one: the org_id statement test logs every
// statement the store runs (orgscope_test.go).
func openTraced(ctx context.Context, url string, cfg store.Config, tracer pgx.QueryTracer) (*sqlstore.Store, error) {
	if _, err := cfg.WithDefaults(); err != nil {
		return nil, err
	}
	pc, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pc.ConnConfig.Tracer = tracer
	if cfg.AutoMigrate {
		if _, err := Migrate(ctx, url); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", translate(ctx, err))
	}
	sdb := stdlib.OpenDBFromPool(pool)
	err = sqlstore.CheckSchema(ctx, sdb, migrations.Postgres)
	sdb.Close()
	if err != nil {
		pool.Close()
		return nil, err
	}
	s, err := sqlstore.New(&db{pool: pool}, sqlstore.Dialect{RowLocks: true, BatchSQL: true, Schema: migrations.Postgres}, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// OpenReadOnly connects to the database at url for `capyd restore-check`
// (a database restored from a pg_dump): no migration, no schema check
// (Inventory reports the version), two connections whose sessions default
// to read-only transactions, and a store whose every write fails with
// store.ErrUnavailable before it reaches the database.
func OpenReadOnly(ctx context.Context, url string, cfg store.Config) (*sqlstore.Store, error) {
	if _, err := cfg.WithDefaults(); err != nil {
		return nil, err
	}
	pc, err := poolConfig(url)
	if err != nil {
		return nil, err
	}
	pc.MaxConns = 2
	pc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", translate(ctx, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", translate(ctx, err))
	}
	s, err := sqlstore.New(readOnlyDB{&db{pool: pool}}, sqlstore.Dialect{RowLocks: true, BatchSQL: true, Schema: migrations.Postgres}, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// readOnlyDB refuses every write transaction.
type readOnlyDB struct{ *db }

func (readOnlyDB) Write(context.Context, func(sqlstore.Tx) error) error {
	return fmt.Errorf("%w: postgres: the database was opened read-only", store.ErrUnavailable)
}

// Without pool_max_conns in the URL, capyd opens 4 connections per CPU,
// at least DefaultMaxConns and at most MaxDefaultConns (PostgreSQL's own
// default max_connections is 100, shared by every replica).
const (
	DefaultMaxConns = 16
	MaxDefaultConns = 48
)

func defaultPoolSize(cpus int) int { return min(MaxDefaultConns, max(DefaultMaxConns, 4*cpus)) }

// poolConfig parses the URL; without pool_max_conns the pool gets
// defaultPoolSize. pgxpool's own default, max(4, NumCPU),
// is below the number of requests a small machine has in flight, each of
// which mostly waits for round trips, not CPU: they queued for a
// connection while the database idled.
func poolConfig(url string) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres: bad database URL", store.ErrInvalid)
	}
	if !strings.Contains(url, "pool_max_conns") {
		pc.MaxConns = int32(defaultPoolSize(runtime.GOMAXPROCS(0)))
	}
	return pc, nil
}

// db implements sqlstore.DB over a pool.
type db struct{ pool *pgxpool.Pool }

var (
	writeOpts = pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	readOpts  = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
)

// Write runs fn in a READ COMMITTED transaction, re-running it after a
// serialisation failure or deadlock, at most MaxAttempts times.
func (d *db) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = d.run(ctx, writeOpts, fn)
		if !errors.Is(err, errRetry) {
			return err
		}
		if attempt == MaxAttempts {
			break
		}
		// Jittered backoff: 0.5–1 ms, doubling, so that transactions
		// that collided do not collide again in lock step.
		wait := time.Duration(1<<min(attempt-1, 6)) * (500*time.Microsecond + rand.N(500*time.Microsecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("postgres: %w", ctx.Err())
		}
	}
	return fmt.Errorf("%w: postgres: gave up after %d attempts: %v", store.ErrUnavailable, MaxAttempts, err)
}

// Read runs fn in a REPEATABLE READ, READ ONLY transaction.
func (d *db) Read(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return d.run(ctx, readOpts, fn)
}

// ReadOne runs fn's single statement on the pool, outside a transaction.
func (d *db) ReadOne(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return fn(&tx{d.pool})
}

func (d *db) Close() error {
	d.pool.Close()
	return nil
}

func (d *db) run(ctx context.Context, opts pgx.TxOptions, fn func(sqlstore.Tx) error) error {
	t, err := d.pool.BeginTx(ctx, opts)
	if err != nil {
		return translate(ctx, err)
	}
	// A panic in fn must not leave the transaction open, holding its
	// connection and row locks.
	defer func() {
		if p := recover(); p != nil {
			_ = t.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
	}()
	if err := fn(&tx{t}); err != nil {
		_ = t.Rollback(context.WithoutCancel(ctx))
		return err
	}
	return translate(ctx, t.Commit(ctx))
}

// querier is what tx needs of a pgx transaction or pool.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// tx implements sqlstore.Tx over a pgx transaction (or, for ReadOne, the
// pool).
type tx struct{ t querier }

func (t *tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := t.t.Exec(ctx, q, args...)
	if err != nil {
		return 0, translate(ctx, err)
	}
	return tag.RowsAffected(), nil
}

func (t *tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{ctx, t.t.QueryRow(ctx, q, args...)}
}

func (t *tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	r, err := t.t.Query(ctx, q, args...)
	if err != nil {
		return nil, translate(ctx, err)
	}
	return &rows{ctx, r}, nil
}

type row struct {
	ctx context.Context
	r   pgx.Row
}

func (r row) Scan(dest ...any) error { return translate(r.ctx, r.r.Scan(dest...)) }

type rows struct {
	ctx context.Context
	r   pgx.Rows
}

func (r *rows) Next() bool             { return r.r.Next() }
func (r *rows) Scan(dest ...any) error { return translate(r.ctx, r.r.Scan(dest...)) }
func (r *rows) Err() error             { return translate(r.ctx, r.r.Err()) }
func (r *rows) Close()                 { r.r.Close() }

// SQLSTATE codes the store translates
// (https://www.postgresql.org/docs/current/errcodes-appendix.html).
const (
	sqlstateRestrictViolation    = "23001"
	sqlstateNotNullViolation     = "23502"
	sqlstateForeignKeyViolation  = "23503"
	sqlstateUniqueViolation      = "23505"
	sqlstateCheckViolation       = "23514"
	sqlstateExclusionViolation   = "23P01"
	sqlstateSerializationFailure = "40001"
	sqlstateDeadlockDetected     = "40P01"
	sqlstateTooManyConnections   = "53300"
	sqlstateLockNotAvailable     = "55P03"
	sqlstateQueryCanceled        = "57014"
	sqlstateAdminShutdown        = "57P01"
	sqlstateCrashShutdown        = "57P02"
	sqlstateCannotConnectNow     = "57P03"
	sqlstateClassConnection      = "08" // connection exceptions
	sqlstateClassResources       = "53" // insufficient resources
)

// errRetry marks a transaction that failed only because of concurrency
// and may succeed if run again. It never leaves this package.
var errRetry = errors.New("transaction must be retried")

// translate maps pgx errors to store errors. The driver's error value never
// escapes: its text is kept for logs only.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := fmt.Sprintf("postgres: %s (SQLSTATE %s)", pe.Message, pe.Code)
		switch pe.Code {
		case sqlstateUniqueViolation, sqlstateExclusionViolation:
			return fmt.Errorf("%w: %s", store.ErrExists, msg)
		case sqlstateForeignKeyViolation, sqlstateCheckViolation, sqlstateNotNullViolation, sqlstateRestrictViolation:
			return fmt.Errorf("%w: %s", store.ErrInvalid, msg)
		case sqlstateSerializationFailure, sqlstateDeadlockDetected:
			return fmt.Errorf("%w: %s", errRetry, msg)
		case sqlstateQueryCanceled:
			if ctx.Err() != nil {
				return fmt.Errorf("postgres: %w", ctx.Err())
			}
			return fmt.Errorf("%w: %s", store.ErrUnavailable, msg)
		case sqlstateLockNotAvailable, sqlstateAdminShutdown, sqlstateCrashShutdown, sqlstateCannotConnectNow, sqlstateTooManyConnections:
			return fmt.Errorf("%w: %s", store.ErrUnavailable, msg)
		}
		if len(pe.Code) == 5 && (pe.Code[:2] == sqlstateClassConnection || pe.Code[:2] == sqlstateClassResources) {
			return fmt.Errorf("%w: %s", store.ErrUnavailable, msg)
		}
		return errors.New(msg)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("postgres: %w", ctx.Err())
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	// A connection the driver closed after a fatal error (the server shut
	// down or crashed mid-transaction: pgconn.ErrConnClosed on the next
	// statement, or a bare EOF from the socket) is the database being
	// unavailable too, not an internal error.
	if errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) || errors.Is(err, pgx.ErrTxClosed) ||
		errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: postgres: %v", store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %v", err)
}
