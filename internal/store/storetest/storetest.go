// Package storetest is the conformance suite of store.Store: every
// implementation runs the same tests (restic's backend suite, river's
// driver tests). Each test gets a fresh, empty, migrated store with a
// clock it controls.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, cfg store.Config) (store.Store, *sql.DB) { … })
//	}
//
// The suite covers every method, including the refusals (and that a
// refused request changed nothing), and three concurrency properties:
// concurrent pushes on one head (exactly one wins), a kick racing a
// co-decrypt (never granted after the kick in the audit chain), and
// concurrent audit appends (one unbroken chain).
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// Opener opens a fresh, empty, migrated store configured with cfg for one
// test, and a database/sql handle on the same database that the suite uses
// to inspect (and, in tamper tests, damage) what was stored. Both are
// closed by the opener's t.Cleanup.
type Opener func(t testing.TB, cfg store.Config) (store.Store, *sql.DB)

type test struct {
	name string
	fn   func(*testing.T, *h)
}

var tests []test

func register(ts ...test) { tests = append(tests, ts...) }

// Run runs the whole suite; subtests run in parallel.
func Run(t *testing.T, open Opener) {
	if len(tests) == 0 {
		t.Fatal("storetest: no tests registered")
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newH(t, open))
		})
	}
}

// Clock is a settable clock for store.Config.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Pepper is the login-code pepper the suite configures.
var Pepper = []byte("storetest pepper, 32 bytes long!")

// h is one test's harness.
type h struct {
	t     testing.TB
	s     store.Store
	raw   *sql.DB
	clock *Clock
	ctx   context.Context
}

func newH(t testing.TB, open Opener) *h {
	// An odd start time with non-zero microseconds, so truncation and
	// formatting are exercised.
	c := &Clock{t: time.Date(2031, 3, 4, 5, 6, 7, 123456000, time.UTC)}
	s, raw := open(t, store.Config{Now: c.Now, CodePepper: Pepper})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &h{t: t, s: s, raw: raw, clock: c, ctx: ctx}
}

// who is a logged-in user.
type who struct {
	store.User
	tok store.TokenHash
}

var counter atomic.Int64

// email returns a fresh address with the given local-part prefix.
func email(prefix string) string {
	return fmt.Sprintf("%s%d@example.com", prefix, counter.Add(1))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func newToken() store.TokenHash { return store.HashToken(randBytes(32)) }

// code returns a fresh 6-digit code.
func code() string { return fmt.Sprintf("%06d", counter.Add(1)%1000000) }

// login signs a user in by e-mail code and opens a session.
func (h *h) login(addr string) who {
	h.t.Helper()
	c := code()
	if _, err := h.s.CreateLoginCode(h.ctx, addr, c, 0); err != nil {
		h.t.Fatalf("CreateLoginCode: %v", err)
	}
	u, err := h.s.VerifyLoginCode(h.ctx, addr, c)
	if err != nil {
		h.t.Fatalf("VerifyLoginCode: %v", err)
	}
	tok := newToken()
	if _, err := h.s.CreateSession(h.ctx, u.ID, tok, "laptop"); err != nil {
		h.t.Fatalf("CreateSession: %v", err)
	}
	return who{u, tok}
}

func keyCheck() string { return hex.EncodeToString(randBytes(16)) }

// newOrg creates an org owned by owner.
func (h *h) newOrg(owner who) string {
	h.t.Helper()
	id := ident.NewID(ident.Org)
	if _, _, err := h.s.CreateOrg(h.ctx, owner.tok, store.NewOrg{ID: id, Name: "Acme", KeyCheck: keyCheck()}); err != nil {
		h.t.Fatalf("CreateOrg: %v", err)
	}
	return id
}

// invite creates an invite and returns it.
func (h *h) invite(by who, orgID, addr string, kind store.InviteKind, role store.Role) store.Invite {
	h.t.Helper()
	inv, _, err := h.s.CreateInvite(h.ctx, by.tok, store.NewInvite{
		ID: ident.NewID(ident.Invite), OrgID: orgID, Email: addr, Kind: kind, Role: role,
		ExpiresAt: h.clock.Now().Add(7 * 24 * time.Hour), Blob: randBytes(80),
	})
	if err != nil {
		h.t.Fatalf("CreateInvite(%s, %s): %v", kind, role, err)
	}
	return inv
}

// addMember invites a new user with role, who redeems and wraps.
func (h *h) addMember(orgID string, by who, role store.Role) who {
	h.t.Helper()
	addr := email(string(role))
	inv := h.invite(by, orgID, addr, store.InviteMember, role)
	m := h.login(addr)
	if _, err := h.s.Redeem(h.ctx, m.tok, inv.ID, nil); err != nil {
		h.t.Fatalf("Redeem: %v", err)
	}
	if _, err := h.s.Wrap(h.ctx, m.tok, orgID, m.ID); err != nil {
		h.t.Fatalf("Wrap: %v", err)
	}
	return m
}

func (h *h) newProject(orgID string, by who) string {
	h.t.Helper()
	id := ident.NewID(ident.Project)
	if _, err := h.s.CreateProject(h.ctx, by.tok, store.NewProject{ID: id, OrgID: orgID, Name: "p" + fmt.Sprint(counter.Add(1))}); err != nil {
		h.t.Fatalf("CreateProject: %v", err)
	}
	return id
}

func (h *h) newEnv(orgID, projectID string, by who) store.Env {
	h.t.Helper()
	e, err := h.s.CreateEnv(h.ctx, by.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: orgID, ProjectID: projectID, Name: "development", SigningKey: randBytes(32)})
	if err != nil {
		h.t.Fatalf("CreateEnv: %v", err)
	}
	return e
}

