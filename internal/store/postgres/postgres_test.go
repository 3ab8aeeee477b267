package postgres

import (
	"context"
	"database/sql"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/internal/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t testing.TB, cfg store.Config) (store.Store, *sql.DB) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	cfg.AutoMigrate = true
	s, err := Open(context.Background(), url, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	raw := stdlib.OpenDB(*cc)
	t.Cleanup(func() { raw.Close() })
	return s, raw
}

func TestConformance(t *testing.T) {
	storetest.Run(t, open)
}

func BenchmarkCoDecrypt(b *testing.B) { storetest.BenchmarkCoDecrypt(b, open) }
