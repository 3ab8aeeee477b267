package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"OperatorListsOrgsAndUsers", testOperatorLists},
		test{"OperatorDisablesUser", testDisableUser},
		test{"OperatorDisableWaitsForInFlightRequests", testDisableWaitsForInFlight},
		test{"OperatorDisableRacingLogins", testDisableRacingLogins},
		test{"SessionOfDisabledUserRefused", testDisabledUserSessionRefused},
		test{"OperatorEndsSessions", testEndUserSessions},
		test{"OperatorAuditStatus", testAuditStatus},
		test{"OperatorInventory", testInventory},
	)
}

func testOperatorLists(t *testing.T, h *h) {
	orgs, err := h.s.ListAllOrgs(h.ctx)
	wantErr(t, err, nil, "ListAllOrgs of an empty store")
	users, err := h.s.ListAllUsers(h.ctx)
	wantErr(t, err, nil, "ListAllUsers of an empty store")
	if len(orgs) != 0 || len(users) != 0 {
		t.Fatalf("an empty store lists %d orgs and %d users", len(orgs), len(users))
	}

	f := h.setup()
	h.clock.Advance(time.Second)
	other := h.login(email("other"))
	o2 := h.newOrg(other)
	h.clock.Advance(time.Second)
	if _, err := h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{}); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	h.clock.Advance(time.Hour)
	_, _ = h.secondSession(f.admin) // a second session, used an hour later
	loner := h.login(email("loner"))
	if err := h.s.RevokeSession(h.ctx, loner.tok, ""); err != nil {
		t.Fatalf("logout: %v", err)
	}

	orgs, err = h.s.ListAllOrgs(h.ctx)
	wantErr(t, err, nil, "ListAllOrgs")
	if len(orgs) != 2 || orgs[0].ID != f.org || orgs[1].ID != o2 {
		t.Fatalf("ListAllOrgs: %+v, want %s then %s", orgs, f.org, o2)
	}
	hd, err := h.s.VerifyChain(h.ctx, f.org)
	wantErr(t, err, nil, "VerifyChain")
	if o := orgs[0]; o.Name != "Acme" || o.CreatedBy != f.owner.ID || o.Members != 2 || o.Revoked != 1 ||
		o.AuditSeq != hd.Seq || o.CreatedAt.IsZero() {
		t.Fatalf("first org: %+v (audit head %d)", o, hd.Seq)
	}
	if o := orgs[1]; o.Members != 1 || o.Revoked != 0 || o.AuditSeq != 1 || !o.CreatedAt.After(orgs[0].CreatedAt) {
		t.Fatalf("second org: %+v", o)
	}

	users, err = h.s.ListAllUsers(h.ctx)
	wantErr(t, err, nil, "ListAllUsers")
	byID := map[string]store.UserSummary{}
	for i, u := range users {
		byID[u.ID] = u
		if i > 0 && u.CreatedAt.Before(users[i-1].CreatedAt) {
			t.Fatalf("users not by creation time: %+v", users)
		}
	}
	if len(users) != 5 {
		t.Fatalf("ListAllUsers: %d users, want 5: %+v", len(users), users)
	}
	owner := byID[f.owner.ID]
	if owner.Email != f.owner.Email || !owner.DisabledAt.IsZero() || owner.Sessions != 1 ||
		len(owner.Orgs) != 1 || owner.Orgs[0] != (store.UserOrg{OrgID: f.org, Role: store.RoleOwner, Status: store.StatusActive}) {
		t.Fatalf("owner: %+v", owner)
	}
	if m := byID[f.member.ID]; len(m.Orgs) != 1 || m.Orgs[0].Status != store.StatusRevoked || m.Orgs[0].Role != store.RoleMember {
		t.Fatalf("kicked member: %+v", m)
	}
	if a := byID[f.admin.ID]; a.Sessions != 2 || !a.LastSeenAt.Equal(h.clock.Now().Truncate(time.Microsecond)) {
		t.Fatalf("admin: %+v, want 2 sessions last seen at %v", a, h.clock.Now())
	}
	if l := byID[loner.ID]; l.Sessions != 0 || !l.LastSeenAt.IsZero() || len(l.Orgs) != 0 {
		t.Fatalf("a user who logged out: %+v", l)
	}
}

