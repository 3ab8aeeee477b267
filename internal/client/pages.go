package client

import (
	"errors"
	"fmt"

	"github.com/capy-oss/capy/internal/api"
)

// MaxPages bounds how many pages one listing may take: at the largest page
// size (1,000) that is ten million items, far past any honest listing.
const MaxPages = 10_000

// MaxItems bounds what one listing may hold in memory (with CAPY_TIMEOUT
// off, nothing else would).
const MaxItems = 1_000_000

// ErrPagination means the service's cursors would keep a listing going
// forever (a cursor repeated, or more pages than MaxPages).
var ErrPagination = errors.New("the service's page cursors do not end")

// Pager follows next_cursor through a listing and refuses cursors that a
// malicious or broken service could use to loop a client forever. The
// zero value is ready to use.
type Pager struct {
	seen  map[string]struct{}
	pages int
}

// Next takes a page's next_cursor and returns the cursor to ask for, or
// more = false at the end of the listing.
func (p *Pager) Next(next *string) (cursor string, more bool, err error) {
	p.pages++
	if next == nil {
		return "", false, nil
	}
	if p.seen == nil {
		p.seen = map[string]struct{}{}
	}
	if _, dup := p.seen[*next]; dup || *next == "" {
		return "", false, fmt.Errorf("%w (a cursor came back after %d pages)", ErrPagination, p.pages)
	}
	if p.pages >= MaxPages {
		return "", false, fmt.Errorf("%w (more than %d pages)", ErrPagination, MaxPages)
	}
	p.seen[*next] = struct{}{}
	return *next, true, nil
}

// Collect reads every page of a list.
func Collect[T any](fetch func(cursor string) (*api.List[T], error)) ([]T, error) {
	items := []T{}
	var pg Pager
	cursor := ""
	for {
		page, err := fetch(cursor)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if len(items) > MaxItems {
			return nil, fmt.Errorf("%w (more than %d items)", ErrPagination, MaxItems)
		}
		c, more, err := pg.Next(page.NextCursor)
		if err != nil || !more {
			return items, err
		}
		cursor = c
	}
}
