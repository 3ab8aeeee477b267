package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"ConcurrentPushesOneWins", testConcurrentPushes},
		test{"KickWaitsForInFlightCoDecrypt", testKickWaitsForCoDecrypt},
		test{"CoDecryptWaitsForInFlightKick", testCoDecryptWaitsForKick},
		test{"KickRacingCoDecrypts", testKickRace},
		test{"ConcurrentAuditOneChain", testConcurrentAudit},
		test{"CoDecryptBurstMixedCallers", testCoDecryptBurstMixed},
		test{"CoDecryptPanicFailsBatch", testCoDecryptPanicFailsBatch},
		test{"CoDecryptCancelledWhileQueued", testCoDecryptCancelledWhileQueued},
		test{"CoDecryptSubjectFromSession", testCoDecryptFunc},
	)
}

// testConcurrentPushes: pushes on one base version from several
// connections at once: exactly one wins, the others get ErrConflict, and
// the head and history hold the winner only (no lost update).
func testConcurrentPushes(t *testing.T, h *h) {
	f := h.setup()
	const writers = 6
	pushers := []who{f.owner, f.admin, f.member}
	for round := 0; round < 4; round++ {
		base := h.next(f.owner, f.env.ID)
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			errs    = make([]error, writers)
			offered = make([]store.NewVersion, writers)
		)
		for i := 0; i < writers; i++ {
			offered[i] = blob(base.Version, base.Epoch, base.ParentID)
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, _, errs[i] = h.s.Push(h.ctx, pushers[i%len(pushers)].tok, f.env.ID, offered[i])
			}(i)
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: two pushes on one base both won (%d and %d)", round, winner, i)
				}
				winner = i
			case errors.Is(err, store.ErrConflict):
			default:
				t.Fatalf("round %d: push %d: %v", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no push won", round)
		}
		head, err := h.s.GetHead(h.ctx, f.member.tok, f.env.ID)
		wantErr(t, err, nil, "GetHead")
		if head.Version != base.Version || head.ID != offered[winner].ID {
			t.Fatalf("round %d: head %d %s, winner pushed %s", round, head.Version, head.ID, offered[winner].ID)
		}
		vs, _ := h.s.ListVersions(h.ctx, f.member.tok, f.env.ID)
		if int64(len(vs)) != base.Version {
			t.Fatalf("round %d: %d versions stored, want %d", round, len(vs), base.Version)
		}
	}
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "VerifyChain")
}

// hooked returns a context whose hook, at point p, signals reached and
// waits for release.
func hooked(ctx context.Context, p store.HookPoint) (context.Context, <-chan struct{}, chan<- struct{}) {
	reached := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	return store.WithHook(ctx, func(at store.HookPoint) {
		if at != p {
			return
		}
		once.Do(func() { close(reached) })
		<-release
	}), reached, release
}

const blockedFor = 300 * time.Millisecond

type grantResult struct {
	g   store.Grant
	err error
}

// heldCoDecrypt starts a co-decrypt by w that stops at
// HookCoDecryptLocked (membership read and locked, no row yet) and returns
// once it is there: its result comes on the channel after release is
// closed.
func heldCoDecrypt(t *testing.T, h *h, org string, w who) (<-chan grantResult, chan<- struct{}) {
	t.Helper()
	ctx, reached, release := hooked(h.ctx, store.HookCoDecryptLocked)
	cd := make(chan grantResult, 1)
	go func() {
		g, err := h.s.AuthorizeCoDecrypt(ctx, w.tok, org, w.ID)
		cd <- grantResult{g, err}
	}()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("co-decrypt never reached its hook")
	}
	return cd, release
}