func testDisableUser(t *testing.T, h *h) {
	f := h.setup()
	o2 := h.newOrg(f.member) // the member owns a second org
	if _, err := h.s.Kick(h.ctx, f.owner.tok, f.org, f.admin.ID, store.KickOptions{}); err != nil {
		t.Fatalf("Kick: %v", err)
	}
	second, _ := h.secondSession(f.member)
	before := h.state(f.owner, f.org)
	hd1, _ := h.s.VerifyChain(h.ctx, f.org)
	hd2, _ := h.s.VerifyChain(h.ctx, o2)

	_, err := h.s.DisableUser(h.ctx, "Nobody@Example.com")
	wantErr(t, err, store.ErrInvalid, "DisableUser with an address not in canonical form")
	_, err = h.s.DisableUser(h.ctx, email("nobody"))
	wantErr(t, err, store.ErrNotFound, "DisableUser of an unknown address")

	res, err := h.s.DisableUser(h.ctx, f.member.Email)
	wantErr(t, err, nil, "DisableUser")
	if !res.Changed || res.EndedSessions != 2 || res.User.ID != f.member.ID || res.User.DisabledAt.IsZero() ||
		res.User.Sessions != 0 || len(res.Audit) != 2 {
		t.Fatalf("DisableUser: %+v", res)
	}
	// Sessions: both refused, for every kind of request.
	h.refusedAfterRevoke(t, f.org, f.member)
	h.refusedAfterRevoke(t, f.org, second)
	// One user-disable row by the operator in each org of an active
	// membership; the membership itself is untouched.
	for _, c := range []struct {
		org string
		hd  store.AuditHead
	}{{f.org, hd1}, {o2, hd2}} {
		st, err := h.s.AuditStatus(h.ctx, c.org)
		wantErr(t, err, nil, "AuditStatus")
		if !st.Valid || st.Head.Seq != c.hd.Seq+1 {
			t.Fatalf("org %s after the disable: %+v, head before %d", c.org, st, c.hd.Seq)
		}
	}
	e := h.lastAudit(f.owner, f.org)
	if e.Actor != store.ActorOperator || e.Action != store.ActionUserDisable || e.Target != f.member.ID || e.Result != store.ResultOK {
		t.Fatalf("the audit row: %+v", e)
	}
	if !slices.Contains(res.Audit, store.AuditHead{OrgID: f.org, Seq: e.Seq, Hash: e.Hash}) ||
		!slices.IsSortedFunc(res.Audit, func(a, b store.AuditHead) int { return strings.Compare(a.OrgID, b.OrgID) }) {
		t.Fatalf("DisableUser's heads %+v, row %+v", res.Audit, e)
	}
	h.unchangedButAudit(before, f.owner, f.org, "DisableUser", store.ActorOperator, store.ActionUserDisable, store.ResultOK)

	// Login: a wrong code is a wrong code (nothing tells a guesser the
	// account is disabled); the right one is used up and refused.
	c := code()
	_, err = h.s.CreateLoginCode(h.ctx, f.member.Email, c, 0)
	wantErr(t, err, nil, "CreateLoginCode for a disabled user")
	_, err = h.s.VerifyLoginCode(h.ctx, f.member.Email, "99999999")
	wantErr(t, err, store.ErrBadCode, "a wrong code of a disabled user")
	_, err = h.s.VerifyLoginCode(h.ctx, f.member.Email, c)
	wantErr(t, err, store.ErrUserDisabled, "the right code of a disabled user")
	_, err = h.s.VerifyLoginCode(h.ctx, f.member.Email, c)
	wantErr(t, err, store.ErrBadCode, "the same code again")
	_, err = h.s.CreateSession(h.ctx, f.member.ID, newToken(), "laptop")
	wantErr(t, err, store.ErrUserDisabled, "CreateSession for a disabled user")

	// Again: nothing to change, no row.
	res, err = h.s.DisableUser(h.ctx, f.member.Email)
	wantErr(t, err, nil, "DisableUser again")
	if res.Changed || res.EndedSessions != 0 || len(res.Audit) != 0 {
		t.Fatalf("DisableUser again: %+v", res)
	}
	// A user with no active membership: no row anywhere.
	res, err = h.s.DisableUser(h.ctx, f.admin.Email)
	wantErr(t, err, nil, "DisableUser of a kicked admin")
	if !res.Changed || len(res.Audit) != 0 {
		t.Fatalf("DisableUser of a user without an active membership: %+v", res)
	}

	// Enable: signs in again, one user-enable row per org.
	res, err = h.s.EnableUser(h.ctx, f.member.Email)
	wantErr(t, err, nil, "EnableUser")
	if !res.Changed || !res.User.DisabledAt.IsZero() || len(res.Audit) != 2 {
		t.Fatalf("EnableUser: %+v", res)
	}
	if e := h.lastAudit(f.owner, f.org); e.Actor != store.ActorOperator || e.Action != store.ActionUserEnable || e.Target != f.member.ID {
		t.Fatalf("the enable row: %+v", e)
	}
	res, err = h.s.EnableUser(h.ctx, f.member.Email)
	wantErr(t, err, nil, "EnableUser again")
	if res.Changed || len(res.Audit) != 0 {
		t.Fatalf("EnableUser of an enabled user: %+v", res)
	}
	back := h.login(f.member.Email)
	_, err = h.s.CreateProject(h.ctx, back.tok, newProjectReq(f.org))
	wantErr(t, err, nil, "a write after the user was enabled again")
	for _, org := range []string{f.org, o2} {
		st, err := h.s.AuditStatus(h.ctx, org)
		if err != nil || !st.Valid {
			t.Fatalf("AuditStatus(%s): %+v %v", org, st, err)
		}
	}
}

