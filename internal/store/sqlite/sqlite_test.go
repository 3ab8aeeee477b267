package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/internal/store/storetest"
	"github.com/capy-oss/capy/migrations"
)

func open(t testing.TB, cfg store.Config) (store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capy.db")
	cfg.AutoMigrate = true
	s, err := Open(context.Background(), path, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return s, raw
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func TestDurabilitySettings(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "d.db")
	w, err := openWriter(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if st, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if st.Mode().Perm() != 0o600 {
		t.Fatalf("new database file has mode %v, want 0600", st.Mode().Perm())
	}
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	} {
		var got string
		if err := w.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	// Write transactions take the write lock at BEGIN (BEGIN IMMEDIATE):
	// while one is open, another connection cannot start a write.
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "BEGIN IMMEDIATE"); err == nil {
		t.Fatal("a second writer could begin while a write transaction was open: not BEGIN IMMEDIATE")
	}
}

func TestRefusesNonFilePaths(t *testing.T) {
	cfg := store.Config{CodePepper: storetest.Pepper, AutoMigrate: true}
	for _, p := range []string{"", ":memory:", "file:x.db", "x.db?mode=memory"} {
		if _, err := Open(context.Background(), p, cfg); err == nil {
			t.Errorf("Open(%q) accepted", p)
		}
	}
}

func TestSchemaVersions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	cfg := store.Config{CodePepper: storetest.Pepper}
	if _, err := Open(ctx, path, cfg); !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("Open of an empty database: %v, want ErrSchemaOutdated", err)
	}
	res, err := Migrate(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	latest := migrations.Latest(migrations.SQLite)
	if res.From != 0 || res.To != latest || len(res.Applied) != int(latest) {
		t.Fatalf("Migrate %+v", res)
	}
	if res, err = Migrate(ctx, path); err != nil || len(res.Applied) != 0 || res.From != latest {
		t.Fatalf("second Migrate %+v, %v", res, err)
	}
	s, err := Open(ctx, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A newer capyd migrated this database: refuse it.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `INSERT INTO `+sqlstore.VersionTable+` (version_id, is_applied) VALUES (999, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path, cfg); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v", err)
	}
	cfg.AutoMigrate = true
	if _, err := Open(ctx, path, cfg); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open with AutoMigrate of a newer schema: %v", err)
	}
	if _, err := Migrate(ctx, path); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Migrate of a newer schema: %v", err)
	}
}

func TestOpenNeedsPepper(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"), store.Config{AutoMigrate: true})
	if err == nil {
		t.Fatal("opened without a pepper")
	}
}

func BenchmarkCoDecrypt(b *testing.B) { storetest.BenchmarkCoDecrypt(b, open) }

// openTestDB opens a migrated database with a table t(x) of rows 1, 2, 3.
func openTestDB(t *testing.T) *db {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	if _, err := Migrate(ctx, path); err != nil {
		t.Fatal(err)
	}
	d, err := openDB(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	err = d.Write(ctx, func(tx sqlstore.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TABLE t (x INTEGER PRIMARY KEY)`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO t (x) VALUES (1), (2), (3)`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func cached(c *stmtCache, q string) bool {
	s, _ := c.get(q)
	return s != nil
}

func TestStmtCacheReuse(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const q = `SELECT x FROM t WHERE x = $1`
	one := func(h func(context.Context, func(sqlstore.Tx) error) error, arg, want int) {
		t.Helper()
		var got int
		if err := h(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, arg).Scan(&got) }); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("got %d, want %d", got, want)
		}
	}

	// ReadOne prepares on first use and reuses the statement after.
	for i := 1; i <= 3; i++ {
		one(d.ReadOne, i, i)
	}
	if n := d.rc.prepares.Load(); n != 1 || !cached(d.rc, q) {
		t.Fatalf("after three ReadOnes: %d prepares, cached %v; want 1, true", n, cached(d.rc, q))
	}
	// Read transactions use the reader's statement.
	for i := 1; i <= 3; i++ {
		one(d.Read, i, i)
	}
	if n := d.rc.prepares.Load(); n != 1 {
		t.Fatalf("Read transactions prepared again: %d prepares", n)
	}

	// A write transaction cannot prepare on the writer, whose one
	// connection it holds: the text runs unprepared, then is prepared once
	// the transaction is over, and reused by the next one.
	if cached(d.wc, q) {
		t.Fatal("the reader's statement is in the writer's cache")
	}
	// writeTwice runs q twice in one write transaction and returns it.
	writeTwice := func(m, n int) *tx {
		var x *tx
		err := d.Write(ctx, func(tt sqlstore.Tx) error {
			x = tt.(*tx)
			var a, b int
			if err := tt.QueryRow(ctx, q, m).Scan(&a); err != nil {
				return err
			}
			if err := tt.QueryRow(ctx, q, n).Scan(&b); err != nil {
				return err
			}
			if a != m || b != n {
				t.Errorf("got %d, %d", a, b)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := writeTwice(2, 3)
	if len(x.later) != 1 || len(x.stmts) != 0 || !cached(d.wc, q) {
		t.Fatalf("first write transaction: later %q, stmts %d, cached %v", x.later, len(x.stmts), cached(d.wc, q))
	}
	before := d.wc.prepares.Load()
	x = writeTwice(1, 2)
	if len(x.later) != 0 || len(x.stmts) != 1 || d.wc.prepares.Load() != before {
		t.Fatalf("second write transaction: later %q, stmts %d (want 1: bound once, used twice), %d new prepares",
			x.later, len(x.stmts), d.wc.prepares.Load()-before)
	}
}

// Errors of cached statements are translated as those of unprepared ones.
func TestStmtCacheErrors(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const sel = `SELECT x FROM t WHERE x = $1`
	const ins = `INSERT INTO t (x) VALUES ($1)`
	for round := range 2 { // uncached, then cached
		var got int
		if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, sel, 9).Scan(&got) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: ReadOne of no row: %v", round, err)
		}
		if err := d.Read(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, sel, 9).Scan(&got) }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("round %d: Read of no row: %v", round, err)
		}
		if err := d.Write(ctx, func(tx sqlstore.Tx) error { _, err := tx.Exec(ctx, ins, 1); return err }); !errors.Is(err, store.ErrExists) {
			t.Errorf("round %d: duplicate insert: %v", round, err)
		}
		if err := d.Read(ctx, func(tx sqlstore.Tx) error { _, err := tx.Exec(ctx, ins, 7); return err }); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("round %d: insert on the query-only reader: %v", round, err)
		}
	}
	if !cached(d.rc, sel) || !cached(d.wc, ins) || !cached(d.rc, ins) {
		t.Fatal("statements that failed at run time were not cached")
	}
}

// A text that does not prepare is never cached, and each use reports it.
func TestStmtCacheSyntaxError(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const bad = `SELEC x FROM t`
	for i := range 2 {
		var x int
		err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, bad).Scan(&x) })
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Fatalf("ReadOne %d of a bad statement: %v", i, err)
		}
		if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { _, err := tx.Query(ctx, bad); return err }); err == nil {
			t.Fatalf("Query %d of a bad statement succeeded", i)
		}
		err = d.Write(ctx, func(tx sqlstore.Tx) error { _, err := tx.Exec(ctx, bad); return err })
		if err == nil {
			t.Fatalf("Write %d of a bad statement succeeded", i)
		}
	}
	if cached(d.rc, bad) || cached(d.wc, bad) {
		t.Fatal("a statement that does not prepare was cached")
	}
	if n := d.rc.prepares.Load(); n < 2 {
		t.Fatalf("%d prepares of the bad statement on the reader: it was not tried on each use", n)
	}
}

// Past its bound the cache takes no more texts; they still run.
func TestStmtCacheBound(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	d.rc.max, d.wc.max = 3, 3
	caches := []*stmtCache{d.rc, d.wc}
	var had, prepared [2]int64 // the setup's
	for i, c := range caches {
		had[i], prepared[i] = int64(len(c.m)), c.prepares.Load()
	}
	for i := range 10 {
		q := fmt.Sprintf(`SELECT x + %d FROM t WHERE x = $1`, i)
		for _, h := range []func(context.Context, func(sqlstore.Tx) error) error{d.ReadOne, d.Read, d.Write} {
			var got int
			if err := h(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 1).Scan(&got) }); err != nil {
				t.Fatal(err)
			}
			if got != 1+i {
				t.Fatalf("%s: got %d", q, got)
			}
		}
	}
	for i, c := range caches {
		if n, p := len(c.m), c.prepares.Load()-prepared[i]; n != 3 || p != 3-had[i] {
			t.Fatalf("cache of %d texts after %d more prepares, want 3 and %d", n, p, 3-had[i])
		}
	}
}

// The same text used again while a result of it is open in the same
// transaction must not run on that result's cursor.
func TestStmtCacheNestedUse(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const q = `SELECT x FROM t ORDER BY x`
	list := func(tx sqlstore.Tx, inner func()) ([]int, error) {
		rows, err := tx.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []int
		for rows.Next() {
			var x int
			if err := rows.Scan(&x); err != nil {
				return nil, err
			}
			out = append(out, x)
			if len(out) > 3 {
				// The cursor was reset under the loop, which would
				// go on for ever.
				return out, fmt.Errorf("query %q returned more rows than t has: %v", q, out)
			}
			inner()
		}
		return out, rows.Err()
	}
	for _, h := range []func(context.Context, func(sqlstore.Tx) error) error{d.Read, d.Write} {
		for range 2 { // the first run leaves q cached
			err := h(ctx, func(tx sqlstore.Tx) error {
				var innerErr error
				outer, err := list(tx, func() {
					in, err := list(tx, func() {})
					if err == nil && !slices.Equal(in, []int{1, 2, 3}) {
						err = fmt.Errorf("inner query got %v", in)
					}
					innerErr = errors.Join(innerErr, err)
				})
				if err != nil || innerErr != nil {
					return errors.Join(err, innerErr)
				}
				if !slices.Equal(outer, []int{1, 2, 3}) {
					return fmt.Errorf("outer query got %v", outer)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if !cached(d.rc, q) || !cached(d.wc, q) {
		t.Fatal("not cached")
	}
}

// A cached statement follows a schema change: SQLite prepares it again
// (sqlite3_prepare_v2) with the new schema.
func TestStmtCacheSchemaChange(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const q = `SELECT * FROM t WHERE x = $1`
	var x int
	var y string
	if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 1).Scan(&x) }); err != nil {
		t.Fatal(err)
	}
	if err := d.Write(ctx, func(tx sqlstore.Tx) error {
		_, err := tx.Exec(ctx, `ALTER TABLE t ADD COLUMN y TEXT NOT NULL DEFAULT 'new'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !cached(d.rc, q) {
		t.Fatal("not cached")
	}
	if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 1).Scan(&x, &y) }); err != nil || y != "new" {
		t.Fatalf("after ALTER TABLE: %q, %v", y, err)
	}
}

