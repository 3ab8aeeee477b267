package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite" // the SQLite side of the schema comparison

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/internal/store/storetest"
	"github.com/capy-oss/capy/migrations"
)

// Replicas starting together: every Migrate succeeds, the migrations are
// applied exactly once.
func TestConcurrentMigrate(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const replicas = 4
	var (
		wg      sync.WaitGroup
		results = make([]sqlstore.MigrationResult, replicas)
		errs    = make([]error, replicas)
	)
	for i := 0; i < replicas; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = Migrate(context.Background(), url)
		}(i)
	}
	wg.Wait()
	applied := 0
	latest := migrations.Latest(migrations.Postgres)
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i].To != latest {
			t.Fatalf("replica %d ended at %d", i, results[i].To)
		}
		applied += len(results[i].Applied)
	}
	if applied != int(latest) {
		t.Fatalf("%d migrations applied in all, want %d", applied, latest)
	}
}

func TestSchemaVersions(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	cfg := store.Config{CodePepper: storetest.Pepper}
	if _, err := Open(ctx, url, cfg); !errors.Is(err, store.ErrSchemaOutdated) {
		t.Fatalf("Open of an empty database: %v, want ErrSchemaOutdated", err)
	}
	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, url, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	c := pgtest.Conn(t, url)
	if _, err := c.Exec(ctx, `INSERT INTO `+sqlstore.VersionTable+` (version_id, is_applied) VALUES (999, true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, cfg); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Open of a newer schema: %v", err)
	}
	if _, err := Migrate(ctx, url); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Migrate of a newer schema: %v", err)
	}
	if _, err := Open(ctx, "postgres://%zz", cfg); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("bad URL: %v", err)
	}
}

func TestTranslate(t *testing.T) {
	ctx := context.Background()
	for code, want := range map[string]error{
		sqlstateUniqueViolation:      store.ErrExists,
		sqlstateForeignKeyViolation:  store.ErrInvalid,
		sqlstateCheckViolation:       store.ErrInvalid,
		sqlstateNotNullViolation:     store.ErrInvalid,
		sqlstateRestrictViolation:    store.ErrInvalid,
		sqlstateSerializationFailure: errRetry,
		sqlstateDeadlockDetected:     errRetry,
		sqlstateAdminShutdown:        store.ErrUnavailable,
		sqlstateCannotConnectNow:     store.ErrUnavailable,
		"08006":                      store.ErrUnavailable,
		"53100":                      store.ErrUnavailable,
	} {
		err := translate(ctx, fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code, Message: "m"}))
		if !errors.Is(err, want) {
			t.Errorf("SQLSTATE %s → %v, want %v", code, err, want)
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			t.Errorf("SQLSTATE %s: the pgconn error leaks out", code)
		}
	}
	// A connection that broke under a statement: the server went away.
	for _, broken := range []error{pgconn.ErrConnClosed, io.EOF, io.ErrUnexpectedEOF} {
		if err := translate(ctx, fmt.Errorf("wrapped: %w", broken)); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%v → %v, want unavailable", broken, err)
		}
	}
	if err := translate(ctx, pgx.ErrNoRows); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no rows → %v", err)
	}
	other := translate(ctx, &pgconn.PgError{Code: "XX000", Message: "internal"})
	for _, e := range []error{store.ErrExists, store.ErrInvalid, store.ErrUnavailable, store.ErrNotFound, errRetry} {
		if errors.Is(other, e) {
			t.Errorf("XX000 → %v", e)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := translate(cctx, &pgconn.PgError{Code: sqlstateQueryCanceled}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled query → %v", err)
	}
}

// Serialisation failures and deadlocks are retried inside the store, a
// bounded number of times.
func TestRetry(t *testing.T) {
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	d := &db{pool: pool}
	defer d.Close()
	n := 0
	err = d.Write(context.Background(), func(tx sqlstore.Tx) error {
		n++
		if n < 3 {
			return fmt.Errorf("x: %w", errRetry)
		}
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("retried write: %v after %d runs", err, n)
	}
	n = 0
	err = d.Write(context.Background(), func(tx sqlstore.Tx) error {
		n++
		return errRetry
	})
	if !errors.Is(err, store.ErrUnavailable) || n != MaxAttempts || errors.Is(err, errRetry) {
		t.Fatalf("always failing write: %v after %d runs", err, n)
	}
	// A real serialisation failure from the server is recognised.
	n = 0
	err = d.Write(context.Background(), func(tx sqlstore.Tx) error {
		n++
		if n == 1 {
			_, err := tx.Exec(context.Background(), `DO $$ BEGIN RAISE EXCEPTION 'boom' USING ERRCODE = '40001'; END $$`)
			return err
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Fatalf("server serialisation failure: %v after %d runs", err, n)
	}
}

// Both dialects define the same tables with the same columns.
func TestSameSchemaAsSQLite(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	pg := map[string][]string{}
	c := pgtest.Conn(t, url)
	rows, err := c.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = 'public' AND table_name <> $1 ORDER BY table_name, ordinal_position`, sqlstore.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		pg[tbl] = append(pg[tbl], col)
	}
	rows.Close()

	path := filepath.Join(t.TempDir(), "schema.db")
	lite, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if _, err := sqlstore.Migrate(ctx, lite, migrations.SQLite, nil); err != nil {
		t.Fatal(err)
	}
	sl := map[string][]string{}
	r2, err := lite.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> ? ORDER BY m.name, p.cid`, sqlstore.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	for r2.Next() {
		var tbl, col string
		if err := r2.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		sl[tbl] = append(sl[tbl], col)
	}
	r2.Close()
	if len(pg) == 0 || !reflect.DeepEqual(pg, sl) {
		t.Fatalf("schemas differ:\npostgres %v\nsqlite   %v", pg, sl)
	}
}

func TestPoolSize(t *testing.T) {
	for _, c := range []struct {
		url  string
		want int32
	}{
		{"postgres://capyd@db.internal/capy", int32(defaultPoolSize(runtime.GOMAXPROCS(0)))},
		{"postgres://capyd@db.internal/capy?sslmode=disable", int32(defaultPoolSize(runtime.GOMAXPROCS(0)))},
		{"postgres://capyd@db.internal/capy?pool_max_conns=3", 3},
		{"postgres://capyd@db.internal/capy?sslmode=disable&pool_max_conns=40", 40},
	} {
		pc, err := poolConfig(c.url)
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if pc.MaxConns != c.want {
			t.Errorf("%s: MaxConns %d, want %d", c.url, pc.MaxConns, c.want)
		}
	}
	for cpus, want := range map[int]int{1: 16, 2: 16, 4: 16, 8: 32, 12: 48, 32: 48, 128: 48} {
		if got := defaultPoolSize(cpus); got != want {
			t.Errorf("%d CPUs: pool of %d, want %d", cpus, got, want)
		}
	}
	if _, err := poolConfig("host=db dbname=capy pool_max_conns=x"); err == nil {
		t.Error("a bad pool_max_conns was accepted")
	}
}

// Every blob column is stored EXTERNAL (out of line, never compressed),
// and a large blob written through the store's own table is indeed kept
// uncompressed: ciphertext does not compress, and trying cost more than
// the write (migration 00003).
func TestBlobsStoredUncompressed(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	if _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	c := pgtest.Conn(t, url)
	rows, err := c.Query(ctx, `
		SELECT c.relname, a.attstorage::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attname = 'blob' AND NOT a.attisdropped
		ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var rel, storage string
		if err := rows.Scan(&rel, &storage); err != nil {
			t.Fatal(err)
		}
		got[rel] = storage
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"deploys": "e", "env_versions": "e", "invites": "e", "shares": "e"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("attstorage of the blob columns: %v, want %v (e = EXTERNAL)", got, want)
	}
	// A compressible 64 kB value in a copy of env_versions' columns (with
	// their storage) stays uncompressed; the same value in a column with
	// PostgreSQL's default storage is compressed (the control).
	if _, err := c.Exec(ctx, `CREATE TEMP TABLE probe (LIKE env_versions INCLUDING STORAGE)`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `CREATE TEMP TABLE control (blob bytea)`); err != nil {
		t.Fatal(err)
	}
	value := bytes.Repeat([]byte("capy "), 13000)
	if _, err := c.Exec(ctx, `INSERT INTO probe (env_id, version, epoch, id, parent_id, blob, pushed_by, pushed_at)
		VALUES ('x', 1, 1, 'x', '', $1, 'x', now())`, value); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `INSERT INTO control (blob) VALUES ($1)`, value); err != nil {
		t.Fatal(err)
	}
	// pg_column_size is the stored size (PostgreSQL 13 has no
	// pg_column_compression).
	var probe, control int
	if err := c.QueryRow(ctx, `SELECT (SELECT pg_column_size(blob) FROM probe), (SELECT pg_column_size(blob) FROM control)`).Scan(&probe, &control); err != nil {
		t.Fatal(err)
	}
	if control >= len(value)/2 {
		t.Fatalf("control: the default storage kept %d bytes of %d; the probe shows nothing", control, len(value))
	}
	if probe < len(value) {
		t.Fatalf("env_versions.blob stored %d bytes of %d: compressed", probe, len(value))
	}
}