// testKickWaitsForCoDecrypt pauses a co-decrypt after it read the
// membership and before it wrote its audit row, then starts a kick: the
// kick must wait, and the granted co-decrypt must precede it in the chain.
func testKickWaitsForCoDecrypt(t *testing.T, h *h) {
	f := h.setup()
	cd, release := heldCoDecrypt(t, h, f.org, f.member)
	type kickResult struct {
		r   store.KickResult
		err error
	}
	kd := make(chan kickResult, 1)
	go func() {
		r, err := h.s.Kick(h.ctx, f.admin.tok, f.org, f.member.ID, store.KickOptions{})
		kd <- kickResult{r, err}
	}()
	select {
	case k := <-kd:
		close(release)
		<-cd
		t.Fatalf("kick committed (%v) while a co-decrypt held the membership", k.err)
	case <-time.After(blockedFor):
	}
	close(release)
	c := <-cd
	k := <-kd
	wantErr(t, c.err, nil, "co-decrypt in flight")
	wantErr(t, k.err, nil, "kick")
	if c.g.Audit.Seq >= k.r.Audit.Seq {
		t.Fatalf("granted co-decrypt (seq %d) is not before the kick (seq %d)", c.g.Audit.Seq, k.r.Audit.Seq)
	}
	_, err := h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrRevoked, "co-decrypt after the kick")
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "VerifyChain")
}

// testCoDecryptWaitsForKick pauses a kick after it revoked the membership
// and before it committed, then starts a co-decrypt: it must wait and then
// see the revocation.
func testCoDecryptWaitsForKick(t *testing.T, h *h) {
	f := h.setup()
	ctx, reached, release := hooked(h.ctx, store.HookKickLocked)
	kd := make(chan error, 1)
	var kr store.KickResult
	go func() {
		var err error
		kr, err = h.s.Kick(ctx, f.admin.tok, f.org, f.member.ID, store.KickOptions{})
		kd <- err
	}()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("kick never reached its hook")
	}
	cd := make(chan error, 1)
	go func() {
		_, err := h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
		cd <- err
	}()
	select {
	case err := <-cd:
		close(release)
		<-kd
		t.Fatalf("co-decrypt finished (%v) while a kick held the membership", err)
	case <-time.After(blockedFor):
	}
	close(release)
	wantErr(t, <-kd, nil, "kick")
	wantErr(t, <-cd, store.ErrRevoked, "co-decrypt started during the kick")
	// The refusal is audited after the kick.
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionCoDecrypt || ev.Result != store.ResultDenied || ev.Seq != kr.Audit.Seq+1 {
		t.Fatalf("last event %+v, kick at %d", ev, kr.Audit.Seq)
	}
}

