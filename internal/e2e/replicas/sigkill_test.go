package replicas

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/store/pgtest"
)

// pushLog records every push attempt of a test by blob id.
type pushLog struct {
	mu        sync.Mutex
	attempted map[string]bool
	accepted  map[string]uint64 // 201, or found to have landed after a lost answer
	rejected  map[string]bool   // the service answered that it did not store it
	unsure    map[string]bool   // the answer was lost and never resolved
}

func newPushLog() *pushLog {
	return &pushLog{attempted: map[string]bool{}, accepted: map[string]uint64{}, rejected: map[string]bool{}, unsure: map[string]bool{}}
}

func (l *pushLog) set(m map[string]bool, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m[id] = true
}

func (l *pushLog) accept(id string, version uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.accepted[id] = version
	delete(l.unsure, id)
}

// pushNext is one logical push by u through the failover client: the next
// version on top of the head, retried on a version conflict. When an
// answer is lost it looks the version up (a retried push of a blob that
// landed, or finding it as the version, is success: api.md §1.10). It
// returns the accepted version and blob id. With first ≥ 0 the first try
// pushes through replica first (and reads the head through the next one);
// every other request goes to the next replica in turn.
func pushNext(s *service, f *failover, w *world, u *user, log *pushLog, first int) (uint64, string, error) {
	mine := map[string]bool{} // every blob this logical push sent
	for try := 0; try < 40; try++ {
		readFrom, pushTo := -1, -1
		if try == 0 && first >= 0 {
			readFrom, pushTo = (first+1)%f.n, first
		}
		var env *api.Env
		if err, _ := f.call(s.ctx, u, readFrom, false, func(ctx context.Context, c *client.Client) (err error) {
			env, err = c.Env(ctx, w.org, w.project, w.env)
			return err
		}); err != nil {
			return 0, "", fmt.Errorf("read head: %w", err)
		}
		version, parent := uint64(1), "-"
		if env.Head != nil {
			if mine[env.Head.ID] { // an earlier attempt landed after all
				log.accept(env.Head.ID, env.Head.Version)
				return env.Head.Version, env.Head.ID, nil
			}
			version, parent = env.Head.Version+1, env.Head.ID
		}
		b, err := w.blob(version, parent)
		if err != nil {
			return 0, "", err
		}
		id := b.ID()
		mine[id] = true
		log.set(log.attempted, id)
		var res *api.PushResponse
		err, maybe := f.call(s.ctx, u, pushTo, true, func(ctx context.Context, c *client.Client) (err error) {
			res, err = c.Push(ctx, w.org, w.project, w.env, string(b.Raw()))
			return err
		})
		if err == nil {
			if res.Blob.ID != id || res.Blob.Version != version {
				return 0, "", fmt.Errorf("push answered %+v for version %d %s", res.Blob, version, id)
			}
			log.accept(id, version)
			return version, id, nil
		}
		if p := client.ProblemOf(err); p != nil && p.Slug() == api.PVersionConflict {
			if p.Head != nil && mine[p.Head.ID] {
				log.accept(p.Head.ID, p.Head.Version)
				return p.Head.Version, p.Head.ID, nil
			}
			if !maybe {
				log.set(log.rejected, id) // the one attempt was answered: not stored
				continue
			}
		} else if !maybe {
			return 0, "", fmt.Errorf("push: %w", err)
		}
		// The answer was lost (or the last replica tried was unavailable):
		// did the blob land as its version?
		var got *api.Blob
		err, _ = f.call(s.ctx, u, -1, false, func(ctx context.Context, c *client.Client) (err error) {
			got, err = c.Version(ctx, w.org, w.project, w.env, version)
			return err
		})
		switch {
		case err == nil && got.ID == id:
			log.accept(id, version)
			return version, id, nil
		case err == nil:
			log.set(log.rejected, id) // the version is another blob's for good
		case client.Is(err, api.PNotFound):
			log.set(log.unsure, id) // not (yet) there: the next head read tells
		default:
			return 0, "", fmt.Errorf("look up version %d after a lost push: %w", version, err)
		}
	}
	return 0, "", fmt.Errorf("no push landed in 40 tries")
}

