package store

import (
	"context"
	"time"
)

// Paged lists (docs/storage.md "Paged lists"). The List…Page methods read
// one page of a list with keyset pagination: the caller names the key of
// the last item it has seen and the store reads the next rows of the list
// in its order from an index that holds that order, so that a page reads
// about as many rows as it returns wherever in the list it starts.

// MaxPageLimit bounds the Limit of a page.
const MaxPageLimit = 1000

// TimeKey is a position in a list ordered by a time, then an id (both
// ascending or both descending): the key of the last item already seen.
// The zero TimeKey is the start of the list.
type TimeKey struct {
	At time.Time
	ID string
}

// IsZero reports whether k is the start of the list.
func (k TimeKey) IsZero() bool { return k.At.IsZero() && k.ID == "" }

// PageQuery asks for one page of a list ordered by a time and an id.
type PageQuery struct {
	After TimeKey // the key of the last item seen; zero for the first page
	Limit int     // 1 … MaxPageLimit items (ErrInvalid otherwise)
}

// Page is one page of a list: at most the query's limit of items, in the
// list's order, and whether more items follow them.
type Page[T any] struct {
	Items []T
	More  bool
}

// MemberFilter narrows ListMembersPage.
type MemberFilter struct {
	Status MemberStatus // StatusActive or StatusRevoked; "" for both
	Email  string       // a canonical e-mail address; "" for any
}

// DeployFilter narrows ListDeploysPage.
type DeployFilter struct {
	EnvID    string    // one environment; "" for all
	MintedBy string    // tokens minted by this user; "" for any
	ActiveAt time.Time // tokens neither revoked nor expired at this time; zero for all
}

type listHookKey struct{}

// WithListHook returns a context under which a List…Page (or ListAudit)
// call passes fn the text and arguments of the statement that reads its
// page, just before running it. For the conformance suite and the -scale
// benchmark, which ask the database how it runs that statement;
// production code never sets it.
func WithListHook(ctx context.Context, fn func(query string, args []any)) context.Context {
	return context.WithValue(ctx, listHookKey{}, fn)
}

// RunListHook calls the list hook of ctx, if any. Implementations call it
// with every statement that reads a page.
func RunListHook(ctx context.Context, query string, args []any) {
	if fn, ok := ctx.Value(listHookKey{}).(func(string, []any)); ok && fn != nil {
		fn(query, args)
	}
}
