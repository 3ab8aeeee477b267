// Package migrations embeds capyd's database schema, one folder per SQL
// dialect. Both folders hold the same version numbers (a test checks), so
// "schema version N" means the same tables and columns in SQLite and
// PostgreSQL. Files are goose SQL migrations (`-- +goose Up`), applied by
// the store implementations under a lock; they are forward-only.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Dialect names a folder of migrations.
type Dialect string

// The dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// FS returns the migrations of a dialect, file names at the root.
func FS(d Dialect) fs.FS {
	sub, err := fs.Sub(files, string(d))
	if err != nil {
		panic(fmt.Sprintf("migrations: %v", err)) // fixed, embedded paths
	}
	return sub
}

var fileName = regexp.MustCompile(`^([0-9]+)_[a-z0-9_]+\.sql$`)

// Versions returns the sorted version numbers of a dialect's migrations.
// Every file must be named NNNNN_snake_case.sql.
func Versions(d Dialect) ([]int64, error) {
	entries, err := fs.ReadDir(files, string(d))
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: %s: name must be NNNNN_snake_case.sql", path.Join(string(d), e.Name()))
		}
		v, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("migrations: %s: bad version", path.Join(string(d), e.Name()))
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Latest returns the highest version of a dialect: the schema version this
// binary knows.
func Latest(d Dialect) int64 {
	v, err := Versions(d)
	if err != nil || len(v) == 0 {
		panic(fmt.Sprintf("migrations: no usable %s migrations: %v", d, err))
	}
	return v[len(v)-1]
}