// setup is the common fixture: an org with an owner, an admin and a
// member, one project and one environment.
type setup struct {
	org                  string
	owner, admin, member who
	project              string
	env                  store.Env
}

func (h *h) setup() setup {
	h.t.Helper()
	var f setup
	f.owner = h.login(email("owner"))
	f.org = h.newOrg(f.owner)
	f.admin = h.addMember(f.org, f.owner, store.RoleAdmin)
	f.member = h.addMember(f.org, f.owner, store.RoleMember)
	f.project = h.newProject(f.org, f.owner)
	f.env = h.newEnv(f.org, f.project, f.owner)
	return f
}

// blob returns a NewVersion with random content.
func blob(version, epoch int64, parent string) store.NewVersion {
	b := []byte(fmt.Sprintf("capy-blob 1\nmanifest %d %d %s sig\n", epoch, version, parent))
	b = append(b, hex.EncodeToString(randBytes(24))...)
	sum := sha256.Sum256(b)
	return store.NewVersion{Version: version, Epoch: epoch, ID: hex.EncodeToString(sum[:]), ParentID: parent, Blob: b}
}

// next returns a NewVersion that fits the current head of the environment.
func (h *h) next(by who, envID string) store.NewVersion {
	h.t.Helper()
	e, err := h.s.GetEnv(h.ctx, by.tok, envID)
	if err != nil {
		h.t.Fatalf("GetEnv: %v", err)
	}
	parent := store.FirstParent
	if e.HeadVersion > 0 {
		parent = e.HeadID
	}
	return blob(e.HeadVersion+1, e.Epoch, parent)
}

// push pushes the next version.
func (h *h) push(by who, envID string) store.Version {
	h.t.Helper()
	v, _, err := h.s.Push(h.ctx, by.tok, envID, h.next(by, envID))
	if err != nil {
		h.t.Fatalf("Push: %v", err)
	}
	return v
}

// deploy mints a deploy token for the environment's current epoch.
func (h *h) deploy(by who, e store.Env) (store.Deploy, []byte) {
	h.t.Helper()
	v := sha256.Sum256(randBytes(32))
	e, err := h.s.GetEnv(h.ctx, by.tok, e.ID)
	if err != nil {
		h.t.Fatalf("GetEnv: %v", err)
	}
	d, _, err := h.s.CreateDeploy(h.ctx, by.tok, store.NewDeploy{
		ID: ident.NewID(ident.Deploy), OrgID: e.OrgID, EnvID: e.ID, Name: "ci", Epoch: e.Epoch, Verifier: v[:], Blob: randBytes(64),
	})
	if err != nil {
		h.t.Fatalf("CreateDeploy: %v", err)
	}
	return d, v[:]
}

// wantErr fails unless err matches target (nil means success).
func wantErr(t testing.TB, err, target error, what string) {
	t.Helper()
	if target == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error: %v", what, err)
		}
		return
	}
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// state is everything an org's owner can see, for "a refusal changed
// nothing" checks.
type state struct {
	Members  []store.Member
	Invites  []store.Invite
	Deploys  []store.Deploy
	Projects []store.Project
	Envs     []store.Env
	Versions map[string][]store.Version
	Audit    store.AuditHead
}

