package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlstore"
)

// Backup writes a consistent copy of the database at path into the new
// file to, while capyd may be serving it (`capyd backup`). VACUUM INTO
// reads one snapshot on a query-only connection of its own: the writer
// goes on committing meanwhile (WAL), and the copy holds exactly the
// transactions committed before the snapshot, nothing of one after it.
// The copy is a single file in rollback-journal mode (no -wal to go with
// it); capyd switches it back to WAL when it serves it.
//
// to is created with mode 0600 and O_EXCL: an existing file, even an
// empty one, is refused (an error matching fs.ErrExist) and left alone.
// The copy is fsynced with its directory before Backup returns; a failed
// backup removes the file it created. Backup never creates the database:
// a missing one is an error matching fs.ErrNotExist.
func Backup(ctx context.Context, path, to string) (err error) {
	if _, err := regularFile(path); err != nil {
		return err
	}
	abs, err := filepath.Abs(to)
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %v", to, err)
	}
	f, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", to, err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(abs)
		}
	}()
	// A connection of its own, without query_only (which refuses VACUUM
	// INTO too): the one statement it runs reads the database and writes
	// only the new file.
	if _, err := dsn(path, false); err != nil {
		return err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	src, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %v", path, err)
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	// The target is a bound parameter, not SQL text; an absolute path
	// never starts with "file:", so SQLite cannot read it as a URI.
	if _, err := src.ExecContext(ctx, `VACUUM INTO $1`, abs); err != nil {
		return fmt.Errorf("sqlite: backup %s to %s: %w", path, to, translate(ctx, err))
	}
	if err := syncFile(abs); err != nil {
		return fmt.Errorf("sqlite: backup to %s: %w", to, err)
	}
	if err := syncFile(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("sqlite: backup to %s: sync its directory: %w", to, err)
	}
	return nil
}

// regularFile checks that path names an existing regular file (after
// links), without creating anything.
func regularFile(path string) (fs.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("sqlite: %s is not a regular file", path)
	}
	return st, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// OpenReadOnly opens the SQLite file at path without writing to it or
// beside it, for `capyd restore-check`: as an immutable URI (mode=ro,
// immutable=1: no locks, no -wal or -shm file, no journal) on query-only
// connections. It is meant for a backup, which nothing else writes; a
// database a capyd is serving must be copied first (Backup). The schema
// version is not checked (Inventory reports it): any version this
// binary's queries can read is usable, and writes fail with
// store.ErrUnavailable. A missing file is an error matching
// fs.ErrNotExist; nothing is created.
func OpenReadOnly(ctx context.Context, path string, cfg store.Config) (*sqlstore.Store, error) {
	if _, err := cfg.WithDefaults(); err != nil {
		return nil, err
	}
	if _, err := regularFile(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %v", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	q.Add("_pragma", "query_only(1)")
	q.Add("_pragma", "foreign_keys(1)")
	uri := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()
	open := func(conns int) (*sql.DB, error) {
		h, err := sql.Open("sqlite", uri)
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %v", path, err)
		}
		h.SetMaxOpenConns(conns)
		return h, nil
	}
	w, err := open(1)
	if err != nil {
		return nil, err
	}
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, translate(ctx, err))
	}
	r, err := open(2)
	if err != nil {
		w.Close()
		return nil, err
	}
	s, err := sqlstore.New(&db{w: w, r: r, wc: newStmtCache(w), rc: newStmtCache(r)},
		dialect, cfg)
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	return s, nil
}
