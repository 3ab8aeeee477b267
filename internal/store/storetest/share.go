package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"ShareRequest", testShareRequest},
		test{"ShareLinkViews", testShareLinkViews},
		test{"ShareExpiry", testShareExpiry},
		test{"ShareRefusals", testShareRefusals},
	)
}

// shareColumns reads what the database keeps of a share: its key and
// blob (NULL once gone).
func (h *h) shareColumns(id string) (publicKey, blob []byte) {
	h.t.Helper()
	if err := h.raw.QueryRowContext(h.ctx, `SELECT public_key, blob FROM shares WHERE id = $1`, id).Scan(&publicKey, &blob); err != nil {
		h.t.Fatalf("read share %s: %v", id, err)
	}
	return publicKey, blob
}

func testShareRequest(t *testing.T, h *h) {
	f := h.setup()
	id := ident.NewShareID()
	pk := randBytes(294)
	req, err := h.s.CreateShareRequest(h.ctx, id, pk)
	wantErr(t, err, nil, "CreateShareRequest")
	if req.State != store.SharePending || !req.ExpiresAt.Equal(h.clock.Now().Truncate(time.Microsecond).Add(store.ShareRequestTTL)) {
		t.Fatalf("request %+v", req)
	}
	_, err = h.s.CreateShareRequest(h.ctx, id, pk)
	wantErr(t, err, store.ErrExists, "the same id again")

	// The recipient polls: pending, nothing spent, nothing audited.
	before := h.state(f.owner, f.org)
	got, err := h.s.OpenShare(h.ctx, id)
	wantErr(t, err, nil, "OpenShare pending")
	if got.State != store.SharePending || got.Blob != nil {
		t.Fatalf("pending open %+v", got)
	}
	h.unchanged(before, f.owner, f.org, "a pending poll")

	// A member reads the key and answers.
	got, err = h.s.GetShareRequest(h.ctx, f.member.tok, id)
	wantErr(t, err, nil, "GetShareRequest")
	if !bytes.Equal(got.PublicKey, pk) || got.State != store.SharePending {
		t.Fatalf("GetShareRequest %+v", got)
	}
	sealed := randBytes(400)
	exp := h.clock.Now().Add(time.Hour)
	sh, hd, err := h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: sealed, ExpiresAt: exp})
	wantErr(t, err, nil, "CreateShare (answer)")
	if sh.State != store.ShareReady || sh.CreatedBy != f.member.ID || sh.ViewsLeft != 1 || hd.Seq == 0 {
		t.Fatalf("answered %+v %+v", sh, hd)
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionShareCreate || ev.Actor != f.member.ID || !strings.HasPrefix(ev.Target, id+" kind=request views=1 expires=") {
		t.Fatalf("share-create audit %+v", ev)
	}
	// Answered once only.
	_, _, err = h.s.CreateShare(h.ctx, f.admin.tok, store.NewShare{ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), ExpiresAt: exp})
	wantErr(t, err, store.ErrConsumed, "a second answer")
	_, err = h.s.GetShareRequest(h.ctx, f.member.tok, id)
	wantErr(t, err, store.ErrConsumed, "GetShareRequest after the answer")

	// The recipient's fetch gets the blob; key and blob are gone with it.
	got, err = h.s.OpenShare(h.ctx, id)
	wantErr(t, err, nil, "OpenShare")
	if got.State != store.ShareOpened || !bytes.Equal(got.Blob, sealed) || got.OrgID != f.org {
		t.Fatalf("opened %+v", got)
	}
	if k, b := h.shareColumns(id); k != nil || b != nil {
		t.Fatal("the database still holds the key or the blob of an opened share")
	}
	ev = h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionShareOpen || ev.Actor != store.ActorRecipient || ev.Target != id+" kind=request views_left=0" {
		t.Fatalf("share-open audit %+v", ev)
	}
	_, err = h.s.OpenShare(h.ctx, id)
	wantErr(t, err, store.ErrConsumed, "second fetch")
	if v, err := h.s.VerifyAudit(h.ctx, f.owner.tok, f.org); err != nil || !v.Valid {
		t.Fatalf("chain %+v %v", v, err)
	}
}

func testShareLinkViews(t *testing.T, h *h) {
	f := h.setup()
	id := ident.NewShareID()
	sealed := randBytes(100)
	_, _, err := h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: id, OrgID: f.org, Kind: store.ShareLink, Blob: sealed, Views: 2, ExpiresAt: h.clock.Now().Add(time.Hour)})
	wantErr(t, err, nil, "CreateShare (link)")
	_, _, err = h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: id, OrgID: f.org, Kind: store.ShareLink, Blob: sealed, Views: 1, ExpiresAt: h.clock.Now().Add(time.Hour)})
	wantErr(t, err, store.ErrExists, "a link id twice")
	_, err = h.s.GetShareRequest(h.ctx, f.member.tok, id)
	wantErr(t, err, store.ErrNotFound, "a link is no request")
	for want := 1; want >= 0; want-- {
		got, err := h.s.OpenShare(h.ctx, id)
		wantErr(t, err, nil, "OpenShare")
		if got.ViewsLeft != want || !bytes.Equal(got.Blob, sealed) {
			t.Fatalf("view: %+v", got)
		}
	}
	if _, b := h.shareColumns(id); b != nil {
		t.Fatal("the blob outlived the last view")
	}
	_, err = h.s.OpenShare(h.ctx, id)
	wantErr(t, err, store.ErrConsumed, "a third view")
}

