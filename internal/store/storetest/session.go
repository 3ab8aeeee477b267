package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"SessionRevokeWaitsForInFlightRequests", testRevokeWaitsForInFlight},
		test{"RequestWaitsForCommittingRevoke", testRequestWaitsForRevoke},
		test{"SessionRevokeRacingRequests", testRevokeRace},
	)
}

// Session revocation is ordered with the session's requests: a write
// that checked the session before a revocation commits before it (the
// revocation waits), and one that checks it after, or while the
// revocation commits, is refused. Reads see one snapshot each and change
// nothing, so they are ordered by it.

// secondSession signs w in again and returns the new session and its id.
func (h *h) secondSession(w who) (who, string) {
	h.t.Helper()
	v := h.login(w.Email)
	s, err := h.s.LookupSession(h.ctx, v.tok)
	if err != nil {
		h.t.Fatalf("LookupSession: %v", err)
	}
	return v, s.ID
}

func newProjectReq(orgID string) store.NewProject {
	return store.NewProject{ID: ident.NewID(ident.Project), OrgID: orgID, Name: fmt.Sprintf("p%d", counter.Add(1))}
}

// refusedAfterRevoke checks that every kind of request with a revoked
// session is refused.
func (h *h) refusedAfterRevoke(t *testing.T, org string, v who) {
	t.Helper()
	_, err := h.s.CreateProject(h.ctx, v.tok, newProjectReq(org))
	wantErr(t, err, store.ErrUnauthenticated, "a write after the revocation")
	_, err = h.s.CoDecrypt(h.ctx, v.tok, org, nil)
	wantErr(t, err, store.ErrUnauthenticated, "a co-decrypt after the revocation")
	_, err = h.s.LookupSession(h.ctx, v.tok)
	wantErr(t, err, store.ErrUnauthenticated, "a lookup after the revocation")
	_, _, _, err = h.s.AuthorizeOrg(h.ctx, v.tok, org)
	wantErr(t, err, store.ErrUnauthenticated, "a read after the revocation")
}

// testRevokeWaitsForInFlight pauses a write (and, in a second round, a
// co-decrypt) of a session after it checked the session, then revokes the
// session from another: the revocation must not return before the request
// commits, the request succeeds, and the session is refused from then on.
func testRevokeWaitsForInFlight(t *testing.T, h *h) {
	f := h.setup()
	for _, kind := range []string{"write", "co-decrypt", "logout"} {
		victim, id := h.secondSession(f.member)
		point := store.HookSessionChecked
		if kind == "co-decrypt" {
			point = store.HookCoDecryptLocked
		}
		ctx, reached, release := hooked(h.ctx, point)
		res := make(chan error, 1)
		go func() {
			var err error
			if kind == "co-decrypt" {
				_, err = h.s.CoDecrypt(ctx, victim.tok, f.org, nil)
			} else {
				_, err = h.s.CreateProject(ctx, victim.tok, newProjectReq(f.org))
			}
			res <- err
		}()
		select {
		case <-reached:
		case <-time.After(30 * time.Second):
			close(release)
			t.Fatalf("%s: the request never reached its hook", kind)
		}
		rd := make(chan error, 1)
		go func() {
			if kind == "logout" {
				rd <- h.s.RevokeSession(h.ctx, victim.tok, "")
			} else {
				rd <- h.s.RevokeSession(h.ctx, f.member.tok, id)
			}
		}()
		select {
		case err := <-rd:
			close(release)
			<-res
			t.Fatalf("%s: the revocation returned (%v) while a request that had checked the session was in flight", kind, err)
		case <-time.After(blockedFor):
		}
		close(release)
		wantErr(t, <-res, nil, kind+": the request in flight before the revocation")
		wantErr(t, <-rd, nil, kind+": RevokeSession")
		h.refusedAfterRevoke(t, f.org, victim)
	}
	// The revoking session is untouched.
	_, err := h.s.CreateProject(h.ctx, f.member.tok, newProjectReq(f.org))
	wantErr(t, err, nil, "a write by the revoking session")
}

