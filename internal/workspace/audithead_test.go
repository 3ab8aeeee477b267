package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// seqHash is a distinct well-formed hash per position.
func seqHash(seq uint64) string { return fmt.Sprintf("%064x", seq*7919+1) }

func auditFileBytes(t *testing.T, h *Home) string {
	t.Helper()
	b, err := os.ReadFile(scopedPath(t, h, "audit_head.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// A malformed head is refused before anything is compared or written:
// position 0, a position past 2^53-1, a hash that is not 64 lowercase hex
// characters.
func TestAuditHeadMalformed(t *testing.T) {
	h := home(t)
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 5, Hash: hx("aa")}); err != nil {
		t.Fatal(err)
	}
	before := auditFileBytes(t, h)
	for _, a := range []AuditHead{
		{Seq: 0, Hash: ""},
		{Seq: 0, Hash: hx("aa")},
		{Seq: MaxAuditSeq + 1, Hash: hx("aa")},
		{Seq: 1 << 63, Hash: hx("aa")},
		{Seq: 6, Hash: ""},
		{Seq: 6, Hash: hx("aa")[:63]},
		{Seq: 6, Hash: hx("aa") + "a"},
		{Seq: 6, Hash: hx("AA")},
		{Seq: 6, Hash: hx("ag")},
		{Seq: 6, Hash: hx("a\n")},
	} {
		if err := h.Org(service, org).RecordAuditHead(a); !errors.Is(err, ErrAuditHead) {
			t.Errorf("%+v: %v, want ErrAuditHead", a, err)
		}
	}
	if got := auditFileBytes(t, h); got != before {
		t.Fatalf("a refused head changed audit_head.json:\n%s", got)
	}
	// The largest position is well-formed (first head seen: no bound).
	h2 := home(t)
	if err := h2.Org(service, org).RecordAuditHead(AuditHead{Seq: MaxAuditSeq, Hash: hx("aa")}); err != nil {
		t.Fatalf("2^53-1 as the first head: %v", err)
	}
}

// The attack this guards against: one answer claiming position 2^53-1.
// It is refused once something was seen, and even a forged head that is
// close enough to be kept does not stop a rewrite at a position seen
// before from being caught: every recent head is checked, not only the
// highest.
func TestAuditHeadForgedHighest(t *testing.T) {
	h := home(t)
	for seq := uint64(1); seq <= 10; seq++ {
		if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: seq, Hash: seqHash(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: MaxAuditSeq, Hash: hx("ee")}); !errors.Is(err, ErrAuditHead) {
		t.Fatalf("2^53-1 after #10: %v, want ErrAuditHead", err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 10, Hash: hx("ee")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("rewrite at #10: %v, want ErrAuditFork", err)
	}
	forged := uint64(10 + auditJumpSlack)
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: forged, Hash: hx("ee")}); err != nil {
		t.Fatalf("a head within the bound: %v", err)
	}
	if a, _ := h.Org(service, org).AuditHead(); a.Seq != forged {
		t.Fatalf("highest %+v, want #%d", a, forged)
	}
	for _, seq := range []uint64{10, 7, 1} {
		if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: seq, Hash: hx("ee")}); !errors.Is(err, ErrAuditFork) {
			t.Fatalf("rewrite at #%d after a high head: %v, want ErrAuditFork", seq, err)
		}
	}
	// The genuine chain goes on below the forged head and is recorded.
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 11, Hash: seqHash(11)}); err != nil {
		t.Fatal(err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 11, Hash: hx("ee")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("rewrite at #11: %v", err)
	}
}

// Only the last RecentAuditHeads distinct heads are kept (and the
// highest): a rewrite at an older position is no longer seen here; `capy
// audit --verify` is what checks the whole chain.
func TestAuditHeadRecentBound(t *testing.T) {
	h := home(t)
	const n = RecentAuditHeads + 6
	for seq := uint64(1); seq <= n; seq++ {
		if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: seq, Hash: seqHash(seq)}); err != nil {
			t.Fatal(err)
		}
		// Seeing a head again changes nothing.
		if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: seq, Hash: seqHash(seq)}); err != nil {
			t.Fatal(err)
		}
	}
	hs, err := h.Org(service, org).AuditHeads()
	if err != nil {
		t.Fatal(err)
	}
	if len(hs.Recent) != RecentAuditHeads || hs.Recent[0].Seq != n-RecentAuditHeads+1 || hs.Recent[RecentAuditHeads-1].Seq != n {
		t.Fatalf("recent heads %d, from #%d", len(hs.Recent), hs.Recent[0].Seq)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: n - RecentAuditHeads + 1, Hash: hx("ee")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("rewrite at the oldest kept position: %v", err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 1, Hash: hx("ee")}); err != nil {
		t.Fatalf("a position no longer kept: %v (want it taken as new)", err)
	}
	if b := auditFileBytes(t, h); len(b) > auditFileMax/2 {
		t.Fatalf("audit_head.json is %d bytes", len(b))
	}
}