func testShareExpiry(t *testing.T, h *h) {
	f := h.setup()
	// A sealed link expires on read.
	link := ident.NewShareID()
	_, _, err := h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: link, OrgID: f.org, Kind: store.ShareLink, Blob: randBytes(50), Views: 1, ExpiresAt: h.clock.Now().Add(time.Hour)})
	wantErr(t, err, nil, "CreateShare")
	// Another, sealed, left for the sweeper; and a request no one answers.
	swept := ident.NewShareID()
	_, _, err = h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: swept, OrgID: f.org, Kind: store.ShareLink, Blob: randBytes(50), Views: 1, ExpiresAt: h.clock.Now().Add(time.Hour)})
	wantErr(t, err, nil, "CreateShare")
	req := ident.NewShareID()
	_, err = h.s.CreateShareRequest(h.ctx, req, randBytes(294))
	wantErr(t, err, nil, "CreateShareRequest")

	h.clock.Advance(time.Hour)
	_, err = h.s.OpenShare(h.ctx, link)
	wantErr(t, err, store.ErrExpired, "OpenShare at expiry")
	if _, b := h.shareColumns(link); b != nil {
		t.Fatal("an expired share kept its blob")
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionShareExpire || ev.Actor != store.ActorExpiry || ev.Target != link+" kind=link" {
		t.Fatalf("share-expire audit %+v", ev)
	}
	_, err = h.s.OpenShare(h.ctx, link)
	wantErr(t, err, store.ErrExpired, "OpenShare again")

	h.clock.Advance(store.ShareRequestTTL)
	n, err := h.s.SweepShares(h.ctx)
	wantErr(t, err, nil, "SweepShares")
	if n < 2 {
		t.Fatalf("swept %d", n)
	}
	if _, b := h.shareColumns(swept); b != nil {
		t.Fatal("the sweeper left a blob")
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionShareExpire || ev.Target != swept+" kind=link" {
		t.Fatalf("sweep audit %+v", ev)
	}
	var left int
	if err := h.raw.QueryRowContext(h.ctx, `SELECT count(*) FROM shares WHERE id = $1`, req).Scan(&left); err != nil || left != 0 {
		t.Fatalf("an unanswered request outlived its expiry: %d %v", left, err)
	}
	_, err = h.s.OpenShare(h.ctx, req)
	wantErr(t, err, store.ErrNotFound, "a swept request")
	// Tombstones go a week later.
	h.clock.Advance(store.ShareTombstoneTTL)
	_, err = h.s.SweepShares(h.ctx)
	wantErr(t, err, nil, "SweepShares")
	_, err = h.s.OpenShare(h.ctx, swept)
	wantErr(t, err, store.ErrNotFound, "a tombstone after a week")
	if v, err := h.s.VerifyAudit(h.ctx, f.owner.tok, f.org); err != nil || !v.Valid {
		t.Fatalf("chain %+v %v", v, err)
	}
}

func testShareRefusals(t *testing.T, h *h) {
	f := h.setup()
	stranger := h.login(email("stranger"))
	id := ident.NewShareID()
	_, err := h.s.CreateShareRequest(h.ctx, id, randBytes(294))
	wantErr(t, err, nil, "CreateShareRequest")
	_, err = h.s.CreateShareRequest(h.ctx, "NOT-AN-ID", randBytes(294))
	wantErr(t, err, store.ErrInvalid, "a malformed id")
	_, err = h.s.CreateShareRequest(h.ctx, ident.NewShareID(), nil)
	wantErr(t, err, store.ErrInvalid, "no key")
	before := h.state(f.owner, f.org)
	exp := h.clock.Now().Add(time.Hour)
	ok := store.NewShare{ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), ExpiresAt: exp}
	_, _, err = h.s.CreateShare(h.ctx, stranger.tok, ok)
	wantErr(t, err, store.ErrNotMember, "a stranger answers")
	_, _, err = h.s.CreateShare(h.ctx, newToken(), ok)
	wantErr(t, err, store.ErrUnauthenticated, "no session")
	for what, bad := range map[string]store.NewShare{
		"no blob":          {ID: id, OrgID: f.org, Kind: store.ShareRequest, ExpiresAt: exp},
		"past expiry":      {ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), ExpiresAt: h.clock.Now()},
		"too long":         {ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), ExpiresAt: h.clock.Now().Add(store.ShareMaxTTL + time.Second)},
		"link of 0 views":  {ID: ident.NewShareID(), OrgID: f.org, Kind: store.ShareLink, Blob: randBytes(10), ExpiresAt: exp},
		"link of 101":      {ID: ident.NewShareID(), OrgID: f.org, Kind: store.ShareLink, Blob: randBytes(10), Views: 101, ExpiresAt: exp},
		"unknown kind":     {ID: id, OrgID: f.org, Kind: "other", Blob: randBytes(10), ExpiresAt: exp},
		"request of views": {ID: id, OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), Views: 2, ExpiresAt: exp},
	} {
		_, _, err = h.s.CreateShare(h.ctx, f.member.tok, bad)
		wantErr(t, err, store.ErrInvalid, what)
	}
	_, _, err = h.s.CreateShare(h.ctx, f.member.tok, store.NewShare{ID: ident.NewShareID(), OrgID: f.org, Kind: store.ShareRequest, Blob: randBytes(10), ExpiresAt: exp})
	wantErr(t, err, store.ErrNotFound, "answer to no request")
	h.unchanged(before, f.owner, f.org, "refused shares")
	got, err := h.s.OpenShare(h.ctx, id)
	wantErr(t, err, nil, "the request still pends")
	if got.State != store.SharePending {
		t.Fatalf("%+v", got)
	}
	_, err = h.s.OpenShare(h.ctx, ident.NewShareID())
	wantErr(t, err, store.ErrNotFound, "unknown share")
}
