package storetest

import (
	"errors"
	"testing"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"AuditChain", testAuditChain},
		test{"AuditPerOrg", testAuditPerOrg},
		test{"AuditTamperDetected", testAuditTamper},
		test{"AuditAppendOnly", testAuditAppendOnly},
		test{"RecordEvent", testRecordEvent},
		test{"RecordEventRefusals", testRecordEventRefusals},
	)
}

func testAuditChain(t *testing.T, h *h) {
	f := h.setup()
	h.push(f.member, f.env.ID)
	_, _ = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	_, _, err := h.s.ListAudit(h.ctx, f.member.tok, f.org, 0, 0)
	wantErr(t, err, store.ErrForbidden, "ListAudit by a plain member")
	all, hd, err := h.s.ListAudit(h.ctx, f.admin.tok, f.org, 0, 0)
	wantErr(t, err, nil, "ListAudit")
	if int64(len(all)) != hd.Seq || hd.Seq < 10 {
		t.Fatalf("%d events, head %+v", len(all), hd)
	}
	prev := auditchain.Genesis
	for i, e := range all {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.OrgID != f.org {
			t.Fatalf("event %d: %+v", i, e)
		}
		want := auditchain.Hash(prev, auditchain.Event{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Result: e.Result})
		if e.Hash != want {
			t.Fatalf("event %d: hash %s, recomputed %s", i, e.Hash, want)
		}
		if e.Time.Location().String() != "UTC" || !e.Time.Equal(h.clock.Now().Truncate(1000)) {
			t.Fatalf("event %d: time %v, clock %v", i, e.Time, h.clock.Now())
		}
		prev = e.Hash
	}
	if prev != hd.Hash {
		t.Fatal("head hash is not the last event's")
	}
	got, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if got != hd {
		t.Fatalf("VerifyChain head %+v, ListAudit head %+v", got, hd)
	}
	// Paging.
	page, hd2, err := h.s.ListAudit(h.ctx, f.admin.tok, f.org, 3, 4)
	wantErr(t, err, nil, "ListAudit page")
	if len(page) != 4 || page[0].Seq != 4 || page[3].Seq != 7 || hd2 != hd {
		t.Fatalf("page %+v", page)
	}
	page, _, _ = h.s.ListAudit(h.ctx, f.member.tok, f.org, hd.Seq, 10)
	if len(page) != 0 {
		t.Fatalf("page past the head: %+v", page)
	}
	// Access.
	stranger := h.login(email("stranger"))
	_, _, err = h.s.ListAudit(h.ctx, stranger.tok, f.org, 0, 10)
	wantErr(t, err, store.ErrNotMember, "stranger reading the audit log")
	_, err = h.s.VerifyChain(h.ctx, ident.NewID(ident.Org))
	wantErr(t, err, store.ErrNotFound, "VerifyChain of an unknown org")
	_, err = h.s.VerifyChain(h.ctx, "org_bad")
	wantErr(t, err, store.ErrInvalid, "VerifyChain with a bad id")
}

func testAuditPerOrg(t *testing.T, h *h) {
	a := h.login(email("a"))
	o1 := h.newOrg(a)
	o2 := h.newOrg(a)
	_, _ = h.s.AuthorizeCoDecrypt(h.ctx, a.tok, o1, a.ID)
	_, _ = h.s.AuthorizeCoDecrypt(h.ctx, a.tok, o1, a.ID)
	g, err := h.s.AuthorizeCoDecrypt(h.ctx, a.tok, o2, a.ID)
	wantErr(t, err, nil, "co-decrypt")
	if g.Audit.Seq != 2 || g.Audit.OrgID != o2 {
		t.Fatalf("second org's chain: %+v", g.Audit)
	}
	h1, _ := h.s.VerifyChain(h.ctx, o1)
	h2, _ := h.s.VerifyChain(h.ctx, o2)
	if h1.Seq != 3 || h2.Seq != 2 {
		t.Fatalf("heads %+v %+v", h1, h2)
	}
}

