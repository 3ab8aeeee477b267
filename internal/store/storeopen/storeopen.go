// Package storeopen picks the store implementation from capyd's --database
// setting: a postgres:// or postgresql:// URL selects PostgreSQL, anything
// else is the path of a SQLite file (an optional "sqlite:" prefix is
// dropped).
package storeopen

import (
	"context"
	"errors"
	"strings"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/postgres"
	"github.com/capy-oss/capy/internal/store/sqlite"
	"github.com/capy-oss/capy/internal/store/sqlstore"
	"github.com/capy-oss/capy/migrations"
)

// Kind names an implementation.
type Kind string

// The implementations.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// Parse returns the implementation and its connection string (URL or file
// path) for a --database value.
func Parse(database string) (Kind, string) {
	if strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://") {
		return Postgres, database
	}
	return SQLite, strings.TrimPrefix(database, "sqlite:")
}

// Open opens the store named by database (see package doc).
func Open(ctx context.Context, database string, cfg store.Config) (store.Store, error) {
	kind, conn := Parse(database)
	if kind == Postgres {
		return postgres.Open(ctx, conn, cfg)
	}
	return sqlite.Open(ctx, conn, cfg)
}

// OpenReadOnly opens the database named by database without writing to it
// (`capyd restore-check`): sqlite.OpenReadOnly or postgres.OpenReadOnly.
func OpenReadOnly(ctx context.Context, database string, cfg store.Config) (store.Store, error) {
	kind, conn := Parse(database)
	if kind == Postgres {
		return postgres.OpenReadOnly(ctx, conn, cfg)
	}
	return sqlite.OpenReadOnly(ctx, conn, cfg)
}

// Migrate applies pending migrations to the database (`capyd migrate`).
func Migrate(ctx context.Context, database string) (sqlstore.MigrationResult, error) {
	kind, conn := Parse(database)
	if kind == Postgres {
		return postgres.Migrate(ctx, conn)
	}
	return sqlite.Migrate(ctx, conn)
}

// ErrNoBackup: `capyd backup` copies SQLite databases only; PostgreSQL is
// backed up with its own tools (pg_dump).
var ErrNoBackup = errors.New("capyd backs up SQLite databases only")

// Backup writes a consistent copy of the SQLite database named by
// database into the new file to (sqlite.Backup); ErrNoBackup for
// PostgreSQL.
func Backup(ctx context.Context, database, to string) error {
	kind, conn := Parse(database)
	if kind == Postgres {
		return ErrNoBackup
	}
	return sqlite.Backup(ctx, conn, to)
}

// SchemaVersion is the schema version this binary expects of a database
// of kind: its newest migration.
func SchemaVersion(kind Kind) int64 {
	if kind == Postgres {
		return migrations.Latest(migrations.Postgres)
	}
	return migrations.Latest(migrations.SQLite)
}