func (h *h) state(owner who, orgID string) state {
	h.t.Helper()
	var st state
	var err error
	must := func(what string) {
		if err != nil {
			h.t.Fatalf("state: %s: %v", what, err)
		}
	}
	st.Members, err = h.s.ListMembers(h.ctx, owner.tok, orgID)
	must("ListMembers")
	st.Invites, err = h.s.ListInvites(h.ctx, owner.tok, orgID)
	must("ListInvites")
	st.Deploys, err = h.s.ListDeploys(h.ctx, owner.tok, orgID)
	must("ListDeploys")
	st.Projects, err = h.s.ListProjects(h.ctx, owner.tok, orgID)
	must("ListProjects")
	st.Versions = map[string][]store.Version{}
	for _, p := range st.Projects {
		envs, err := h.s.ListEnvs(h.ctx, owner.tok, orgID, p.ID)
		if err != nil {
			h.t.Fatalf("state: ListEnvs: %v", err)
		}
		st.Envs = append(st.Envs, envs...)
		for _, e := range envs {
			vs, err := h.s.ListVersions(h.ctx, owner.tok, e.ID)
			if err != nil {
				h.t.Fatalf("state: ListVersions: %v", err)
			}
			st.Versions[e.ID] = vs
		}
	}
	_, st.Audit, err = h.s.ListAudit(h.ctx, owner.tok, orgID, 0, 1)
	must("ListAudit")
	return st
}

// unchanged fails if the org's state differs from before.
func (h *h) unchanged(before state, owner who, orgID, what string) {
	h.t.Helper()
	after := h.state(owner, orgID)
	if !reflect.DeepEqual(before, after) {
		h.t.Fatalf("%s changed the org's state:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// unchangedButAudit fails unless the only change is one audit event with
// the given actor, action and result.
func (h *h) unchangedButAudit(before state, owner who, orgID, what, actor, action, result string) {
	h.t.Helper()
	after := h.state(owner, orgID)
	if after.Audit.Seq != before.Audit.Seq+1 {
		h.t.Fatalf("%s: audit went from %d to %d, want exactly one event", what, before.Audit.Seq, after.Audit.Seq)
	}
	evs, _, err := h.s.ListAudit(h.ctx, owner.tok, orgID, before.Audit.Seq, 10)
	if err != nil || len(evs) != 1 {
		h.t.Fatalf("%s: ListAudit: %v, %d events", what, err, len(evs))
	}
	if e := evs[0]; e.Actor != actor || e.Action != action || e.Result != result {
		h.t.Fatalf("%s: audited %q %q %q, want %q %q %q", what, e.Actor, e.Action, e.Result, actor, action, result)
	}
	before.Audit, after.Audit = store.AuditHead{}, store.AuditHead{}
	if !reflect.DeepEqual(before, after) {
		h.t.Fatalf("%s changed more than the audit log:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// lastAudit returns the org's newest audit event.
func (h *h) lastAudit(by who, orgID string) store.AuditEvent {
	h.t.Helper()
	_, hd, err := h.s.ListAudit(h.ctx, by.tok, orgID, 0, 1)
	if err != nil {
		h.t.Fatalf("ListAudit: %v", err)
	}
	evs, _, err := h.s.ListAudit(h.ctx, by.tok, orgID, hd.Seq-1, 1)
	if err != nil || len(evs) != 1 {
		h.t.Fatalf("ListAudit: %v (%d events)", err, len(evs))
	}
	return evs[0]
}

// dump returns every row of every capy table as text, for "is a secret
// stored in plaintext?" checks.
func (h *h) dump() string {
	h.t.Helper()
	var b strings.Builder
	for _, table := range []string{"users", "login_codes", "sessions", "orgs", "memberships", "invites",
		"projects", "environments", "env_versions", "deploys", "audit_heads", "audit_events", "rate_limits"} {
		rows, err := h.raw.QueryContext(h.ctx, "SELECT * FROM "+table)
		if err != nil {
			h.t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				h.t.Fatalf("dump %s: %v", table, err)
			}
			for _, v := range vals {
				switch x := v.(type) {
				case []byte:
					b.WriteString(hex.EncodeToString(x) + " " + string(x))
				default:
					fmt.Fprint(&b, x)
				}
				b.WriteByte('\t')
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}

func sortedIDs(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Strings(out)
	return out
}