// testRequestWaitsForRevoke pauses a revocation after its delete, before
// its commit, then starts a write and a co-decrypt with the session: they
// must not finish while the revocation is committing, and are refused.
func testRequestWaitsForRevoke(t *testing.T, h *h) {
	f := h.setup()
	victim, id := h.secondSession(f.member)
	ctx, reached, release := hooked(h.ctx, store.HookSessionRevoked)
	rd := make(chan error, 1)
	go func() { rd <- h.s.RevokeSession(ctx, f.member.tok, id) }()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("the revocation never reached its hook")
	}
	before := h.state(f.owner, f.org)
	res := make(chan error, 2)
	go func() {
		_, err := h.s.CreateProject(h.ctx, victim.tok, newProjectReq(f.org))
		res <- err
	}()
	go func() {
		_, err := h.s.CoDecrypt(h.ctx, victim.tok, f.org, nil)
		res <- err
	}()
	select {
	case err := <-res:
		close(release)
		<-rd
		t.Fatalf("a request with the session finished (%v) while its revocation was committing", err)
	case <-time.After(blockedFor):
	}
	close(release)
	wantErr(t, <-rd, nil, "RevokeSession")
	for range 2 {
		wantErr(t, <-res, store.ErrUnauthenticated, "a request that met the revocation")
	}
	h.unchanged(before, f.owner, f.org, "requests refused by a revocation")
	h.refusedAfterRevoke(t, f.org, victim)
}

// testRevokeRace revokes a session while several goroutines use it for
// writes and co-decrypts in a loop: no request of the session commits
// after the revocation has returned (nothing by its user follows the audit
// head read then), and every request started after it is refused.
func testRevokeRace(t *testing.T, h *h) {
	f := h.setup()
	u := h.addMember(f.org, f.owner, store.RoleMember)
	victim, id := h.secondSession(u)
	const workers, after = 4, 3
	var (
		wg       sync.WaitGroup
		revoked  = make(chan struct{})
		progress = make(chan struct{}, 1024)
		lateOK   atomic.Int64
		failed   = make(chan error, workers)
	)
	ctx, cancel := context.WithCancel(h.ctx)
	defer cancel()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			late := 0
			for late < after {
				select {
				case <-ctx.Done():
					return
				default:
				}
				isLate := false
				select {
				case <-revoked:
					isLate = true
				default:
				}
				var err error
				if w%2 == 0 {
					_, err = h.s.CreateProject(ctx, victim.tok, newProjectReq(f.org))
				} else {
					_, err = h.s.CoDecrypt(ctx, victim.tok, f.org, nil)
				}
				switch {
				case err == nil && isLate:
					lateOK.Add(1)
				case err == nil:
					select {
					case progress <- struct{}{}:
					default:
					}
				case errors.Is(err, store.ErrUnauthenticated):
				default:
					failed <- err
					return
				}
				if isLate {
					late++
				}
			}
		}()
	}
	// Revoke once the workers are under way.
	for range workers {
		select {
		case <-progress:
		case err := <-failed:
			t.Fatalf("a request failed: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no request succeeded before the revocation")
		}
	}
	wantErr(t, h.s.RevokeSession(h.ctx, u.tok, id), nil, "RevokeSession")
	_, head, err := h.s.ListAudit(h.ctx, f.owner.tok, f.org, 0, 1)
	wantErr(t, err, nil, "ListAudit")
	close(revoked)
	wg.Wait()
	select {
	case err := <-failed:
		t.Fatalf("a request failed: %v", err)
	default:
	}
	if n := lateOK.Load(); n != 0 {
		t.Fatalf("%d requests started after the revocation returned succeeded", n)
	}
	evs, _, err := h.s.ListAudit(h.ctx, f.owner.tok, f.org, head.Seq, 1000)
	wantErr(t, err, nil, "ListAudit")
	for _, e := range evs {
		if e.Actor == u.ID {
			t.Fatalf("%s by the revoked session's user committed after the revocation returned (seq %d > %d)", e.Action, e.Seq, head.Seq)
		}
	}
	h.refusedAfterRevoke(t, f.org, victim)
	wantErr(t, must1(h.s.VerifyChain(h.ctx, f.org)), nil, "VerifyChain")
}