// Three replicas; three members push (each push = next version, a signed
// blob) and co-decrypt in a loop through all of them with client-side
// failover. Replica 2 is frozen (SIGSTOP) until a request is in flight on
// it, then killed with SIGKILL. Afterwards: every stored version parses,
// is signed and chains to its parent; every push that was accepted (201,
// or found as its version after a lost answer) is in the final history at
// its version, in each client's order; the history holds nothing else
// than what clients sent and none that the service refused; versions and
// push audit rows are one to one; every co-decrypt answer is its own ok
// row; the chain verifies. Clients saw only connection refused or reset
// (the dead replica) or 503, and every operation succeeded through another
// replica.
//
// What would fail: a push split over two transactions (a version without
// its audit row, or the reverse); a replica answering 201 before commit
// (a 201 version missing from the history); an unsigned or torn blob
// stored; locks left behind by the dead replica (pushes stall, the 15 s
// failover bound and the 40 tries run out).
func TestSIGKILLReplica(t *testing.T) {
	began := time.Now()
	pg := pgtest.StartCluster(t)
	reps := startReplicas(t, newSecrets(pg.URL()), 3)
	s := newService(t, reps)
	w := s.newWorld(3)
	users := []*user{w.owner, w.members[0], w.members[1]}
	prober := w.members[2]
	t.Logf("cluster, 3 replicas and the org ready in %v", time.Since(began).Round(time.Millisecond))

	f := newFailover(len(reps))
	log := newPushLog()
	var (
		killed   atomic.Bool
		pushes   atomic.Int64
		mu       sync.Mutex
		failures []string
		coHeads  = map[string][]api.AuditHead{} // user id → audit heads of its co-decrypt answers
		order    = map[string][]uint64{}        // user id → accepted versions in order
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	// Each worker: at most 45 rounds (the co-decrypt bucket per user and
	// replica holds 60), and stops 12 rounds after the kill.
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			after := 0
			for round := 0; round < 45 && after < 12 && s.ctx.Err() == nil; round++ {
				if killed.Load() {
					after++
				}
				var res *api.CoDecryptResponse
				err, _ := f.call(s.ctx, u, -1, false, func(ctx context.Context, c *client.Client) (err error) {
					res, err = c.CoDecrypt(ctx, w.org, u.outer)
					return err
				})
				if err != nil {
					fail("co-decrypt by %s: %v", u.email, err)
					return
				}
				if !bytes.Equal(res.Inner, u.inner) {
					fail("co-decrypt by %s answered another inner blob", u.email)
					return
				}
				v, _, err := pushNext(s, f, w, u, log, -1)
				if err != nil {
					fail("push by %s: %v", u.email, err)
					return
				}
				pushes.Add(1)
				mu.Lock()
				coHeads[u.id] = append(coHeads[u.id], res.AuditHead)
				order[u.id] = append(order[u.id], v)
				mu.Unlock()
			}
		}()
	}

	// Once the load runs, freeze replica 2, have a prober push through it
	// and wait until that push is on the wire (the frozen process cannot
	// answer it), then kill it: at least one push is cut off with its
	// outcome unknown to its client, besides whatever the workers had sent
	// the replica.
	victim := reps[1]
	deadline := time.Now().Add(30 * time.Second)
	for pushes.Load() < 10 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	victim.Signal(syscall.SIGSTOP)
	for !victim.Stopped() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !victim.Stopped() {
		t.Fatalf("%s did not stop on SIGSTOP", victim.Name)
	}
	f.watch.Store(prober)
	var probed struct {
		version uint64
		id      string
		err     error
	}
	proberDone := make(chan struct{})
	go func() {
		defer close(proberDone)
		probed.version, probed.id, probed.err = pushNext(s, f, w, prober, log, 1)
	}()
	frozen := time.Now()
	for f.pushing[1].Load() == 0 && time.Since(frozen) < 5*time.Second {
		time.Sleep(time.Millisecond)
	}
	cutOffPushes, cutOff := f.pushing[1].Load(), f.inflight[1].Load()
	victim.Signal(syscall.SIGKILL)
	killed.Store(true)
	pushesAtKill := pushes.Load()
	if !victim.KilledBy(syscall.SIGKILL) {
		t.Errorf("%s did not die of SIGKILL: %v", victim.Name, victim.State())
	}
	<-proberDone
	if probed.err != nil {
		t.Errorf("the prober's push, cut off by the kill, did not get through another replica: %v", probed.err)
	} else {
		pushes.Add(1)
	}
	wg.Wait()
	for _, msg := range failures {
		t.Error(msg)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The history is whole and holds exactly what was accepted.
	ids := s.history(w, 2)
	at := map[string]uint64{}
	for k, id := range ids {
		at[id] = uint64(k + 1)
	}
	for id, v := range log.accepted {
		if at[id] != v {
			t.Errorf("accepted push %s (version %d) is not in the history (found at %d)", id, v, at[id])
		}
	}
	late := 0
	for _, id := range ids {
		switch {
		case !log.attempted[id]:
			t.Errorf("version %d (%s) is no blob a client sent", at[id], id)
		case log.rejected[id]:
			t.Errorf("version %d (%s) was refused to its client, yet stored", at[id], id)
		case log.unsure[id]:
			late++ // lost answer, landed, client never learned: allowed
		}
	}
	for uid, vs := range order {
		for k := 1; k < len(vs); k++ {
			if vs[k] <= vs[k-1] {
				t.Errorf("user %s: accepted versions out of order: %v", uid, vs)
				break
			}
		}
	}
	if int64(len(log.accepted)) != pushes.Load() {
		t.Errorf("%d accepted blobs for %d successful pushes", len(log.accepted), pushes.Load())
	}

	rows := s.auditChain(w, 0)
	checkPushesAudited(t, w, rows, ids)
	seen := map[uint64]bool{}
	for uid, heads := range coHeads {
		for _, h := range heads {
			if seen[h.Seq] {
				t.Errorf("two co-decrypt answers with audit_head %d", h.Seq)
			}
			seen[h.Seq] = true
			if h.Seq == 0 || h.Seq > uint64(len(rows)) {
				t.Errorf("co-decrypt audit_head %+v outside the chain", h)
				continue
			}
			r := rows[h.Seq-1]
			if r.Action != "co-decrypt" || r.Actor != uid || r.Result != "ok" || r.Hash != h.Hash {
				t.Errorf("co-decrypt answer's audit_head %+v is row %+v", h, r)
			}
		}
	}

	// The kill was felt: a request was cut off and later ones were refused
	// and failed over; nothing else went wrong on the wire.
	if cutOffPushes == 0 {
		t.Errorf("the prober's push was not in flight on %s when it was killed", victim.Name)
	}
	if f.count(lost) == 0 {
		t.Errorf("no request lost its answer to the kill")
	}
	if f.count(refused) == 0 {
		t.Errorf("no request was refused by the dead replica: the clients did not fail over")
	}
	for _, o := range f.odd {
		t.Errorf("unexpected failure class: %s", o)
	}
	t.Logf("%d pushes (%d before the kill), %d versions, %d audit rows; %d request(s) in flight on the killed replica (the prober's push among them: %v); the prober's push became version %d; failed attempts: %v; %d lost push(es) landed unseen; total %v",
		pushes.Load(), pushesAtKill, len(ids), len(rows), cutOff, cutOffPushes > 0, probed.version, f.classes, late, time.Since(began).Round(time.Millisecond))
}
