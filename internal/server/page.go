package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/wrap"
)

// Paging (docs/api.md §1.6). A cursor is b64u("capy-cursor 1 " list " "
// key): the sort key of the last item returned, in an order-preserving
// text form, and the name of the list, so a cursor of another list is
// refused. It encodes a position, never authority: every page re-reads
// the list with the caller's rights.
//
// The store returns whole lists (each bounded by the count limits of §1.8
// or small in practice); the service cuts pages out of them by key, so
// pages stay stable when items are added between requests.

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
			return p, invalidField("cursor", "the cursor is malformed or belongs to another list")
		}
		p.after, p.has = key, true
	}
	return p, nil
}

func (p pageReq) cursor(key string) *string {
	c := wrap.B64.EncodeToString([]byte(cursorMagic + p.list + " " + key))
	return &c
}

// page cuts one page out of items, which are sorted by key ascending (or
// descending when desc), and converts it.
func page[T, U any](items []T, key func(T) string, desc bool, p pageReq, conv func(T) U) api.List[U] {
	i := 0
	if p.has {
		for i < len(items) {
			k := key(items[i])
			if (!desc && k > p.after) || (desc && k < p.after) {
				break
			}
			i++
		}
	}
	out := api.List[U]{Items: []U{}}
	end := min(len(items), i+p.limit)
	for _, it := range items[i:end] {
		out.Items = append(out.Items, conv(it))
	}
	if end < len(items) && end > i {
		out.NextCursor = p.cursor(key(items[end-1]))
	}
	return out
}

// timeKey is an order-preserving key of a time and an id.
func timeKey(t time.Time, id string) string {
	return t.UTC().Format("20060102T150405.000000000") + "|" + id
}

// numKey is an order-preserving key of a non-negative integer.
func numKey(n int64) string { return fmt.Sprintf("%020d", n) }
