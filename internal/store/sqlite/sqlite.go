// Package sqlite is the embedded store: one SQLite file through the pure-Go
// driver modernc.org/sqlite, so capyd builds with CGO_ENABLED=0.
//
// Durability and serialisation: the file is in WAL mode with
// synchronous=FULL (every commit is fsynced before it is acknowledged),
// foreign keys on and a busy timeout. All writes go through one writer
// connection whose transactions start with BEGIN IMMEDIATE, so every
// read-then-write transaction holds the database's write lock from its
// first statement: writes are totally ordered, which is what gives kicks,
// co-decrypts, pushes and audit appends their guarantees here. Reads use a
// separate pool of query-only connections and see a consistent snapshot
// without blocking the writer.
//
// One SQLite file is served by one capyd process; replicas need
// PostgreSQL.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/migrations"
)

// BusyTimeout is how long a statement waits for another process's lock
// before failing with store.ErrUnavailable.
const BusyTimeout = 10 * time.Second

func dsn(path string, writer bool) (string, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return "", fmt.Errorf("sqlite: %q: give a plain file path (no URI, no ':memory:')", path)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	return path + "?" + q.Encode(), nil
}

// openWriter opens the single-connection writer handle and checks that
// the durability settings took.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	d, err := dsn(path, true)
	if err != nil {
		return nil, err
	}
	// A new database is created private (0600; SQLite gives its -wal and
	// -shm files the same mode). An existing file keeps its mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: sqlite: create %s: %v", store.ErrUnavailable, path, err)
	}
	w, err := sql.Open("sqlite", d)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	var sync int
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, translate(ctx, err))
	}
	if err := w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, translate(ctx, err))
	}
	if mode != "wal" || sync != 2 {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: journal_mode=%s synchronous=%d, want wal and FULL (2)", path, mode, sync)
	}
	return w, nil
}

// Migrate applies pending migrations to the database at path, creating the
// file if needed. Usable by `capyd migrate`.
func Migrate(ctx context.Context, path string) (sqlstore.MigrationResult, error) {
	w, err := openWriter(ctx, path)
	if err != nil {
		return sqlstore.MigrationResult{}, err
	}
	defer w.Close()
	// goose holds one connection for the whole run; give it a second for
	// anything it does beside it.
	w.SetMaxOpenConns(2)
	return sqlstore.Migrate(ctx, w, migrations.SQLite, nil)
}

