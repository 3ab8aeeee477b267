package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
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
