package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/migrations"
)

// VersionTable is the table in which goose records applied migrations.
const VersionTable = "goose_db_version"

// MigrationResult says what Migrate did.
type MigrationResult struct {
	From    int64   // schema version before
	To      int64   // schema version after
	Applied []int64 // versions applied by this call, in order
}

// Migrate applies the dialect's pending embedded migrations to db with
// goose. With a locker (PostgreSQL: a session advisory lock) concurrent
// callers — replicas starting together — queue and the later ones find
// nothing to do. A database whose schema is newer than this binary's
// migrations is refused with store.ErrSchemaTooNew, before and after.
func Migrate(ctx context.Context, db *sql.DB, d migrations.Dialect, locker lock.SessionLocker) (MigrationResult, error) {
	var gd goose.Dialect
	switch d {
	case migrations.SQLite:
		gd = goose.DialectSQLite3
	case migrations.Postgres:
		gd = goose.DialectPostgres
	default:
		return MigrationResult{}, fmt.Errorf("migrate: unknown dialect %q", d)
	}
	opts := []goose.ProviderOption{
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName(VersionTable),
	}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, db, migrations.FS(d), opts...)
	if err != nil {
		return MigrationResult{}, fmt.Errorf("migrate: %v", err)
	}
	latest := migrations.Latest(d)
	var res MigrationResult
	if res.From, err = SchemaVersion(ctx, db, d); err != nil {
		return res, err
	}
	if res.From > latest {
		return res, tooNew(res.From, latest)
	}
	applied, err := p.Up(ctx)
	for _, r := range applied {
		if r != nil && r.Source != nil && r.Error == nil {
			res.Applied = append(res.Applied, r.Source.Version)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("migrate: %w", ctx.Err())
		}
		return res, fmt.Errorf("migrate: %v", err)
	}
	if res.To, err = SchemaVersion(ctx, db, d); err != nil {
		return res, err
	}
	if res.To > latest {
		return res, tooNew(res.To, latest)
	}
	return res, nil
}

func tooNew(have, know int64) error {
	return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; upgrade capyd", store.ErrSchemaTooNew, have, know)
}

// SchemaVersion returns the highest migration version recorded in db, 0
// if none was ever applied. It creates nothing.
func SchemaVersion(ctx context.Context, db *sql.DB, d migrations.Dialect) (int64, error) {
	var exists bool
	var q string
	switch d {
	case migrations.SQLite:
		q = `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '` + VersionTable + `'`
	case migrations.Postgres:
		q = `SELECT to_regclass('` + VersionTable + `') IS NOT NULL`
	default:
		return 0, fmt.Errorf("schema version: unknown dialect %q", d)
	}
	if err := db.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return 0, schemaErr(ctx, err)
	}
	if !exists {
		return 0, nil
	}
	var v sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM `+VersionTable).Scan(&v); err != nil {
		return 0, schemaErr(ctx, err)
	}
	return v.Int64, nil
}

func schemaErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("schema version: %w", ctx.Err())
	}
	return fmt.Errorf("%w: reading the schema version: %v", store.ErrUnavailable, err)
}

// CheckSchema refuses a database that is not exactly at this binary's
// schema version: ErrSchemaTooNew if it is ahead, ErrSchemaOutdated if it
// is behind.
func CheckSchema(ctx context.Context, db *sql.DB, d migrations.Dialect) error {
	have, err := SchemaVersion(ctx, db, d)
	if err != nil {
		return err
	}
	know := migrations.Latest(d)
	switch {
	case have > know:
		return tooNew(have, know)
	case have < know:
		return fmt.Errorf("%w: the database is at schema version %d, this binary needs %d; run `capyd migrate`", store.ErrSchemaOutdated, have, know)
	}
	return nil
}