// testKickRace: co-decrypts of one member run in a loop from several
// goroutines while a kick of that member commits. The interleaving is
// forced, not left to timing: the kick starts only once every worker has
// had a co-decrypt granted; when the kick has revoked the membership and
// holds it (HookKickLocked) one more co-decrypt is started; and the
// workers stop only once each has tried again after the kick returned.
// Every grant must precede the kick in the chain, and every co-decrypt
// started after the kick revoked the membership must be refused.
func testKickRace(t *testing.T, h *h) {
	f := h.setup()
	const rounds, workers = 3, 4
	for round := 0; round < rounds; round++ {
		victim := h.addMember(f.org, f.admin, store.RoleMember)
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			granted  []int64 // seqs of grants to co-decrypts started before the kick returned
			late     int     // co-decrypts started after the kick returned
			lateOK   int     // … of which granted
			kickDone = make(chan struct{})
			stop     = make(chan struct{})
			// Per worker: closed at its first grant, and at its first
			// co-decrypt started after the kick returned.
			firstGrant = make([]chan struct{}, workers)
			firstLate  = make([]chan struct{}, workers)
		)
		for w := 0; w < workers; w++ {
			firstGrant[w], firstLate[w] = make(chan struct{}), make(chan struct{})
			// Half the workers name their subject (AuthorizeCoDecrypt), half
			// take it from the session (CoDecrypt, the route's call).
			coDecrypt := func() (store.Grant, error) {
				return h.s.AuthorizeCoDecrypt(h.ctx, victim.tok, f.org, victim.ID)
			}
			if w%2 == 1 {
				coDecrypt = func() (store.Grant, error) { return h.s.CoDecrypt(h.ctx, victim.tok, f.org, nil) }
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var grantOnce, lateOnce sync.Once
				for {
					select {
					case <-stop:
						return
					default:
					}
					afterKick := closed(kickDone)
					g, err := coDecrypt()
					if err != nil && !errors.Is(err, store.ErrRevoked) {
						t.Errorf("co-decrypt: %v", err)
						return
					}
					mu.Lock()
					switch {
					case afterKick:
						late++
						if err == nil {
							lateOK++
						}
					case err == nil:
						granted = append(granted, g.Audit.Seq)
					}
					mu.Unlock()
					switch {
					case afterKick:
						lateOnce.Do(func() { close(firstLate[w]) })
					case err == nil:
						grantOnce.Do(func() { close(firstGrant[w]) })
					}
				}
			}()
		}
		halt := func() { close(stop); wg.Wait() }
		if err := waitAll(firstGrant, 30*time.Second); err != nil {
			halt()
			t.Fatalf("round %d: a worker had no co-decrypt granted before the kick: %v", round, err)
		}

		// The kick: each time it reaches its hook (more than once if its
		// transaction is re-run) a co-decrypt starts there, after the
		// revocation and before the commit.
		type during struct {
			gen int
			grantResult
		}
		var (
			gens      int
			duringRes = make(chan during, 8)
			duringWG  sync.WaitGroup
		)
		ctx := store.WithHook(h.ctx, func(p store.HookPoint) {
			if p != store.HookKickLocked {
				return
			}
			mu.Lock()
			gens++
			gen := gens
			mu.Unlock()
			duringWG.Add(1)
			go func() {
				defer duringWG.Done()
				g, err := h.s.AuthorizeCoDecrypt(h.ctx, victim.tok, f.org, victim.ID)
				duringRes <- during{gen, grantResult{g, err}}
			}()
		})
		k, kickErr := h.s.Kick(ctx, f.admin.tok, f.org, victim.ID, store.KickOptions{})
		close(kickDone)
		lateErr := waitAll(firstLate, 30*time.Second)
		halt()
		duringWG.Wait()
		close(duringRes)
		wantErr(t, kickErr, nil, "kick")
		if lateErr != nil {
			t.Fatalf("round %d: a worker made no co-decrypt after the kick: %v", round, lateErr)
		}

		if len(granted) < workers || late < workers {
			t.Fatalf("round %d: %d grants before the kick, %d co-decrypts after it, want at least %d each", round, len(granted), late, workers)
		}
		if lateOK > 0 {
			t.Fatalf("round %d: %d of %d co-decrypts started after the kick were granted", round, lateOK, late)
		}
		for _, s := range granted {
			if s >= k.Audit.Seq {
				t.Fatalf("round %d: a granted co-decrypt (seq %d) is after the kick (seq %d)", round, s, k.Audit.Seq)
			}
		}
		if gens == 0 {
			t.Fatalf("round %d: the kick never reached %s", round, store.HookKickLocked)
		}
		t.Logf("round %d: %d co-decrypts granted before the kick (seq %d), %d refused after it; the kick ran %d time(s)", round, len(granted), k.Audit.Seq, late, gens)
		for d := range duringRes {
			switch {
			case d.gen == gens:
				// Started while the committed attempt held the revocation.
				wantErr(t, d.err, store.ErrRevoked, "co-decrypt started while the kick held the revoked membership")
			case d.err == nil && d.g.Audit.Seq >= k.Audit.Seq:
				t.Fatalf("round %d: a co-decrypt granted during a re-run kick (seq %d) is after the kick (seq %d)", round, d.g.Audit.Seq, k.Audit.Seq)
			case d.err != nil && !errors.Is(d.err, store.ErrRevoked):
				t.Fatalf("round %d: co-decrypt during a re-run kick: %v", round, d.err)
			}
		}
	}
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "VerifyChain")
}

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitAll waits until every channel in chs is closed, or within has
// passed.
func waitAll(chs []chan struct{}, within time.Duration) error {
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for i, ch := range chs {
		select {
		case <-ch:
		case <-timeout.C:
			return fmt.Errorf("number %d of %d not done within %v", i+1, len(chs), within)
		}
	}
	return nil
}

