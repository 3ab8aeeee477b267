package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// Paging (docs/api.md §1.6). A cursor is b64u("capy-cursor 1 " list " "
// key): the sort key of the last item returned, in an order-preserving
// text form, and the name of the list, so a cursor of another list is
// refused. It encodes a position, never authority: every page re-reads
// the list with the caller's rights.
//
// The store reads one page at a time after that key (keyset pagination,
// docs/storage.md "Paged lists"), so pages stay stable when items are
// added between requests and a deep page costs what the first one does.

const cursorMagic = "capy-cursor 1 "

// pageReq is a request's limit and cursor position.
type pageReq struct {
	list  string
	limit int
	after string // sort key of the last item seen; "" for the first page
	has   bool   // a cursor was given
}

// parsePage reads limit (1…maxLimit, default def) and cursor from q.
func parsePage(q map[string]string, list string, def, maxLimit int) (pageReq, error) {
	p := pageReq{list: list, limit: def}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit || v != strconv.Itoa(n) {
			return p, invalidField("limit", fmt.Sprintf("must be an integer from 1 to %d", maxLimit))
		}
		p.limit = n
	}
	if v, ok := q["cursor"]; ok {
		raw, err := wrap.DecodeB64(v)
		key, found := strings.CutPrefix(string(raw), cursorMagic+list+" ")
		if err != nil || !found || key == "" {
			return p, badCursor()
		}
		p.after, p.has = key, true
	}
	return p, nil
}

func (p pageReq) cursor(key string) *string {
	c := wrap.B64.EncodeToString([]byte(cursorMagic + p.list + " " + key))
	return &c
}

// pageOf converts one page the store read. The next cursor, if more
// items follow, is the key of the page's last item.
func pageOf[T, U any](p pageReq, pg store.Page[T], key func(T) string, conv func(T) U) api.List[U] {
	out := api.List[U]{Items: make([]U, 0, len(pg.Items))}
	for _, it := range pg.Items {
		out.Items = append(out.Items, conv(it))
	}
	if n := len(pg.Items); pg.More && n > 0 {
		out.NextCursor = p.cursor(key(pg.Items[n-1]))
	}
	return out
}

// timeQuery is the store query of a list ordered by a time, then an id of
// kind k: the page's limit and the position the cursor names, checked to
// be a key timeKey produced from a stored time (whole microseconds) and
// an id of kind k (invalid-field otherwise).
func (p pageReq) timeQuery(k ident.Kind) (store.PageQuery, error) {
	q := store.PageQuery{Limit: p.limit}
	if !p.has {
		return q, nil
	}
	at, id, ok := strings.Cut(p.after, "|")
	t, err := time.Parse(timeKeyLayout, at)
	if !ok || err != nil || t.Nanosecond()%1000 != 0 || ident.CheckID(k, id) != nil || timeKey(t, id) != p.after {
		return q, badCursor()
	}
	q.After = store.TimeKey{At: t, ID: id}
	return q, nil
}

// numAfter is the position the cursor of a list ordered by a number names
// (0 without a cursor), checked to be a key numKey produced.
func (p pageReq) numAfter() (int64, error) {
	if !p.has {
		return 0, nil
	}
	n, err := strconv.ParseInt(p.after, 10, 64)
	if err != nil || n < 1 || numKey(n) != p.after {
		return 0, badCursor()
	}
	return n, nil
}

func badCursor() error {
	return invalidField("cursor", "the cursor is malformed or belongs to another list")
}

const timeKeyLayout = "20060102T150405.000000000"

// timeKey is an order-preserving key of a time and an id.
func timeKey(t time.Time, id string) string {
	return t.UTC().Format(timeKeyLayout) + "|" + id
}

// numKey is an order-preserving key of a non-negative integer.
func numKey(n int64) string { return fmt.Sprintf("%020d", n) }