// testDisableWaitsForInFlight: a write that checked its session before
// the disable commits before it, and the disable deletes the session
// only then (as RevokeSession does).
func testDisableWaitsForInFlight(t *testing.T, h *h) {
	f := h.setup()
	ctx, reached, release := hooked(h.ctx, store.HookSessionChecked)
	res := make(chan error, 1)
	go func() {
		_, err := h.s.CreateProject(ctx, f.member.tok, newProjectReq(f.org))
		res <- err
	}()
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		close(release)
		t.Fatal("the request never reached its hook")
	}
	dd := make(chan error, 1)
	go func() {
		_, err := h.s.DisableUser(h.ctx, f.member.Email)
		dd <- err
	}()
	select {
	case err := <-dd:
		close(release)
		<-res
		// SQLite's one writer cannot even start the disable meanwhile;
		// either way it must not have finished first.
		t.Fatalf("DisableUser returned (%v) while a request that had checked the session was in flight", err)
	case <-time.After(blockedFor):
	}
	close(release)
	wantErr(t, <-res, nil, "the request in flight before the disable")
	wantErr(t, <-dd, nil, "DisableUser")
	h.refusedAfterRevoke(t, f.org, f.member)
	// The chain orders the request's row before the disable's.
	e := h.lastAudit(f.owner, f.org)
	if e.Action != store.ActionUserDisable {
		t.Fatalf("the last row is %+v, want the disable", e)
	}
}

// testDisableRacingLogins: sessions created for a user while the user is
// disabled are either deleted by the disable or refused; once DisableUser
// has returned, the user holds no session.
func testDisableRacingLogins(t *testing.T, h *h) {
	f := h.setup()
	stop := make(chan struct{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []store.TokenHash
		other   []error
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tok := newToken()
				_, err := h.s.CreateSession(h.ctx, f.member.ID, tok, "laptop")
				mu.Lock()
				switch {
				case err == nil:
					created = append(created, tok)
				case !errors.Is(err, store.ErrUserDisabled):
					other = append(other, err)
				}
				mu.Unlock()
			}
		}()
	}
	stored := func() int64 {
		var n int64
		if err := h.raw.QueryRowContext(h.ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, f.member.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(20 * time.Millisecond) // let the logins run
	_, err := h.s.DisableUser(h.ctx, f.member.Email)
	wantErr(t, err, nil, "DisableUser")
	atDisable := stored()
	time.Sleep(20 * time.Millisecond) // and try on
	close(stop)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("CreateSession failed otherwise: %v", other)
	}
	if len(created) == 0 {
		t.Fatal("no session was created before the disable: the race was not run")
	}
	if n := stored(); atDisable != 0 || n != 0 {
		t.Fatalf("sessions of the user stored: %d when DisableUser returned, %d later", atDisable, n)
	}
	for _, tok := range created {
		_, err := h.s.LookupSession(h.ctx, tok)
		wantErr(t, err, store.ErrUnauthenticated, "a session created before the disable")
	}
}