// testConcurrentAudit: many writers, several kinds of audited operation,
// several connections: one unbroken chain, every returned seq distinct.
func testConcurrentAudit(t *testing.T, h *h) {
	f := h.setup()
	start, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	members := []who{f.owner, f.admin, f.member}
	const perWorker = 15
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = map[int64]bool{}
	)
	record := func(s int64) {
		mu.Lock()
		defer mu.Unlock()
		if seqs[s] {
			t.Errorf("seq %d handed out twice", s)
		}
		seqs[s] = true
	}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m := members[w%len(members)]
			for i := 0; i < perWorker; i++ {
				if w == 5 && i%3 == 0 {
					// Pushes may conflict with each other; only a success is audited.
					v, hd, err := h.s.Push(h.ctx, m.tok, f.env.ID, h.nextQuiet(m, f.env.ID))
					if err == nil {
						_ = v
						record(hd.Seq)
					}
					continue
				}
				g, err := h.s.AuthorizeCoDecrypt(h.ctx, m.tok, f.org, m.ID)
				if err != nil {
					t.Errorf("co-decrypt: %v", err)
					return
				}
				record(g.Audit.Seq)
			}
		}(w)
	}
	wg.Wait()
	end, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain after concurrent appends")
	if got := end.Seq - start.Seq; got != int64(len(seqs)) {
		t.Fatalf("chain grew by %d, %d audited operations succeeded", got, len(seqs))
	}
}

// nextQuiet is next without failing the test from another goroutine.
func (h *h) nextQuiet(by who, envID string) store.NewVersion {
	e, err := h.s.GetEnv(h.ctx, by.tok, envID)
	if err != nil {
		return blob(1, 1, store.FirstParent)
	}
	parent := store.FirstParent
	if e.HeadVersion > 0 {
		parent = e.HeadID
	}
	return blob(e.HeadVersion+1, e.Epoch, parent)
}

// testCoDecryptBurstMixed sends a burst of concurrent co-decrypts for one
// org from callers with different fates — active members, a kicked member,
// a stranger, a caller naming someone else as subject, a token that is no
// session — so that they share group commits. Each must get exactly the
// answer it would get alone, every grant must name its own row of the
// chain, and the refusals may add at most the kicked member's one
// (throttled) denied row.
func testCoDecryptBurstMixed(t *testing.T, h *h) {
	f := h.setup()
	kicked := h.addMember(f.org, f.admin, store.RoleMember)
	_, err := h.s.Kick(h.ctx, f.admin.tok, f.org, kicked.ID, store.KickOptions{})
	wantErr(t, err, nil, "kick")
	stranger := h.login(email("stranger"))
	nobody := who{User: store.User{ID: f.member.ID}, tok: newToken()}
	before, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")

	type caller struct {
		name    string
		tok     store.TokenHash
		subject string
		want    error
	}
	callers := []caller{
		{"owner", f.owner.tok, f.owner.ID, nil},
		{"admin", f.admin.tok, f.admin.ID, nil},
		{"member", f.member.tok, f.member.ID, nil},
		{"kicked", kicked.tok, kicked.ID, store.ErrRevoked},
		{"stranger", stranger.tok, stranger.ID, store.ErrNotMember},
		{"someone else's subject", f.admin.tok, f.member.ID, store.ErrForbidden},
		{"no session", nobody.tok, nobody.ID, store.ErrUnauthenticated},
	}
	const rounds = 12
	type outcome struct {
		c   caller
		g   store.Grant
		err error
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		out   = make(chan outcome, rounds*len(callers))
	)
	for i := 0; i < rounds; i++ {
		for _, c := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				g, err := h.s.AuthorizeCoDecrypt(h.ctx, c.tok, f.org, c.subject)
				out <- outcome{c, g, err}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(out)
	granted := map[int64]outcome{}
	for o := range out {
		if o.c.want == nil {
			wantErr(t, o.err, nil, "co-decrypt of "+o.c.name)
			if o.g.UserID != o.c.subject || o.g.Audit.OrgID != f.org {
				t.Fatalf("%s: grant %+v", o.c.name, o.g)
			}
			if _, dup := granted[o.g.Audit.Seq]; dup {
				t.Fatalf("seq %d granted twice", o.g.Audit.Seq)
			}
			granted[o.g.Audit.Seq] = o
			continue
		}
		if !errors.Is(o.err, o.c.want) {
			t.Fatalf("%s: got %v, want %v", o.c.name, o.err, o.c.want)
		}
	}
	if len(granted) != rounds*3 {
		t.Fatalf("%d grants, want %d", len(granted), rounds*3)
	}
	after, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain after the burst")
	evs, _, err := h.s.ListAudit(h.ctx, f.owner.tok, f.org, before.Seq, 0)
	wantErr(t, err, nil, "ListAudit")
	if int64(len(evs)) != after.Seq-before.Seq {
		t.Fatalf("%d events listed, chain grew by %d", len(evs), after.Seq-before.Seq)
	}
	denied := 0
	for _, ev := range evs {
		if ev.Result == store.ResultDenied {
			denied++
			if ev.Actor != kicked.ID || ev.Action != store.ActionCoDecrypt {
				t.Fatalf("unexpected denied row %+v", ev)
			}
			continue
		}
		o, ok := granted[ev.Seq]
		if !ok {
			t.Fatalf("row %+v has no grant", ev)
		}
		if ev.Actor != o.c.subject || ev.Action != store.ActionCoDecrypt || ev.Target != o.c.subject || ev.Hash != o.g.Audit.Hash {
			t.Fatalf("row %+v does not match the grant %+v to %s", ev, o.g, o.c.name)
		}
	}
	if denied > 1 || len(evs) != len(granted)+denied {
		t.Fatalf("%d rows for %d grants and %d denied rows", len(evs), len(granted), denied)
	}
}

// testCoDecryptPanicFailsBatch: a panic inside a co-decrypt's transaction
// (forced with the test hook) fails that request with an error and leaves
// no row; the org's next co-decrypt goes through as usual.
func testCoDecryptPanicFailsBatch(t *testing.T, h *h) {
	f := h.setup()
	before, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	ctx := store.WithHook(h.ctx, func(p store.HookPoint) {
		if p == store.HookCoDecryptLocked {
			panic("injected")
		}
	})
	if _, err := h.s.AuthorizeCoDecrypt(ctx, f.member.tok, f.org, f.member.ID); err == nil {
		t.Fatal("a co-decrypt whose transaction panicked was granted")
	}
	after, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain after the panic")
	if after.Seq != before.Seq {
		t.Fatalf("the failed batch left %d rows", after.Seq-before.Seq)
	}
	g, err := h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, nil, "co-decrypt after the panic")
	if g.Audit.Seq != before.Seq+1 {
		t.Fatalf("grant at seq %d, want %d", g.Audit.Seq, before.Seq+1)
	}
}

