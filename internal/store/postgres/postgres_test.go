package postgres

import (
	"context"
	"database/sql"
	"flag"
	"strings"
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
	return openLogged(t, cfg, nil)
}

// openLogged is open with every statement of the store's pool logged.
func openLogged(t testing.TB, cfg store.Config, log *statementLog) (store.Store, *sql.DB) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	cfg.AutoMigrate = true
	var tracer pgx.QueryTracer
	if log != nil {
		tracer = log
	}
	s, err := openTraced(context.Background(), url, cfg, tracer)
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

// The conformance suite, with the org_id statement check
// (orgscope_test.go) over every statement it made the store run.
func TestConformance(t *testing.T) {
	log := newStatementLog()
	t.Run("suite", func(t *testing.T) {
		storetest.Run(t, func(t testing.TB, cfg store.Config) (store.Store, *sql.DB) {
			return openLogged(t, cfg, log)
		})
	})
	if t.Failed() || testing.Short() {
		return
	}
	// A -run or -skip naming subtests runs part of the suite: its
	// statements are checked, but fewer of them are expected.
	run, skip := flag.Lookup("test.run"), flag.Lookup("test.skip")
	whole := !strings.Contains(run.Value.String(), "/") && (skip == nil || skip.Value.String() == "")
	t.Run("OrgScope", func(t *testing.T) { log.check(t, whole) })
}

func BenchmarkCoDecrypt(b *testing.B) { storetest.BenchmarkCoDecrypt(b, open) }
