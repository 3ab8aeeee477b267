package replicas

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store/pgtest"
)

// Three replicas on one database. A kick through replica 1 is enforced by
// replicas 2 and 3 on their very next request; a kick racing with
// co-decrypts hammering replicas 2 and 3 never lets a co-decrypt through
// that the audit chain orders after it, and every success the clients saw
// is exactly one ok row before the kick.
//
// What would fail: a membership cache in a replica (the first check after
// the kick, or requests started after it, would succeed); a co-decrypt
// that reads the membership without the FOR SHARE lock, or answers before
// its audit row commits (an ok row, or an answer's audit_head, after the
// kick row); an answer without its row or a row without its answer (the
// one-to-one check); a forked or edited chain (local recompute and the
// service's verify).
func TestKickAcrossReplicas(t *testing.T) {
	began := time.Now()
	pg := pgtest.StartCluster(t)
	reps := startReplicas(t, newSecrets(pg.URL()), 3)
	s := newService(t, reps)
	w := s.newWorld(3)
	t.Logf("cluster, 3 replicas and the org ready in %v", time.Since(began).Round(time.Millisecond))
	first, raced, bystander := w.members[0], w.members[1], w.members[2]

	// --- the very next request ---
	for i := 1; i <= 2; i++ {
		res, err := first.via[i].CoDecrypt(s.ctx, w.org, first.outer)
		if err != nil || !bytes.Equal(res.Inner, first.inner) {
			t.Fatalf("co-decrypt through %s before the kick: %v", reps[i].Name, err)
		}
	}
	kick, err := w.owner.via[0].Kick(s.ctx, w.org, first.id, false)
	if err != nil || kick.Member.Status != api.MemberRevoked {
		t.Fatalf("kick through replica1: %+v %v", kick, err)
	}
	for i := 1; i <= 2; i++ {
		_, err := first.via[i].CoDecrypt(s.ctx, w.org, first.outer)
		if problemSlug(err) != api.PMembershipRevoked {
			t.Fatalf("co-decrypt through %s right after the kick: %v, want membership-revoked", reps[i].Name, err)
		}
		if _, err := first.via[i].Org(s.ctx, w.org); problemSlug(err) != api.PMembershipRevoked {
			t.Fatalf("GET org through %s right after the kick: %v, want membership-revoked", reps[i].Name, err)
		}
		if _, err := first.via[i].Head(s.ctx, w.org, w.project, w.env); problemSlug(err) != api.PMembershipRevoked {
			t.Fatalf("GET head through %s right after the kick: %v, want membership-revoked", reps[i].Name, err)
		}
		// Only the kicked member is shut out.
		if res, err := bystander.via[i].CoDecrypt(s.ctx, w.org, bystander.outer); err != nil || !bytes.Equal(res.Inner, bystander.inner) {
			t.Fatalf("another member's co-decrypt through %s: %v", reps[i].Name, err)
		}
	}

	// --- the race ---
	// Two goroutines per replica (2 and 3) co-decrypt as `raced` back to
	// back; once 6 have succeeded through each of the two replicas, the
	// owner kicks through replica 1.
	// Each goroutine stops after 3 refusals or 28 requests (the per-user
	// co-decrypt bucket of a replica holds 60; wrap took one).
	type attempt struct {
		rep        int
		start, end time.Time
		ok         bool
		head       api.AuditHead
		err        error
	}
	var (
		mu       sync.Mutex
		attempts []attempt
		okCount  [3]atomic.Int64 // successes per replica
		wg       sync.WaitGroup
	)
	for _, i := range []int{1, 2, 1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refused := 0
			for n := 0; n < 28 && refused < 3 && s.ctx.Err() == nil; n++ {
				a := attempt{rep: i, start: time.Now()}
				res, err := raced.via[i].CoDecrypt(s.ctx, w.org, raced.outer)
				a.end = time.Now()
				switch {
				case err == nil && bytes.Equal(res.Inner, raced.inner):
					a.ok, a.head = true, res.AuditHead
					okCount[i].Add(1)
				case err == nil:
					a.err = errString("co-decrypt answered another inner blob")
				case problemSlug(err) == api.PMembershipRevoked:
					refused++
				default:
					a.err = err
				}
				mu.Lock()
				attempts = append(attempts, a)
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for (okCount[1].Load() < 6 || okCount[2].Load() < 6) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	kickStart := time.Now()
	kick, err = w.owner.via[0].Kick(s.ctx, w.org, raced.id, false)
	kickEnd := time.Now()
	wg.Wait()
	if err != nil || kick.Member.Status != api.MemberRevoked {
		t.Fatalf("racing kick: %+v %v", kick, err)
	}

	rows := s.auditChain(w, 2)
	checkKicked(t, w, rows, first)
	kickSeq, okRows := checkKicked(t, w, rows, raced)
	var oks, refusals, overlapping int
	seen := map[uint64]bool{}
	perRep := map[int][2]int{}
	for _, a := range attempts {
		c := perRep[a.rep]
		switch {
		case a.err != nil:
			t.Errorf("co-decrypt through %s: unexpected answer %v", reps[a.rep].Name, a.err)
		case a.ok:
			oks++
			c[0]++
			if a.head.Seq >= kickSeq {
				t.Errorf("a co-decrypt succeeded with audit_head %d, not before the kick row %d", a.head.Seq, kickSeq)
			}
			if r, ok := okRows[a.head.Seq]; !ok || r.Hash != a.head.Hash || seen[a.head.Seq] {
				t.Errorf("a success's audit_head %+v is not its own ok co-decrypt row", a.head)
			}
			seen[a.head.Seq] = true
			if a.start.After(kickEnd) {
				t.Errorf("a co-decrypt sent %v after the kick was answered succeeded", a.start.Sub(kickEnd))
			}
		default:
			refusals++
			c[1]++
			if a.end.Before(kickStart) {
				t.Errorf("a co-decrypt answered before the kick was sent was refused")
			}
		}
		perRep[a.rep] = c
		if a.start.Before(kickEnd) && a.end.After(kickStart) {
			overlapping++
		}
	}
	if oks != len(okRows) {
		t.Errorf("%d successful co-decrypt answers but %d ok rows: every answer must be exactly one row", oks, len(okRows))
	}
	// Both outcomes must occur across the other replicas (the safety checks
	// above hold whichever replica saw which); how they split between the
	// two replicas depends on scheduling, so it is only logged.
	if perRep[1][0]+perRep[2][0] == 0 || perRep[1][1]+perRep[2][1] == 0 {
		t.Errorf("replicas 2 and 3: %d successes, %d refusals; want both", perRep[1][0]+perRep[2][0], perRep[1][1]+perRep[2][1])
	}
	for _, i := range []int{1, 2} {
		t.Logf("%s: %d successes, %d refusals", reps[i].Name, perRep[i][0], perRep[i][1])
	}
	// The point of the race: requests were in flight while the kick was.
	if overlapping == 0 {
		t.Errorf("no co-decrypt overlapped the kick (%v–%v): the race was not exercised", kickStart, kickEnd)
	}
	t.Logf("race: %d co-decrypts (%d ok, %d refused), %d in flight during the %v kick; kick row %d of %d; total %v",
		len(attempts), oks, refusals, overlapping, kickEnd.Sub(kickStart).Round(time.Microsecond), kickSeq, len(rows),
		time.Since(began).Round(time.Millisecond))
}

// checkKicked checks the audit chain around a kicked member: exactly one
// kick row for them (by the owner), every ok co-decrypt of theirs before
// it, exactly one denied co-decrypt after it (denied rows are throttled to
// one per actor, action and org an hour). It returns the kick's seq and
// the member's ok co-decrypt rows by seq.
func checkKicked(t *testing.T, w *world, rows []api.AuditEntry, u *user) (uint64, map[uint64]api.AuditEntry) {
	t.Helper()
	kickSeq := uint64(0)
	for _, r := range rows {
		if r.Action == "kick" && strings.HasPrefix(r.Target, u.id+" ") {
			if kickSeq != 0 {
				t.Fatalf("two kick rows for %s", u.id)
			}
			kickSeq = r.Seq
			if r.Actor != w.owner.id || r.Result != "ok" {
				t.Fatalf("kick row %+v", r)
			}
		}
	}
	if kickSeq == 0 {
		t.Fatalf("no kick row for %s", u.id)
	}
	okRows := map[uint64]api.AuditEntry{}
	denied := 0
	for _, r := range rows {
		if r.Action != "co-decrypt" || r.Actor != u.id {
			continue
		}
		if r.Target != u.id {
			t.Errorf("co-decrypt row %d target %q", r.Seq, r.Target)
		}
		switch r.Result {
		case "ok":
			if r.Seq > kickSeq {
				t.Errorf("%s: co-decrypt row %d is ok but ordered after the kick (row %d)", u.email, r.Seq, kickSeq)
			}
			okRows[r.Seq] = r
		case "denied":
			denied++
			if r.Seq < kickSeq {
				t.Errorf("%s: co-decrypt denied at row %d, before the kick (row %d)", u.email, r.Seq, kickSeq)
			}
		default:
			t.Errorf("co-decrypt row %+v", r)
		}
	}
	if denied != 1 {
		t.Errorf("%s: %d denied co-decrypt rows after the kick, want 1", u.email, denied)
	}
	return kickSeq, okRows
}

type errString string

func (e errString) Error() string { return string(e) }