// testCoDecryptCancelledWhileQueued: while one co-decrypt of an org holds
// its batch open, a second one waits in the queue. Cancelled there, it
// returns its context's error at once and never gets a row; a third, queued
// behind it, is granted right after the first, with the next row.
func testCoDecryptCancelledWhileQueued(t *testing.T, h *h) {
	f := h.setup()
	before, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	type result = grantResult
	first, release := heldCoDecrypt(t, h, f.org, f.member)
	cctx, cancel := context.WithCancel(h.ctx)
	second := make(chan result, 1)
	go func() {
		g, err := h.s.CoDecrypt(cctx, f.admin.tok, f.org, nil)
		second <- result{g, err}
	}()
	third := make(chan result, 1)
	go func() {
		g, err := h.s.CoDecrypt(h.ctx, f.member.tok, f.org, nil)
		third <- result{g, err}
	}()
	select {
	case r := <-second:
		close(release)
		t.Fatalf("a co-decrypt queued behind an open batch returned before it was cancelled: %v", r.err)
	case <-time.After(blockedFor):
	}
	cancel()
	select {
	case r := <-second:
		wantErr(t, r.err, context.Canceled, "cancelled co-decrypt")
	case <-time.After(blockedFor):
		close(release)
		t.Fatal("a cancelled co-decrypt waited for the batch ahead of it")
	}
	close(release)
	a, c := <-first, <-third
	wantErr(t, a.err, nil, "first co-decrypt")
	wantErr(t, c.err, nil, "third co-decrypt")
	if a.g.Audit.Seq != before.Seq+1 || c.g.Audit.Seq != before.Seq+2 {
		t.Fatalf("grants at seq %d and %d, want %d and %d", a.g.Audit.Seq, c.g.Audit.Seq, before.Seq+1, before.Seq+2)
	}
	after, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if after.Seq != before.Seq+2 {
		t.Fatalf("%d rows after two grants and one cancelled request", after.Seq-before.Seq)
	}
}

