package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// Behaviour docs/api.md asks of the store beyond the first schema:
// parents checked, idempotent revocations, throttled denied rows, count
// limits, session eviction, the service-side audit verification.
func init() {
	register(
		test{"GetProjectAndParents", testGetProject},
		test{"VerifyAudit", testVerifyAudit},
		test{"Ping", testPing},
		test{"CoDecryptDeniedThrottled", testDeniedThrottled},
		test{"SessionExpiredAndEvicted", testSessionLimits},
		test{"SetRoleNoopAndRevoked", testSetRoleNoop},
		test{"KickKeptDeploys", testKickKept},
		test{"CountLimits", testCountLimits},
		test{"ExistsNamesTheField", testExistsField},
		test{"RedeemCheckOrder", testRedeemOrder},
		test{"LoginCodeTTL", testLoginCodeTTL},
	)
}

func testGetProject(t *testing.T, h *h) {
	f := h.setup()
	p, err := h.s.GetProject(h.ctx, f.member.tok, f.org, f.project)
	wantErr(t, err, nil, "GetProject")
	if p.ID != f.project || p.OrgID != f.org || p.CreatedBy != f.owner.ID || p.CreatedByEmail != f.owner.Email {
		t.Fatalf("project %+v", p)
	}
	stranger := h.login(email("stranger"))
	_, err = h.s.GetProject(h.ctx, stranger.tok, f.org, f.project)
	wantErr(t, err, store.ErrNotMember, "stranger")
	other := h.newOrg(stranger)
	_, err = h.s.GetProject(h.ctx, stranger.tok, other, f.project)
	wantErr(t, err, store.ErrNotFound, "through another org")
	_, err = h.s.ListEnvs(h.ctx, stranger.tok, other, f.project)
	wantErr(t, err, store.ErrNotFound, "envs through another org")
	_, err = h.s.CreateEnv(h.ctx, stranger.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: other, ProjectID: f.project, Name: "x", SigningKey: randBytes(32)})
	wantErr(t, err, store.ErrNotFound, "env in another org's project")
	_, err = h.s.GetProject(h.ctx, f.member.tok, f.org, ident.NewID(ident.Project))
	wantErr(t, err, store.ErrNotFound, "unknown project")
}

func testVerifyAudit(t *testing.T, h *h) {
	f := h.setup()
	v, err := h.s.VerifyAudit(h.ctx, f.admin.tok, f.org)
	wantErr(t, err, nil, "VerifyAudit")
	hd, _ := h.s.VerifyChain(h.ctx, f.org)
	if !v.Valid || v.Rows != hd.Seq || v.Head != hd || v.FirstBadSeq != 0 {
		t.Fatalf("verification %+v, head %+v", v, hd)
	}
	_, err = h.s.VerifyAudit(h.ctx, f.member.tok, f.org)
	wantErr(t, err, store.ErrForbidden, "VerifyAudit by a plain member")
	if _, err := h.raw.ExecContext(h.ctx, `UPDATE audit_heads SET hash = $1 WHERE org_id = $2`, auditchain.Genesis, f.org); err != nil {
		t.Fatal(err)
	}
	v, err = h.s.VerifyAudit(h.ctx, f.owner.tok, f.org)
	wantErr(t, err, nil, "VerifyAudit of a broken chain")
	if v.Valid || v.FirstBadSeq != hd.Seq+1 {
		t.Fatalf("broken chain reported as %+v", v)
	}
}

func testPing(t *testing.T, h *h) {
	wantErr(t, h.s.Ping(h.ctx), nil, "Ping")
}

func testDeniedThrottled(t *testing.T, h *h) {
	f := h.setup()
	_, err := h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	before := h.state(f.owner, f.org)
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrMembershipRevoked, "co-decrypt after kick")
	h.unchangedButAudit(before, f.owner, f.org, "the first refusal", f.member.ID, store.ActionCoDecrypt, store.ResultDenied)
	before = h.state(f.owner, f.org)
	h.clock.Advance(30 * time.Minute)
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrRevoked, "again")
	h.unchanged(before, f.owner, f.org, "a refusal within the hour")
	h.clock.Advance(31 * time.Minute)
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrRevoked, "an hour later")
	h.unchangedButAudit(before, f.owner, f.org, "a refusal an hour later", f.member.ID, store.ActionCoDecrypt, store.ResultDenied)
}

func testSessionLimits(t *testing.T, h *h) {
	u := h.login(email("sam"))
	h.clock.Advance(store.DefaultSessionIdle + time.Second)
	_, err := h.s.LookupSession(h.ctx, u.tok)
	if !errors.Is(err, store.ErrSessionExpired) || !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("expired session: %v", err)
	}
	_, err = h.s.LookupSession(h.ctx, newToken())
	if !errors.Is(err, store.ErrUnauthenticated) || errors.Is(err, store.ErrSessionExpired) {
		t.Fatalf("unknown session: %v", err)
	}
	// MaxSessions per user: the least recently used goes.
	v := h.login(email("vic"))
	first := v.tok
	toks := []store.TokenHash{}
	for i := 1; i < store.MaxSessions; i++ {
		h.clock.Advance(time.Second)
		tok := newToken()
		_, err := h.s.CreateSession(h.ctx, v.ID, tok, "m")
		wantErr(t, err, nil, "CreateSession")
		toks = append(toks, tok)
	}
	h.clock.Advance(time.Second)
	_, err = h.s.CreateSession(h.ctx, v.ID, newToken(), "one too many")
	wantErr(t, err, nil, "CreateSession beyond the limit")
	_, err = h.s.LookupSession(h.ctx, first)
	wantErr(t, err, store.ErrUnauthenticated, "the least recently used session")
	all, err := h.s.ListSessions(h.ctx, toks[0])
	wantErr(t, err, nil, "ListSessions")
	if len(all) != store.MaxSessions {
		t.Fatalf("%d sessions", len(all))
	}
}

