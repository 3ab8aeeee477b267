package storeopen

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/capy-oss/capy/internal/store"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]struct {
		k Kind
		c string
	}{
		"postgres://u@h/db":         {Postgres, "postgres://u@h/db"},
		"postgresql://u@h/db?x=1":   {Postgres, "postgresql://u@h/db?x=1"},
		"/var/lib/capy/capy.db":     {SQLite, "/var/lib/capy/capy.db"},
		"sqlite:/var/lib/capy/c.db": {SQLite, "/var/lib/capy/c.db"},
		"capy.db":                   {SQLite, "capy.db"},
	} {
		k, c := Parse(in)
		if k != want.k || c != want.c {
			t.Errorf("Parse(%q) = %s %q", in, k, c)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	ctx := context.Background()
	if _, err := Migrate(ctx, "sqlite:"+path); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, store.Config{CodePepper: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
