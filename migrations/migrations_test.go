package migrations

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
)

// Both dialects must carry the same version numbers, without gaps or
// duplicates, so a schema version means the same thing everywhere.
func TestSameVersionsInEveryDialect(t *testing.T) {
	lite, err := Versions(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := Versions(Postgres)
	if err != nil {
		t.Fatal(err)
	}
	if len(lite) == 0 {
		t.Fatal("no migrations")
	}
	if !slices.Equal(lite, pg) {
		t.Fatalf("versions differ: sqlite %v, postgres %v", lite, pg)
	}
	for i, v := range lite {
		if v != int64(i+1) {
			t.Fatalf("versions must be 1, 2, 3, … without gaps or duplicates; got %v", lite)
		}
	}
}

// Every file is a goose migration with an Up section.
func TestFilesAreGooseMigrations(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		err := fs.WalkDir(FS(d), ".", func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			b, err := fs.ReadFile(FS(d), p)
			if err != nil {
				return err
			}
			if !strings.Contains(string(b), "-- +goose Up") {
				t.Errorf("%s/%s: no '-- +goose Up' annotation", d, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