func testSetRoleNoop(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	m, hd, err := h.s.SetRole(h.ctx, f.owner.tok, f.org, f.member.ID, store.RoleMember)
	wantErr(t, err, nil, "SetRole to the same role")
	if hd.Seq != 0 || m.Role != store.RoleMember {
		t.Fatalf("no-op %+v %+v", m, hd)
	}
	h.unchanged(before, f.owner, f.org, "a no-op role change")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.member.ID, store.RoleAdmin)
	wantErr(t, err, store.ErrMemberNotActive, "role of a revoked member")
}

func testKickKept(t *testing.T, h *h) {
	f := h.setup()
	d, _ := h.deploy(f.admin, f.env)
	res, err := h.s.Kick(h.ctx, f.owner.tok, f.org, f.admin.ID, store.KickOptions{KeepDeploys: true})
	wantErr(t, err, nil, "Kick")
	if len(res.KeptDeploys) != 1 || res.KeptDeploys[0] != d.ID || len(res.RevokedDeploys) != 0 {
		t.Fatalf("kick %+v", res)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Target != f.admin.ID+" invites=0 deploys=0 kept=1" {
		t.Fatalf("kick audit %+v", ev)
	}
	res, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.admin.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick again")
	if len(res.RevokedDeploys) != 1 || res.RevokedDeploys[0] != d.ID {
		t.Fatalf("second kick %+v", res)
	}
	ds, _ := h.s.ListDeploys(h.ctx, f.owner.tok, f.org)
	if len(ds) != 1 || ds[0].RevokedReason != store.ReasonKick {
		t.Fatalf("deploys %+v", ds)
	}
}

func testCountLimits(t *testing.T, h *h) {
	f := h.setup()
	for i := 1; i < store.MaxEnvs; i++ {
		_, err := h.s.CreateEnv(h.ctx, f.member.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: f.org, ProjectID: f.project, Name: "e" + letters(i), SigningKey: randBytes(32)})
		wantErr(t, err, nil, "CreateEnv")
	}
	before := h.state(f.owner, f.org)
	_, err := h.s.CreateEnv(h.ctx, f.member.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: f.org, ProjectID: f.project, Name: "last", SigningKey: randBytes(32)})
	var le *store.LimitError
	if !errors.As(err, &le) || le.Limit != store.MaxEnvs || !errors.Is(err, store.ErrLimitReached) {
		t.Fatalf("env beyond the limit: %v", err)
	}
	h.unchanged(before, f.owner, f.org, "an env beyond the limit")
	for i := 0; i < store.MaxActiveDeploys; i++ {
		h.deploy(f.admin, f.env)
	}
	_, _, err = h.s.CreateDeploy(h.ctx, f.admin.tok, store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "ci",
		Epoch: 1, Verifier: randBytes(32), Blob: randBytes(64)})
	if !errors.As(err, &le) || le.Limit != store.MaxActiveDeploys {
		t.Fatalf("deploy beyond the limit: %v", err)
	}
}

func testExistsField(t *testing.T, h *h) {
	f := h.setup()
	_, err := h.s.CreateProject(h.ctx, f.member.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "dup"})
	wantErr(t, err, nil, "CreateProject")
	var ee *store.ExistsError
	_, err = h.s.CreateProject(h.ctx, f.member.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "dup"})
	if !errors.As(err, &ee) || ee.Field != "name" {
		t.Fatalf("taken name: %v", err)
	}
	_, err = h.s.CreateProject(h.ctx, f.member.tok, store.NewProject{ID: f.project, OrgID: f.org, Name: "fresh"})
	if !errors.As(err, &ee) || ee.Field != "id" {
		t.Fatalf("taken id: %v", err)
	}
	_, err = h.s.CreateEnv(h.ctx, f.member.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: f.org, ProjectID: f.project, Name: f.env.Name, SigningKey: randBytes(32)})
	if !errors.As(err, &ee) || ee.Field != "name" {
		t.Fatalf("taken env name: %v", err)
	}
}

func testRedeemOrder(t *testing.T, h *h) {
	f := h.setup()
	// A device invite of a member who is then kicked: the kick revoked
	// the invite, and redeem says so (the invite's state comes before the
	// membership).
	_, inv, err := h.newInvite(f.member, f.org, f.member.Email, store.InviteDevice, "", time.Hour)
	wantErr(t, err, nil, "device invite")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	laptop := h.login(f.member.Email)
	_, err = h.s.Redeem(h.ctx, laptop.tok, inv.ID, nil)
	if !errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrMembershipRevoked) {
		t.Fatalf("redeem of a kicked member's device invite: %v", err)
	}
	r, err := h.s.Redeem(h.ctx, f.admin.tok, h.invite(f.owner, f.org, email("new"), store.InviteMember, store.RoleMember).ID, nil)
	wantErr(t, err, store.ErrForbidden, "another e-mail")
	_ = r
}

func testLoginCodeTTL(t *testing.T, h *h) {
	addr := email("tess")
	lc, err := h.s.CreateLoginCode(h.ctx, addr, "12345678", time.Minute)
	wantErr(t, err, nil, "CreateLoginCode")
	if !lc.ExpiresAt.Equal(h.clock.Now().Add(time.Minute).Truncate(time.Microsecond)) {
		t.Fatalf("expires %v", lc.ExpiresAt)
	}
	h.clock.Advance(time.Minute)
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "12345678")
	wantErr(t, err, store.ErrExpired, "past its own TTL")
}

// letters names i with two lowercase letters (i < 676).
func letters(i int) string { return string(rune('a'+i/26%26)) + string(rune('a'+i%26)) }