// The bound on a jump: slack plus what the service could have written in
// the time since the highest head was first seen, by this machine's
// clock; a clock that went back allows only the slack.
func TestAuditHeadJumpBound(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	hs := AuditHeads{Highest: AuditHead{Seq: 100, Hash: seqHash(100)}, HighestAt: t0,
		Recent: []AuditHead{{Seq: 100, Hash: seqHash(100)}}}
	for _, c := range []struct {
		seq uint64
		at  time.Time
		ok  bool
	}{
		{100 + auditJumpSlack, t0, true},
		{100 + auditJumpSlack + 1, t0, false},
		{100 + auditJumpSlack + 10*auditMaxRate, t0.Add(10 * time.Second), true},
		{100 + auditJumpSlack + 10*auditMaxRate + 1, t0.Add(10 * time.Second), false},
		{100 + auditJumpSlack + 1, t0.Add(-time.Hour), false},
		{MaxAuditSeq, t0.Add(24 * 365 * time.Hour), false},
	} {
		next, changed, err := hs.Add(AuditHead{Seq: c.seq, Hash: seqHash(c.seq)}, c.at)
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, ErrAuditHead)) {
			t.Errorf("#%d at %s: %v", c.seq, c.at.Sub(t0), err)
		}
		if c.ok && (!changed || next.Highest.Seq != c.seq || !next.HighestAt.Equal(c.at)) {
			t.Errorf("#%d: highest %+v at %s", c.seq, next.Highest, next.HighestAt)
		}
	}
	// A head below the highest is kept without moving it.
	next, changed, err := hs.Add(AuditHead{Seq: 50, Hash: seqHash(50)}, t0)
	if err != nil || !changed || next.Highest.Seq != 100 || len(next.Recent) != 2 || len(hs.Recent) != 1 {
		t.Fatalf("lower head: %+v %v %v (input changed: %d)", next, changed, err, len(hs.Recent))
	}
}

// audit_head.json of version 1 ({"seq","hash"}) is read as its one head,
// first seen when the file was written, and rewritten as version 2 on the
// next new head; version 2 keeps the highest head in the old fields, so
// an older capy still reads it. Only an older capy wrote version 1, so it
// is in the legacy directory (orgs/<org>), and version 2 goes to the
// service's own: the legacy file stays as it was.
func TestAuditHeadVersion1(t *testing.T) {
	h := home(t)
	dir := filepath.Join(h.Dir, "orgs", org)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	legacy := filepath.Join(dir, "audit_head.json")
	old := fmt.Sprintf("{\n  \"seq\": 5,\n  \"hash\": %q\n}\n", seqHash(5))
	if err := os.WriteFile(legacy, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	written := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(legacy, written, written); err != nil {
		t.Fatal(err)
	}
	o := h.Org(service, org)
	hs, err := o.AuditHeads()
	if err != nil || hs.Highest.Seq != 5 || len(hs.Recent) != 1 || hs.Recent[0].Hash != seqHash(5) || !hs.HighestAt.Equal(written) {
		t.Fatalf("version 1 read as %+v, %v", hs, err)
	}
	if err := o.RecordAuditHead(AuditHead{Seq: 5, Hash: hx("ee")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork against a version 1 head: %v", err)
	}
	if err := o.RecordAuditHead(AuditHead{Seq: 5, Hash: seqHash(5)}); err != nil {
		t.Fatal(err)
	}
	if got := auditFileBytes(t, h); got != "" {
		t.Fatalf("a known head wrote the file:\n%s", got)
	}
	// Two days since: far more than the slack alone is plausible.
	far := uint64(5 + auditJumpSlack + 1000)
	if err := o.RecordAuditHead(AuditHead{Seq: far, Hash: seqHash(far)}); err != nil {
		t.Fatal(err)
	}
	var v1 AuditHead
	var v2 auditFile
	data := []byte(auditFileBytes(t, h))
	if json.Unmarshal(data, &v1) != nil || json.Unmarshal(data, &v2) != nil {
		t.Fatalf("audit_head.json:\n%s", data)
	}
	if v1.Seq != far || v1.Hash != seqHash(far) || v2.Version != 2 || len(v2.Recent) != 2 || v2.SeenAt == nil {
		t.Fatalf("version 2 file:\n%s", data)
	}
	p := scopedPath(t, h, "audit_head.json")
	if mode(t, p) != 0o600 {
		t.Fatalf("mode %04o", mode(t, p))
	}
	if b, _ := os.ReadFile(legacy); string(b) != old {
		t.Fatalf("the legacy file was rewritten:\n%s", b)
	}
	if err := os.WriteFile(p, []byte(`{"version":3,"seq":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := o.AuditHeads(); err == nil {
		t.Fatal("an unknown version was read")
	}
}
