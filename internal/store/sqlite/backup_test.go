package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/internal/store/storetest"
	"github.com/capy-oss/capy/migrations"
)

// TestSecretColumnsCoverTheSchema: every BLOB column of the schema is one
// the operator's methods may not name (sqlstore.SecretColumns).
func TestSecretColumnsCoverTheSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "schema.db")
	if _, err := Migrate(ctx, path); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rows, err := raw.QueryContext(ctx, `SELECT m.name, p.name, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p
		WHERE m.type = 'table' ORDER BY m.name, p.cid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	tables := map[string]bool{}
	for rows.Next() {
		var tbl, col, typ string
		if err := rows.Scan(&tbl, &col, &typ); err != nil {
			t.Fatal(err)
		}
		seen[col], tables[tbl] = true, true
		if strings.EqualFold(typ, "BLOB") && !slices.Contains(sqlstore.SecretColumns, col) {
			t.Errorf("%s.%s is a BLOB but not in sqlstore.SecretColumns", tbl, col)
		}
	}
	for _, col := range sqlstore.SecretColumns {
		if !seen[col] {
			t.Errorf("sqlstore.SecretColumns names %s, which no table has", col)
		}
	}
	for tbl := range tables {
		if tbl != sqlstore.VersionTable && !strings.HasPrefix(tbl, "sqlite_") && !slices.Contains(sqlstore.Tables, tbl) {
			t.Errorf("table %s is not in sqlstore.Tables (Inventory would not count it)", tbl)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir, out := t.TempDir(), t.TempDir()
	src := filepath.Join(dir, "capyd.db")
	s, err := Open(ctx, src, store.Config{CodePepper: storetest.Pepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateLoginCode(ctx, "a@example.com", "123456", 0); err != nil {
		t.Fatal(err)
	}

	to := filepath.Join(out, "backup.db")
	if err := Backup(ctx, src, to); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	st, err := os.Stat(to)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("the backup has mode %v, want 0600", st.Mode().Perm())
	}
	if got := listDir(t, out); !slices.Equal(got, []string{"backup.db"}) {
		t.Fatalf("the backup left %v", got)
	}
	// One file, in rollback-journal mode: no -wal belongs to it.
	hdr := make([]byte, 20)
	f, _ := os.Open(to)
	_, _ = f.ReadAt(hdr, 0)
	f.Close()
	if !bytes.HasPrefix(hdr, []byte("SQLite format 3\x00")) || hdr[18] != 1 || hdr[19] != 1 {
		t.Fatalf("backup header %q: want a SQLite file in rollback-journal mode", hdr)
	}

	// Never over an existing file, even an empty one.
	sum := fileSum(t, to)
	if err := Backup(ctx, src, to); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Backup over an existing backup: %v, want fs.ErrExist", err)
	}
	if fileSum(t, to) != sum {
		t.Fatal("a refused backup changed the existing file")
	}
	empty := filepath.Join(out, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, src, empty); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Backup over an empty file: %v, want fs.ErrExist", err)
	}

	// No database: nothing is created, on either side.
	if err := Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(out, "m.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Backup of a missing database: %v, want fs.ErrNotExist", err)
	}
	// A file that is not a database: the half-made backup is removed.
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, junk, filepath.Join(out, "j.db")); err == nil {
		t.Fatal("Backup of a file that is not a database succeeded")
	}
	if got := listDir(t, out); !slices.Equal(got, []string{"backup.db", "empty.db"}) {
		t.Fatalf("failed backups left %v", got)
	}
	if got := listDir(t, dir); slices.Contains(got, "missing.db") {
		t.Fatalf("Backup created the missing database: %v", got)
	}
}

func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "capyd.db")
	s, err := Open(ctx, src, store.Config{CodePepper: storetest.Pepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLoginCode(ctx, "a@example.com", "123456", 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A path SQLite would read as a URI if it were given one unescaped.
	bdir := filepath.Join(t.TempDir(), "a?b#c%d")
	if err := os.Mkdir(bdir, 0o700); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(bdir, "backup.db")
	if err := Backup(ctx, src, b); err != nil {
		t.Fatal(err)
	}
	sum := fileSum(t, b)

	ro, err := OpenReadOnly(ctx, b, store.Config{CodePepper: storetest.Pepper})
	if err != nil {
		t.Fatalf("OpenReadOnly: %v", err)
	}
	inv, err := ro.Inventory(ctx)
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	if inv.SchemaVersion != migrations.Latest(migrations.SQLite) || inv.Tables[1] != (store.TableCount{Table: "login_codes", Rows: 1}) {
		t.Fatalf("Inventory: %+v", inv)
	}
	if _, err := ro.CreateLoginCode(ctx, "b@example.com", "123456", 0); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("a write through the read-only store: %v, want ErrUnavailable", err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if fileSum(t, b) != sum {
		t.Fatal("opening the backup read-only changed it")
	}
	if got := listDir(t, bdir); !slices.Equal(got, []string{"backup.db"}) {
		t.Fatalf("opening the backup read-only left %v beside it", got)
	}
	if _, err := OpenReadOnly(ctx, filepath.Join(bdir, "missing.db"), store.Config{CodePepper: storetest.Pepper}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OpenReadOnly of a missing file: %v", err)
	}
	if got := listDir(t, bdir); !slices.Equal(got, []string{"backup.db"}) {
		t.Fatalf("OpenReadOnly of a missing file created %v", got)
	}
}
