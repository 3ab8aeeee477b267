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
	"slices"
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

// dialect is SQLite's: one writer, no row locks, the file's own
// structure check.
var dialect = sqlstore.Dialect{RowLocks: false, Schema: migrations.SQLite, IntegrityCheck: "PRAGMA integrity_check"}

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
	s, err := sqlstore.New(d, dialect, cfg)
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
	return &db{w: w, r: r, wc: newStmtCache(w), rc: newStmtCache(r)}, nil
}

// db implements sqlstore.DB.
type db struct {
	w  *sql.DB // one connection; BEGIN IMMEDIATE
	r  *sql.DB // query-only pool
	wc *stmtCache
	rc *stmtCache
}

// Write runs fn on the writer connection in a BEGIN IMMEDIATE transaction.
// Nothing is retried: with one writer, SQLITE_BUSY can only come from
// another process holding the file past BusyTimeout (ErrUnavailable).
func (d *db) Write(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return run(ctx, d.wc, nil, fn)
}

// Read runs fn in a deferred, read-only transaction on the reader pool.
func (d *db) Read(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return run(ctx, d.rc, &sql.TxOptions{ReadOnly: true}, fn)
}

// ReadOne runs fn's single statement on the reader pool, outside a
// transaction.
func (d *db) ReadOne(ctx context.Context, fn func(sqlstore.Tx) error) error {
	return fn(&tx{q: d.r, c: d.rc})
}

// Close closes the cached statements before the handles whose connections
// they are prepared on.
func (d *db) Close() error {
	return errors.Join(d.rc.close(), d.wc.close(), d.r.Close(), d.w.Close())
}

func run(ctx context.Context, c *stmtCache, opts *sql.TxOptions, fn func(sqlstore.Tx) error) error {
	t, err := c.db.BeginTx(ctx, opts)
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
	x := &tx{q: t, t: t, c: c}
	if err = fn(x); err != nil {
		_ = t.Rollback()
	} else {
		err = translate(ctx, t.Commit())
	}
	// Only now that the transaction has given its connection back can the
	// statements it met for the first time be prepared on the handle.
	c.prepareAll(ctx, x.later)
	return err
}

// querier is what tx needs of a database/sql transaction or pool.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// tx implements sqlstore.Tx over a database/sql transaction (or, for
// ReadOne, the reader pool). Like the transaction it stands for, it is
// used by one goroutine at a time.
type tx struct {
	q querier
	t *sql.Tx // nil for ReadOne
	c *stmtCache
	// stmts are the cached statements bound to this transaction's
	// connection so far; later, the texts the cache did not have yet.
	stmts []*txStmt
	later []string
}

// txStmt is a cached statement as bound to one transaction.
type txStmt struct {
	q string
	s *sql.Stmt
	// open counts this statement's results not yet closed. SQLite runs a
	// prepared statement as one cursor per connection, and database/sql
	// hands the transaction the same one for every use of the text: a use
	// while a result is open would reset that result's cursor under it.
	open int
}

// stmt returns the prepared statement to run q with, and the transaction's
// entry for it (nil for ReadOne), or a nil statement to run q unprepared.
func (t *tx) stmt(ctx context.Context, q string) (*sql.Stmt, *txStmt, error) {
	if t.t == nil {
		// ReadOne issues one statement and holds no connection until then,
		// so preparing now cannot wait on itself; each use of a pool
		// statement gets a connection of its own.
		s, err := t.c.prepare(ctx, q)
		return s, nil, err
	}
	for _, e := range t.stmts {
		if e.q == q {
			if e.open > 0 {
				return nil, nil, nil
			}
			return e.s, e, nil
		}
	}
	s, full := t.c.get(q)
	if s == nil {
		// Preparing on the handle needs a connection of the pool and this
		// transaction holds one: the writer's only one, and possibly the
		// reader pool's last. So the text runs unprepared this time and is
		// prepared once the transaction is over.
		if !full && !slices.Contains(t.later, q) {
			t.later = append(t.later, q)
		}
		return nil, nil, nil
	}
	// Tx.StmtContext reuses the statement's instance already prepared on
	// this connection, or prepares it there once for all later
	// transactions; the transaction closes its handle on it when it ends,
	// which leaves that instance to the cached statement.
	e := &txStmt{q: q, s: t.t.StmtContext(ctx, s)}
	t.stmts = append(t.stmts, e)
	return e.s, e, nil
}

func (t *tx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	s, _, err := t.stmt(ctx, q)
	if err != nil {
		return 0, translate(ctx, err)
	}
	var res sql.Result
	if s != nil {
		res, err = s.ExecContext(ctx, convert(args)...)
	} else {
		res, err = t.q.ExecContext(ctx, q, convert(args)...)
	}
	if err != nil {
		return 0, translate(ctx, err)
	}
	n, err := res.RowsAffected()
	return n, translate(ctx, err)
}

func (t *tx) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	s, e, err := t.stmt(ctx, q)
	if err != nil {
		return &row{ctx: ctx, err: err}
	}
	if s == nil {
		return &row{ctx: ctx, r: t.q.QueryRowContext(ctx, q, convert(args)...)}
	}
	r := s.QueryRowContext(ctx, convert(args)...)
	if e != nil {
		e.open++
	}
	return &row{ctx: ctx, r: r, e: e}
}

func (t *tx) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	s, e, err := t.stmt(ctx, q)
	if err != nil {
		return nil, translate(ctx, err)
	}
	var r *sql.Rows
	if s != nil {
		r, err = s.QueryContext(ctx, convert(args)...)
	} else {
		r, err = t.q.QueryContext(ctx, q, convert(args)...)
	}
	if err != nil {
		return nil, translate(ctx, err)
	}
	if e != nil {
		e.open++
	}
	return &rows{ctx: ctx, r: r, e: e}, nil
}

type row struct {
	ctx context.Context
	r   *sql.Row
	err error   // the statement could not be prepared
	e   *txStmt // in use until Scan
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return translate(r.ctx, r.err)
	}
	err := r.r.Scan(dest...)
	if r.e != nil {
		r.e.open--
		r.e = nil
	}
	return translate(r.ctx, err)
}

type rows struct {
	ctx context.Context
	r   *sql.Rows
	e   *txStmt // in use until Close
}

func (r *rows) Next() bool             { return r.r.Next() }
func (r *rows) Scan(dest ...any) error { return translate(r.ctx, r.r.Scan(dest...)) }
func (r *rows) Err() error             { return translate(r.ctx, r.r.Err()) }
func (r *rows) Close() {
	_ = r.r.Close()
	if r.e != nil {
		r.e.open--
		r.e = nil
	}
}

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