// testDisabledUserSessionRefused: a session of a disabled user that is
// still stored (a restored backup, a bug) is no session.
func testDisabledUserSessionRefused(t *testing.T, h *h) {
	f := h.setup()
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE users SET disabled_at = created_at WHERE id = $1`, f.member.ID); err != nil {
		t.Fatal(err)
	}
	h.refusedAfterRevoke(t, f.org, f.member)
	_, err := h.s.ListSessions(h.ctx, f.member.tok)
	wantErr(t, err, store.ErrUnauthenticated, "ListSessions")
	_, _, err = h.s.CreateOrg(h.ctx, f.member.tok, store.NewOrg{ID: ident.NewID(ident.Org), Name: "x", KeyCheck: keyCheck()})
	wantErr(t, err, store.ErrUnauthenticated, "CreateOrg")
	// Others are untouched.
	_, err = h.s.CreateProject(h.ctx, f.admin.tok, newProjectReq(f.org))
	wantErr(t, err, nil, "another member's write")
}

func testEndUserSessions(t *testing.T, h *h) {
	f := h.setup()
	second, _ := h.secondSession(f.member)
	before := h.state(f.owner, f.org)
	_, err := h.s.EndUserSessions(h.ctx, email("nobody"))
	wantErr(t, err, store.ErrNotFound, "EndUserSessions of an unknown address")
	_, err = h.s.EndUserSessions(h.ctx, "not an address")
	wantErr(t, err, store.ErrInvalid, "EndUserSessions of a malformed address")
	n, err := h.s.EndUserSessions(h.ctx, f.member.Email)
	wantErr(t, err, nil, "EndUserSessions")
	if n != 2 {
		t.Fatalf("EndUserSessions ended %d sessions, want 2", n)
	}
	h.refusedAfterRevoke(t, f.org, f.member)
	h.refusedAfterRevoke(t, f.org, second)
	// Nothing else changed: no row (sessions belong to no org), other
	// users' sessions live on, and the user signs in again.
	h.unchanged(before, f.owner, f.org, "EndUserSessions")
	_, err = h.s.CreateProject(h.ctx, f.admin.tok, newProjectReq(f.org))
	wantErr(t, err, nil, "another member's write")
	n, err = h.s.EndUserSessions(h.ctx, f.member.Email)
	if err != nil || n != 0 {
		t.Fatalf("EndUserSessions again: %d, %v", n, err)
	}
	back := h.login(f.member.Email)
	_, err = h.s.CreateProject(h.ctx, back.tok, newProjectReq(f.org))
	wantErr(t, err, nil, "a write after signing in again")
}

func testAuditStatus(t *testing.T, h *h) {
	f := h.setup()
	h.push(f.member, f.env.ID)
	st, err := h.s.AuditStatus(h.ctx, f.org)
	wantErr(t, err, nil, "AuditStatus")
	hd, _ := h.s.VerifyChain(h.ctx, f.org)
	if !st.Valid || st.Rows != hd.Seq || st.Head != hd || st.FirstBadSeq != 0 {
		t.Fatalf("AuditStatus %+v, head %+v", st, hd)
	}
	_, err = h.s.AuditStatus(h.ctx, ident.NewID(ident.Org))
	wantErr(t, err, store.ErrNotFound, "AuditStatus of an unknown org")
	_, err = h.s.AuditStatus(h.ctx, "org_bad")
	wantErr(t, err, store.ErrInvalid, "AuditStatus with a bad id")

	// A head moved behind the store's back: broken past the last row. The
	// first hex digit is changed, whatever it was (a fixed "0" left a
	// hash that starts with 0 as it was: one run in 16 passed nothing).
	moved := "0" + hd.Hash[1:]
	if hd.Hash[0] == '0' {
		moved = "1" + hd.Hash[1:]
	}
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE audit_heads SET hash = $1 WHERE org_id = $2`, moved, f.org); err != nil {
		t.Fatal(err)
	}
	st, err = h.s.AuditStatus(h.ctx, f.org)
	wantErr(t, err, nil, "AuditStatus of a broken chain")
	if st.Valid || st.FirstBadSeq != hd.Seq+1 {
		t.Fatalf("AuditStatus of a chain whose head moved: %+v", st)
	}
}

func testInventory(t *testing.T, h *h) {
	inv, err := h.s.Inventory(h.ctx)
	wantErr(t, err, nil, "Inventory of an empty store")
	if inv.SchemaVersion < 7 || len(inv.Tables) != 14 || len(inv.IntegrityProblems) != 0 {
		t.Fatalf("Inventory: %+v", inv)
	}
	for _, c := range inv.Tables {
		if c.Rows != 0 {
			t.Fatalf("an empty store has %d rows in %s", c.Rows, c.Table)
		}
	}
	f := h.setup()
	h.push(f.member, f.env.ID)
	h.push(f.member, f.env.ID)
	inv, err = h.s.Inventory(h.ctx)
	wantErr(t, err, nil, "Inventory")
	rows := map[string]int64{}
	for _, c := range inv.Tables {
		rows[c.Table] = c.Rows
	}
	hd, _ := h.s.VerifyChain(h.ctx, f.org)
	want := map[string]int64{"users": 3, "sessions": 3, "orgs": 1, "memberships": 3, "invites": 2, "projects": 1,
		"environments": 1, "env_versions": 2, "deploys": 0, "audit_heads": 1, "audit_events": hd.Seq, "login_codes": 0}
	for table, n := range want {
		if rows[table] != n {
			t.Errorf("Inventory: %s has %d rows, want %d", table, rows[table], n)
		}
	}
}