// Open opens the store in the SQLite file at path (created if missing).
// With cfg.AutoMigrate pending migrations are applied first; otherwise a
// database not at this binary's schema version is refused.
func Open(ctx context.Context, path string, cfg store.Config) (*sqlstore.Store, error) {
	if _, err := cfg.WithDefaults(); err != nil {
		return nil, err
	}
	if cfg.AutoMigrate {
		if _, err := Migrate(ctx, path); err != nil {
			return nil, err
		}
	}
	d, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	s, err := sqlstore.New(d, sqlstore.Dialect{RowLocks: false, Schema: migrations.SQLite}, cfg)
	if err != nil {
		d.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the writer and the reader pool of a database at this
// binary's schema version.
func openDB(ctx context.Context, path string) (*db, error) {
	w, err := openWriter(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := sqlstore.CheckSchema(ctx, w, migrations.SQLite); err != nil {
		w.Close()
		return nil, err
	}
	rd, _ := dsn(path, false)
	r, err := sql.Open("sqlite", rd)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &db{w: w, r: r}, nil
}

// db implements sqlstore.DB.
type db struct {
	w *sql.DB // one connection; BEGIN IMMEDIATE
	r *sql.DB // query-only pool
}

// Write runs fn on the writer connection in a BEGIN IMMEDIATE transaction.
// Nothing is retried: with one writer, SQLITE_BUSY can only come from
// another process holding the file past BusyTimeout (ErrUnavailable).
func (d *db) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return run(ctx, d.w, nil, fn)
}

// Read runs fn in a deferred, read-only transaction on the reader pool.
func (d *db) Read(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return run(ctx, d.r, &sql.TxOptions{ReadOnly: true}, fn)
}

// ReadOne runs fn's single statement on the reader pool, outside a
// transaction.
func (d *db) ReadOne(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return fn(&tx{d.r})
}

func (d *db) Close() error {
	return errors.Join(d.r.Close(), d.w.Close())
}

func run(ctx context.Context, h *sql.DB, opts *sql.TxOptions, fn func(sqlstore.Tx) error) error {
	t, err := h.BeginTx(ctx, opts)
	if err != nil {
		return translate(ctx, err)
	}
	// A panic in fn must not leave the transaction open: on the single
	// writer connection that would block every later write for good.
	defer func() {
		if p := recover(); p != nil {
			_ = t.Rollback()
			panic(p)
		}
	}()
	if err := fn(&tx{t}); err != nil {
		_ = t.Rollback()
		return err
	}
	return translate(ctx, t.Commit())
}

// querier is what tx needs of a database/sql transaction or pool.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tx implements sqlstore.Tx over a database/sql transaction (or, for
// ReadOne, the reader pool).
type tx struct{ t querier }

func (t *tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := t.t.ExecContext(ctx, q, convert(args)...)
	if err != nil {
		return 0, translate(ctx, err)
	}
	n, err := res.RowsAffected()
	return n, translate(ctx, err)
}

func (t *tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return row{ctx, t.t.QueryRowContext(ctx, q, convert(args)...)}
}

func (t *tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	r, err := t.t.QueryContext(ctx, q, convert(args)...)
	if err != nil {
		return nil, translate(ctx, err)
	}
	return &rows{ctx, r}, nil
}

type row struct {
	ctx context.Context
	r   *sql.Row
}

func (r row) Scan(dest ...any) error { return translate(r.ctx, r.r.Scan(dest...)) }

type rows struct {
	ctx context.Context
	r   *sql.Rows
}

func (r *rows) Next() bool             { return r.r.Next() }
func (r *rows) Scan(dest ...any) error { return translate(r.ctx, r.r.Scan(dest...)) }
func (r *rows) Err() error             { return translate(r.ctx, r.r.Err()) }
func (r *rows) Close()                 { _ = r.r.Close() }

// convert turns times into the fixed-width text the schema stores.
func convert(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			a = t.UTC().Format(sqlstore.TextTimeLayout)
		}
		out[i] = a
	}
	return out
}

// SQLite result codes the store translates (primary and extended codes,
// https://sqlite.org/rescode.html).
const (
	codeBusy                 = sqlite3.SQLITE_BUSY
	codeLocked               = sqlite3.SQLITE_LOCKED
	codeInterrupt            = sqlite3.SQLITE_INTERRUPT
	codeConstraint           = sqlite3.SQLITE_CONSTRAINT
	codeConstraintUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	codeConstraintPrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	codeFull                 = sqlite3.SQLITE_FULL
	codeIOErr                = sqlite3.SQLITE_IOERR
	codeCantOpen             = sqlite3.SQLITE_CANTOPEN
	codeReadOnly             = sqlite3.SQLITE_READONLY
)

// translate maps database/sql and SQLite errors to store errors. The
// driver's error value never escapes: its text is kept for logs only.
func translate(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || isCode(err, codeInterrupt)) {
		return fmt.Errorf("sqlite: %w", ctx.Err())
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		code := se.Code()
		switch {
		case code == codeConstraintUnique || code == codeConstraintPrimaryKey:
			return fmt.Errorf("%w: %s", store.ErrExists, se.Error())
		case code&0xff == codeConstraint:
			return fmt.Errorf("%w: %s", store.ErrInvalid, se.Error())
		case code&0xff == codeBusy || code&0xff == codeLocked || code&0xff == codeFull ||
			code&0xff == codeIOErr || code&0xff == codeCantOpen || code&0xff == codeReadOnly:
			return fmt.Errorf("%w: sqlite: %s", store.ErrUnavailable, se.Error())
		}
		return fmt.Errorf("sqlite: %s", se.Error())
	}
	// A closed handle (the store is shutting down) is unavailability too;
	// database/sql does not export that error, only its text.
	if errors.Is(err, sql.ErrConnDone) || err.Error() == "sql: database is closed" {
		return fmt.Errorf("%w: sqlite: %v", store.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlite: %v", err)
}

func isCode(err error, code int) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == code
}
