package server

import (
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// TestCursorKeys: a cursor's key reaches the store only if the service
// could have issued it: a time of whole microseconds and an id of the
// list's kind, or a canonical version number.
func TestCursorKeys(t *testing.T) {
	at := time.Date(2031, 3, 4, 5, 6, 7, 123456000, time.UTC)
	org := ident.NewID(ident.Org)
	req := func(key string) pageReq { return pageReq{list: "orgs", limit: 7, after: key, has: true} }

	q, err := req(timeKey(at, org)).timeQuery(ident.Org)
	if err != nil || q.Limit != 7 || !q.After.At.Equal(at) || q.After.ID != org {
		t.Fatalf("issued key: %+v, %v", q, err)
	}
	if q, err := (pageReq{limit: 3}).timeQuery(ident.Org); err != nil || q != (store.PageQuery{Limit: 3}) {
		t.Fatalf("no cursor: %+v, %v", q, err)
	}
	for _, key := range []string{
		timeKey(at.Add(time.Nanosecond), org),   // not a stored time
		timeKey(at, ident.NewID(ident.User)),    // another list's id
		timeKey(at, "org_x"),                    // not an id
		timeKey(at, ""),                         // no id
		timeKey(at, org)[:25],                   // no separator
		"2031-03-04T05:06:07.123456000Z|" + org, // another layout
		"20310304T050607.123456|" + org,         // too short
		"20311304T050607.123456000|" + org,      // month 13
		"x",
	} {
		if _, err := req(key).timeQuery(ident.Org); err == nil {
			t.Errorf("time key %q accepted", key)
		}
	}

	if n, err := req(numKey(42)).numAfter(); err != nil || n != 42 {
		t.Fatalf("issued version key: %d, %v", n, err)
	}
	if n, err := (pageReq{}).numAfter(); err != nil || n != 0 {
		t.Fatalf("no cursor: %d, %v", n, err)
	}
	for _, key := range []string{"42", numKey(0), "-0000000000000000042", "0000000000000000004x", numKey(42) + "0"} {
		if _, err := req(key).numAfter(); err == nil {
			t.Errorf("version key %q accepted", key)
		}
	}
}