// testAuditTamper damages the stored chain behind the store's back and
// expects VerifyChain to notice.
func testAuditTamper(t *testing.T, h *h) {
	f := h.setup()
	hd, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")

	// A head that was moved.
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE audit_heads SET hash = $1 WHERE org_id = $2`, auditchain.Genesis, f.org); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, store.ErrChainBroken, "head hash changed")
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE audit_heads SET hash = $1 WHERE org_id = $2`, hd.Hash, f.org); err != nil {
		t.Fatal(err)
	}
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "VerifyChain restored")

	// An event slipped in at the end, head moved along, with a made-up hash.
	if _, err := h.raw.ExecContext(h.ctx, `
		INSERT INTO audit_events (org_id, seq, at, actor, action, target, result, prev_hash, hash)
		VALUES ($1, $2, '2031-03-04T05:06:07.123456000Z', 'usr_x', 'co-decrypt', 'usr_x', 'ok', $3, $4)`,
		f.org, hd.Seq+1, hd.Hash, auditchain.Genesis); err != nil {
		t.Fatal(err)
	}
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE audit_heads SET seq = $1, hash = $2 WHERE org_id = $3`, hd.Seq+1, auditchain.Genesis, f.org); err != nil {
		t.Fatal(err)
	}
	_, err = h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, store.ErrChainBroken, "forged event")
}

// testAuditAppendOnly checks the schema's own guard: audit rows cannot be
// changed or deleted, memberships cannot be deleted, even with raw SQL.
func testAuditAppendOnly(t *testing.T, h *h) {
	f := h.setup()
	for _, q := range []string{
		`UPDATE audit_events SET result = 'denied' WHERE org_id = $1`,
		`DELETE FROM audit_events WHERE org_id = $1`,
		`DELETE FROM memberships WHERE org_id = $1`,
	} {
		if _, err := h.raw.ExecContext(h.ctx, q, f.org); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "chain intact")
}

// testRecordEvent: the events a member's client reports (a split of the
// recovery phrase, a recovery) are appended with the caller as actor and
// the fixed target of docs/api.md §6.
func testRecordEvent(t *testing.T, h *h) {
	f := h.setup()
	for _, c := range []struct {
		by     who
		ev     store.ClientEvent
		target string
	}{
		{f.owner, store.ClientEvent{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3"}, " set=5e1a scheme=2-of-3"},
		{f.admin, store.ClientEvent{Action: store.ActionRecoverySplit, Set: "0001", Scheme: "2:2-of-3,1-of-1"}, " set=0001 scheme=2:2-of-3,1-of-1"},
		{f.member, store.ClientEvent{Action: store.ActionRecover, From: store.RecoverFromShares, Set: "7fff"}, " from=shares set=7fff"},
		{f.owner, store.ClientEvent{Action: store.ActionRecover, From: store.RecoverFromPhrase}, " from=phrase"},
	} {
		before := h.state(f.owner, f.org)
		hd, err := h.s.RecordEvent(h.ctx, c.by.tok, f.org, c.ev)
		wantErr(t, err, nil, "RecordEvent "+c.ev.Action)
		h.unchangedButAudit(before, f.owner, f.org, "RecordEvent", c.by.ID, c.ev.Action, store.ResultOK)
		ev := h.lastAudit(f.owner, f.org)
		if ev.Target != c.by.ID+c.target || ev.Seq != hd.Seq || ev.Hash != hd.Hash || hd.OrgID != f.org {
			t.Fatalf("event %+v, head %+v; want target %q", ev, hd, c.by.ID+c.target)
		}
	}
	if _, err := h.s.VerifyChain(h.ctx, f.org); err != nil {
		t.Fatal(err)
	}
}

// testRecordEventRefusals: a plain member cannot record a split, a
// stranger or a kicked member nothing, and no malformed event gets in;
// every refusal leaves the org as it was.
func testRecordEventRefusals(t *testing.T, h *h) {
	f := h.setup()
	split := store.ClientEvent{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3"}
	before := h.state(f.owner, f.org)
	_, err := h.s.RecordEvent(h.ctx, f.member.tok, f.org, split)
	wantErr(t, err, store.ErrForbidden, "a member records a split")
	stranger := h.login(email("stranger"))
	_, err = h.s.RecordEvent(h.ctx, stranger.tok, f.org, store.ClientEvent{Action: store.ActionRecover, From: "phrase"})
	wantErr(t, err, store.ErrNotMember, "a stranger records a recovery")
	_, err = h.s.RecordEvent(h.ctx, newToken(), f.org, split)
	wantErr(t, err, store.ErrUnauthenticated, "no session")
	_, err = h.s.RecordEvent(h.ctx, f.owner.tok, "org_bad", split)
	wantErr(t, err, store.ErrInvalid, "a bad org id")
	for _, ev := range []store.ClientEvent{
		{},
		{Action: store.ActionKick, Set: "5e1a"},
		{Action: store.ActionRecoverySplit, Set: "5E1A", Scheme: "2-of-3"},
		{Action: store.ActionRecoverySplit, Set: "8000", Scheme: "2-of-3"},
		{Action: store.ActionRecoverySplit, Set: "5e1", Scheme: "2-of-3"},
		{Action: store.ActionRecoverySplit, Set: "5e1a"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "3-of-2"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-17"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "02-of-3"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3 x=1"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "3:2-of-3,1-of-1"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3,1-of-1"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3\n"},
		{Action: store.ActionRecoverySplit, Set: "5e1a", Scheme: "2-of-3", From: "phrase"},
		{Action: store.ActionRecover},
		{Action: store.ActionRecover, From: "paper"},
		{Action: store.ActionRecover, From: "shares"},
		{Action: store.ActionRecover, From: "phrase", Set: "5e1a"},
		{Action: store.ActionRecover, From: "shares", Set: "5e1a", Scheme: "2-of-3"},
	} {
		_, err := h.s.RecordEvent(h.ctx, f.owner.tok, f.org, ev)
		var fe *store.FieldError
		if !errors.As(err, &fe) || !errors.Is(err, store.ErrInvalid) {
			t.Fatalf("RecordEvent(%+v): %v, want a field error", ev, err)
		}
	}
	h.unchanged(before, f.owner, f.org, "refused events")
	// A kicked member records nothing either.
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.admin.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	before = h.state(f.owner, f.org)
	_, err = h.s.RecordEvent(h.ctx, f.admin.tok, f.org, split)
	wantErr(t, err, store.ErrRevoked, "a kicked admin records a split")
	h.unchanged(before, f.owner, f.org, "a kicked admin's event")
}
