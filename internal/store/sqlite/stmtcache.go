package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds the distinct statement texts kept prepared per
// handle. The store's texts are its constants (about 65) plus, on the
// writer, the co-decrypt gate's IN-list lookup and multi-row audit INSERT,
// whose sizes are powers of two up to 128 (16 texts): fewer than 100 in
// all, each prepared once per connection. Past the bound a text runs
// unprepared, as without a cache. There is no eviction: the store's texts
// all fit, so the bound only stops a generator of texts gone wrong from
// growing the cache without end, and evicting would just prepare the same
// texts again.
const maxCachedStmts = 512

// stmtCache keeps one prepared statement per SQL text for a handle, so
// SQLite parses each text once per connection instead of on every call.
// Keys are the store's SQL texts, which never contain a value: every
// value is a bound parameter.
type stmtCache struct {
	db  *sql.DB
	max int

	mu     sync.RWMutex
	m      map[string]*sql.Stmt
	closed bool

	prepares atomic.Int64 // calls of db.PrepareContext, for tests
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, max: maxCachedStmts, m: make(map[string]*sql.Stmt)}
}

// get returns the statement cached for q, if any, and whether the cache
// takes no more.
func (c *stmtCache) get(q string) (s *sql.Stmt, full bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[q], c.closed || len(c.m) >= c.max
}

// prepare returns the statement cached for q, preparing it on the handle
// first if needed; nil, nil when the cache is full. The caller must hold
// none of the handle's connections. A statement that fails to prepare is
// not cached.
func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, full := c.get(q); s != nil || full {
		return s, nil
	}
	c.prepares.Add(1)
	s, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	old, keep := c.m[q], !c.closed && len(c.m) < c.max
	if old == nil && keep {
		c.m[q] = s
	}
	c.mu.Unlock()
	if old != nil || !keep {
		// Another caller prepared q meanwhile, or the cache filled up or
		// was closed.
		_ = s.Close()
		return old, nil
	}
	return s, nil
}

// prepareAll prepares and caches the texts a transaction met uncached. It
// runs after the statements did, which reported their own errors, so a
// failure here only means the text stays uncached.
func (c *stmtCache) prepareAll(ctx context.Context, qs []string) {
	for _, q := range qs {
		if ctx.Err() != nil {
			return
		}
		_, _ = c.prepare(ctx, q)
	}
}

// close closes the cached statements; later uses of the cache prepare
// nothing.
func (c *stmtCache) close() error {
	c.mu.Lock()
	m := c.m
	c.m, c.closed = nil, true
	c.mu.Unlock()
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