// testCoDecryptFunc: CoDecrypt takes the subject from the session and asks
// admit last, inside the transaction: admit sees the member's id, its
// refusal is returned as it is and writes nothing, and it is never asked
// for a stranger, a kicked member (whose throttled denied row is written)
// or a caller without a live session. The session's use is recorded.
func testCoDecryptFunc(t *testing.T, h *h) {
	f := h.setup()
	var asked []string
	admit := func(userID string) error {
		asked = append(asked, userID)
		return nil
	}
	before, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	g, err := h.s.CoDecrypt(h.ctx, f.member.tok, f.org, admit)
	wantErr(t, err, nil, "CoDecrypt by a member")
	if g.UserID != f.member.ID || g.Role != store.RoleMember || g.Audit.Seq != before.Seq+1 {
		t.Fatalf("grant %+v", g)
	}
	evs, _, err := h.s.ListAudit(h.ctx, f.admin.tok, f.org, before.Seq, 10)
	wantErr(t, err, nil, "ListAudit")
	last := evs[len(evs)-1]
	if last.Action != store.ActionCoDecrypt || last.Actor != f.member.ID || last.Target != f.member.ID || last.Result != store.ResultOK {
		t.Fatalf("row %+v", last)
	}
	if !slices.Equal(asked, []string{f.member.ID}) {
		t.Fatalf("admit asked for %v", asked)
	}

	refused := errors.New("refused by admit")
	asked = nil
	mark, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	g, err = h.s.CoDecrypt(h.ctx, f.admin.tok, f.org, func(userID string) error {
		asked = append(asked, userID)
		return refused
	})
	wantErr(t, err, refused, "CoDecrypt refused by admit")
	if g.UserID != f.admin.ID || !slices.Equal(asked, []string{f.admin.ID}) {
		t.Fatalf("refusal names %q, admit asked for %v", g.UserID, asked)
	}
	after, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if after != mark {
		t.Fatalf("a refusal by admit moved the chain from %+v to %+v", mark, after)
	}

	// A panic in admit refuses that request alone, with no row.
	_, err = h.s.CoDecrypt(h.ctx, f.admin.tok, f.org, func(string) error { panic("injected") })
	if err == nil {
		t.Fatal("a co-decrypt whose admit panicked was granted")
	}
	after, err = h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if after != mark {
		t.Fatalf("a panic in admit moved the chain from %+v to %+v", mark, after)
	}

	asked = nil
	stranger := h.login(email("stranger2"))
	g, err = h.s.CoDecrypt(h.ctx, stranger.tok, f.org, admit)
	wantErr(t, err, store.ErrNotMember, "CoDecrypt by a stranger")
	if g.UserID != stranger.ID {
		t.Fatalf("a stranger's refusal names %q", g.UserID)
	}
	g, err = h.s.CoDecrypt(h.ctx, newToken(), f.org, admit)
	wantErr(t, err, store.ErrUnauthenticated, "CoDecrypt without a session")
	if g.UserID != "" {
		t.Fatalf("a refusal without a session names %q", g.UserID)
	}
	kicked := h.addMember(f.org, f.admin, store.RoleMember)
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, kicked.ID, store.KickOptions{})
	wantErr(t, err, nil, "kick")
	mark, err = h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	_, err = h.s.CoDecrypt(h.ctx, kicked.tok, f.org, admit)
	wantErr(t, err, store.ErrMembershipRevoked, "CoDecrypt by a kicked member")
	after, err = h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if after.Seq != mark.Seq+1 {
		t.Fatalf("a kicked member's refusal wrote %d rows, want its denied row", after.Seq-mark.Seq)
	}
	if len(asked) != 0 {
		t.Fatalf("admit asked for %v", asked)
	}

	// Use is recorded when due, as AuthorizeOrg does.
	seen, err := h.s.LookupSession(h.ctx, f.member.tok)
	wantErr(t, err, nil, "LookupSession")
	h.clock.Advance(store.DefaultSessionTouch + time.Second)
	_, err = h.s.CoDecrypt(h.ctx, f.member.tok, f.org, nil)
	wantErr(t, err, nil, "CoDecrypt after SessionTouch")
	again, err := h.s.LookupSession(h.ctx, f.member.tok)
	wantErr(t, err, nil, "LookupSession")
	if !again.LastSeenAt.After(seen.LastSeenAt) {
		t.Fatalf("CoDecrypt did not record the session's use: %v → %v", seen.LastSeenAt, again.LastSeenAt)
	}
}