// Concurrent first uses of the same and of distinct texts leave one
// statement per text, within the bound.
func TestStmtCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	d.rc.max = 5
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				q := fmt.Sprintf(`SELECT x + %d FROM t WHERE x = $1`, (g+i)%10)
				h := d.ReadOne
				if i%2 == 1 {
					h = d.Read
				}
				var got int
				if err := h(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 2).Scan(&got) }); err != nil {
					errs <- err
					return
				}
				if want := 2 + (g+i)%10; got != want {
					errs <- fmt.Errorf("%s: got %d, want %d", q, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(d.rc.m); n != 5 {
		t.Fatalf("cache of %d texts, want 5", n)
	}
}

// Close closes the cached statements; the closed store reports itself
// unavailable instead of preparing anything.
func TestStmtCacheClose(t *testing.T) {
	ctx := context.Background()
	d := openTestDB(t)
	const q = `SELECT x FROM t WHERE x = $1`
	var x int
	if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 1).Scan(&x) }); err != nil {
		t.Fatal(err)
	}
	s, _ := d.rc.get(q)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.QueryRowContext(ctx, 1).Scan(&x); err == nil || err.Error() != "sql: statement is closed" {
		t.Fatalf("cached statement after Close: %v", err)
	}
	n := d.rc.prepares.Load()
	if err := d.ReadOne(ctx, func(tx sqlstore.Tx) error { return tx.QueryRow(ctx, q, 1).Scan(&x) }); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ReadOne after Close: %v", err)
	}
	if d.rc.prepares.Load() != n || d.rc.m != nil {
		t.Fatal("the closed cache prepared or kept statements")
	}
}
