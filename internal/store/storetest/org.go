package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"CreateOrg", testCreateOrg},
		test{"OrgVisibility", testOrgVisibility},
		test{"SetRole", testSetRole},
		test{"SetOrgPolicy", testSetOrgPolicy},
		test{"Kick", testKick},
		test{"KickKeepDeploys", testKickKeepDeploys},
		test{"KickRules", testKickRules},
		test{"CoDecrypt", testCoDecrypt},
		test{"Wrap", testWrap},
		test{"AuthorizeOrg", testAuthorizeOrg},
	)
}

func testCreateOrg(t *testing.T, h *h) {
	owner := h.login(email("owner"))
	id := ident.NewID(ident.Org)
	kc := keyCheck()
	org, hd, err := h.s.CreateOrg(h.ctx, owner.tok, store.NewOrg{ID: id, Name: "Acme Ltd", KeyCheck: kc})
	wantErr(t, err, nil, "CreateOrg")
	if org.ID != id || org.KeyCheck != kc || org.CreatedBy != owner.ID || org.Name != "Acme Ltd" {
		t.Fatalf("org %+v", org)
	}
	if hd.Seq != 1 || hd.OrgID != id {
		t.Fatalf("audit head %+v, want seq 1", hd)
	}
	got, m, err := h.s.GetOrg(h.ctx, owner.tok, id)
	wantErr(t, err, nil, "GetOrg")
	if got != org || m.Role != store.RoleOwner || m.Status != store.StatusActive || m.Email != owner.Email {
		t.Fatalf("GetOrg %+v %+v", got, m)
	}
	ev := h.lastAudit(owner, id)
	if ev.Seq != 1 || ev.PrevHash != auditchain.Genesis || ev.Action != store.ActionOrgCreate || ev.Actor != owner.ID || ev.Target != id || ev.Result != store.ResultOK {
		t.Fatalf("first audit event %+v", ev)
	}

	before := h.state(owner, id)
	other := h.login(email("other"))
	_, _, err = h.s.CreateOrg(h.ctx, other.tok, store.NewOrg{ID: id, Name: "Mine", KeyCheck: keyCheck()})
	wantErr(t, err, store.ErrExists, "CreateOrg with a taken id")
	h.unchanged(before, owner, id, "a refused CreateOrg")
	_, _, err = h.s.GetOrg(h.ctx, other.tok, id)
	wantErr(t, err, store.ErrNotMember, "GetOrg by the loser")

	for _, bad := range []store.NewOrg{
		{ID: "org_bad", Name: "x", KeyCheck: keyCheck()},
		{ID: ident.NewID(ident.Project), Name: "x", KeyCheck: keyCheck()},
		{ID: ident.NewID(ident.Org), Name: "", KeyCheck: keyCheck()},
		{ID: ident.NewID(ident.Org), Name: "x\x00", KeyCheck: keyCheck()},
		{ID: ident.NewID(ident.Org), Name: "x", KeyCheck: "ABCDEF0123456789abcdef0123456789"},
		{ID: ident.NewID(ident.Org), Name: "x", KeyCheck: "abcd"},
	} {
		_, _, err := h.s.CreateOrg(h.ctx, owner.tok, bad)
		wantErr(t, err, store.ErrInvalid, "CreateOrg "+bad.ID+" "+bad.KeyCheck)
	}
	_, _, err = h.s.CreateOrg(h.ctx, newToken(), store.NewOrg{ID: ident.NewID(ident.Org), Name: "x", KeyCheck: keyCheck()})
	wantErr(t, err, store.ErrUnauthenticated, "CreateOrg without a session")
}

func testOrgVisibility(t *testing.T, h *h) {
	f := h.setup()
	stranger := h.login(email("stranger"))
	_, _, err := h.s.GetOrg(h.ctx, stranger.tok, f.org)
	wantErr(t, err, store.ErrNotMember, "GetOrg by a stranger")
	_, _, err = h.s.GetOrg(h.ctx, stranger.tok, ident.NewID(ident.Org))
	wantErr(t, err, store.ErrNotMember, "GetOrg of an org that does not exist")
	_, err = h.s.ListMembers(h.ctx, stranger.tok, f.org)
	wantErr(t, err, store.ErrNotMember, "ListMembers by a stranger")

	orgs, err := h.s.ListOrgs(h.ctx, f.member.tok)
	wantErr(t, err, nil, "ListOrgs")
	if len(orgs) != 1 || orgs[0].Org.ID != f.org || orgs[0].Member.Role != store.RoleMember {
		t.Fatalf("ListOrgs %+v", orgs)
	}
	orgs, _ = h.s.ListOrgs(h.ctx, stranger.tok)
	if len(orgs) != 0 {
		t.Fatalf("stranger sees %+v", orgs)
	}
	ms, err := h.s.ListMembers(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListMembers by a member")
	roles := map[string]store.Role{}
	for _, m := range ms {
		roles[m.UserID] = m.Role
	}
	if len(ms) != 3 || roles[f.owner.ID] != store.RoleOwner || roles[f.admin.ID] != store.RoleAdmin || roles[f.member.ID] != store.RoleMember {
		t.Fatalf("ListMembers %+v", ms)
	}
}

func testSetRole(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	_, _, err := h.s.SetRole(h.ctx, f.admin.tok, f.org, f.member.ID, store.RoleAdmin)
	wantErr(t, err, store.ErrForbidden, "admin changing a role")
	_, _, err = h.s.SetRole(h.ctx, f.member.tok, f.org, f.member.ID, store.RoleOwner)
	wantErr(t, err, store.ErrForbidden, "member promoting themself")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.owner.ID, store.RoleAdmin)
	wantErr(t, err, store.ErrLastOwner, "last owner stepping down")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, ident.NewID(ident.User), store.RoleAdmin)
	wantErr(t, err, store.ErrNotFound, "role of a non-member")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.member.ID, "boss")
	wantErr(t, err, store.ErrInvalid, "unknown role")
	h.unchanged(before, f.owner, f.org, "refused role changes")

	m, hd, err := h.s.SetRole(h.ctx, f.owner.tok, f.org, f.member.ID, store.RoleAdmin)
	wantErr(t, err, nil, "owner promotes member")
	if m.Role != store.RoleAdmin || m.UserID != f.member.ID || hd.Seq != before.Audit.Seq+1 {
		t.Fatalf("SetRole %+v %+v", m, hd)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionRole || ev.Target != f.member.ID+" role=admin" {
		t.Fatalf("audit %+v", ev)
	}
	// With a second owner, the first may step down.
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.admin.ID, store.RoleOwner)
	wantErr(t, err, nil, "second owner")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.owner.ID, store.RoleMember)
	wantErr(t, err, nil, "first owner steps down")
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.member.ID, store.RoleMember)
	wantErr(t, err, store.ErrForbidden, "former owner changing roles")
	_, m2, _ := h.s.GetOrg(h.ctx, f.admin.tok, f.org)
	if m2.Role != store.RoleOwner {
		t.Fatalf("new owner has role %s", m2.Role)
	}
}

// testSetOrgPolicy: admins set the offline grace (bounded, whole
// seconds), it is audited once per change, every org read returns it,
// and the co-decrypt gate hands it to the member it lets through.
func testSetOrgPolicy(t *testing.T, h *h) {
	f := h.setup()
	org, _, err := h.s.GetOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "GetOrg")
	if org.OfflineGrace != 0 {
		t.Fatalf("a new org's offline grace is %v, want 0 (off)", org.OfflineGrace)
	}
	before := h.state(f.owner, f.org)
	_, _, err = h.s.SetOrgPolicy(h.ctx, f.member.tok, f.org, store.OrgPolicy{OfflineGrace: time.Hour})
	wantErr(t, err, store.ErrForbidden, "a member setting the policy")
	stranger := h.login(email("stranger"))
	_, _, err = h.s.SetOrgPolicy(h.ctx, stranger.tok, f.org, store.OrgPolicy{OfflineGrace: time.Hour})
	wantErr(t, err, store.ErrNotMember, "a stranger setting the policy")
	_, _, err = h.s.SetOrgPolicy(h.ctx, newToken(), f.org, store.OrgPolicy{OfflineGrace: time.Hour})
	wantErr(t, err, store.ErrUnauthenticated, "no session")
	for _, bad := range []time.Duration{-time.Second, store.MaxOfflineGrace + time.Second, 1500 * time.Millisecond} {
		_, _, err = h.s.SetOrgPolicy(h.ctx, f.owner.tok, f.org, store.OrgPolicy{OfflineGrace: bad})
		wantErr(t, err, store.ErrInvalid, "offline grace "+bad.String())
	}
	_, _, err = h.s.SetOrgPolicy(h.ctx, f.owner.tok, "org_x", store.OrgPolicy{})
	wantErr(t, err, store.ErrInvalid, "bad org id")
	h.unchanged(before, f.owner, f.org, "refused policy changes")

	org, hd, err := h.s.SetOrgPolicy(h.ctx, f.admin.tok, f.org, store.OrgPolicy{OfflineGrace: 8 * time.Hour})
	wantErr(t, err, nil, "an admin sets 8h")
	if org.ID != f.org || org.OfflineGrace != 8*time.Hour || hd.Seq != before.Audit.Seq+1 {
		t.Fatalf("SetOrgPolicy %+v %+v", org, hd)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionOrgPolicy || ev.Actor != f.admin.ID || ev.Target != f.org+" offline_grace=28800" || ev.Seq != hd.Seq {
		t.Fatalf("audit %+v", ev)
	}
	// The same policy again: nothing changes, no row.
	before = h.state(f.owner, f.org)
	_, hd, err = h.s.SetOrgPolicy(h.ctx, f.owner.tok, f.org, store.OrgPolicy{OfflineGrace: 8 * time.Hour})
	wantErr(t, err, nil, "the same policy again")
	if hd != (store.AuditHead{}) {
		t.Fatalf("a no-op returned head %+v", hd)
	}
	h.unchanged(before, f.owner, f.org, "a no-op policy change")

	// Every read of the org carries it, and so does the gate's grant.
	got, _, err := h.s.GetOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "GetOrg")
	_, ao, _, err := h.s.AuthorizeOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "AuthorizeOrg")
	orgs, err := h.s.ListOrgs(h.ctx, f.member.tok)
	wantErr(t, err, nil, "ListOrgs")
	if got.OfflineGrace != 8*time.Hour || ao.OfflineGrace != 8*time.Hour || len(orgs) != 1 || orgs[0].Org.OfflineGrace != 8*time.Hour {
		t.Fatalf("reads of the org: %v %v %+v", got.OfflineGrace, ao.OfflineGrace, orgs)
	}
	g, err := h.s.CoDecrypt(h.ctx, f.member.tok, f.org, nil)
	wantErr(t, err, nil, "CoDecrypt")
	if g.OfflineGrace != 8*time.Hour {
		t.Fatalf("co-decrypt grant carries offline grace %v, want 8h", g.OfflineGrace)
	}
	g, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, nil, "AuthorizeCoDecrypt")
	if g.OfflineGrace != 8*time.Hour {
		t.Fatalf("AuthorizeCoDecrypt grant carries offline grace %v, want 8h", g.OfflineGrace)
	}

	// The bound itself is allowed; off again is 0.
	_, _, err = h.s.SetOrgPolicy(h.ctx, f.owner.tok, f.org, store.OrgPolicy{OfflineGrace: store.MaxOfflineGrace})
	wantErr(t, err, nil, "7 days")
	org, _, err = h.s.SetOrgPolicy(h.ctx, f.owner.tok, f.org, store.OrgPolicy{})
	wantErr(t, err, nil, "off")
	if ev := h.lastAudit(f.owner, f.org); org.OfflineGrace != 0 || ev.Target != f.org+" offline_grace=0" {
		t.Fatalf("off: %+v, audit %+v", org, ev)
	}
	g, err = h.s.CoDecrypt(h.ctx, f.member.tok, f.org, nil)
	wantErr(t, err, nil, "CoDecrypt")
	if g.OfflineGrace != 0 {
		t.Fatalf("co-decrypt grant carries offline grace %v after off", g.OfflineGrace)
	}
}

func testKick(t *testing.T, h *h) {
	f := h.setup()
	// The victim joins by an invite they redeem but never wrap: it stays
	// pending, addressed to them and created by someone else.
	victimAddr := email("victim")
	joinInv := h.invite(f.admin, f.org, victimAddr, store.InviteMember, store.RoleMember)
	victim := h.login(victimAddr)
	_, err := h.s.Redeem(h.ctx, victim.tok, joinInv.ID, nil)
	wantErr(t, err, nil, "Redeem")
	invByVictim := h.invite(victim, f.org, victim.Email, store.InviteDevice, "")
	othersInv := h.invite(f.admin, f.org, email("unrelated"), store.InviteMember, store.RoleMember)
	// Promote so the victim can invite and mint a deploy token.
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, victim.ID, store.RoleAdmin)
	wantErr(t, err, nil, "promote victim")
	pendingByVictim := h.invite(victim, f.org, email("victims-friend"), store.InviteMember, store.RoleMember)
	depByVictim, _ := h.deploy(victim, f.env)
	depByAdmin, _ := h.deploy(f.admin, f.env)

	res, err := h.s.Kick(h.ctx, f.admin.tok, f.org, victim.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	if res.Member.Status != store.StatusRevoked || res.Member.RevokedAt.IsZero() || res.Member.UserID != victim.ID {
		t.Fatalf("kicked membership %+v", res.Member)
	}
	wantInv := sortedIDs([]string{joinInv.ID, invByVictim.ID, pendingByVictim.ID})
	if got := sortedIDs(res.RevokedInvites); strings.Join(got, ",") != strings.Join(wantInv, ",") {
		t.Fatalf("revoked invites %v, want %v", got, wantInv)
	}
	if len(res.RevokedDeploys) != 1 || res.RevokedDeploys[0] != depByVictim.ID {
		t.Fatalf("revoked deploys %v, want [%s]", res.RevokedDeploys, depByVictim.ID)
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionKick || ev.Actor != f.admin.ID || ev.Target != victim.ID+" invites=3 deploys=1 kept=0" || ev.Seq != res.Audit.Seq {
		t.Fatalf("kick audit %+v", ev)
	}

	// The membership is kept, revoked.
	ms, _ := h.s.ListMembers(h.ctx, f.owner.tok, f.org)
	found := false
	for _, m := range ms {
		if m.UserID == victim.ID {
			found = m.Status == store.StatusRevoked
		}
	}
	if !found {
		t.Fatal("kicked membership is not listed as revoked")
	}
	// Invites and deploys: the victim's are revoked, others' untouched.
	invs, _ := h.s.ListInvites(h.ctx, f.owner.tok, f.org)
	for _, i := range invs {
		revoked := !i.RevokedAt.IsZero()
		switch i.ID {
		case joinInv.ID, invByVictim.ID, pendingByVictim.ID:
			if !revoked {
				t.Errorf("invite %s of the victim still pending", i.ID)
			}
		case othersInv.ID:
			if revoked {
				t.Errorf("unrelated invite %s revoked", i.ID)
			}
		}
	}
	deps, _ := h.s.ListDeploys(h.ctx, f.owner.tok, f.org)
	for _, d := range deps {
		if d.ID == depByAdmin.ID && !d.RevokedAt.IsZero() {
			t.Error("another admin's deploy token was revoked")
		}
		if d.ID == depByVictim.ID && d.RevokedAt.IsZero() {
			t.Error("the victim's deploy token was not revoked")
		}
	}
	// The victim is shut out of everything.
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, victim.tok, f.org, victim.ID)
	wantErr(t, err, store.ErrRevoked, "co-decrypt after kick")
	_, err = h.s.GetHead(h.ctx, victim.tok, f.env.ID)
	wantErr(t, err, store.ErrRevoked, "GetHead after kick")
	_, _, err = h.s.Push(h.ctx, victim.tok, f.env.ID, h.next(f.owner, f.env.ID))
	wantErr(t, err, store.ErrRevoked, "Push after kick")
	_, _, err = h.s.CreateInvite(h.ctx, victim.tok, store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: f.org, Email: victim.Email,
		Kind: store.InviteDevice, ExpiresAt: h.clock.Now().Add(1e12), Blob: []byte{1}})
	wantErr(t, err, store.ErrRevoked, "device invite after kick")
	_, err = h.s.Redeem(h.ctx, victim.tok, invByVictim.ID, nil)
	wantErr(t, err, store.ErrRevoked, "redeem a device invite after kick")
	orgs, _ := h.s.ListOrgs(h.ctx, victim.tok)
	if len(orgs) != 0 {
		t.Fatalf("kicked member still lists %+v", orgs)
	}
	// Kicking again repeats the cascade (nothing left to revoke) and
	// writes a row; the membership keeps its first revocation time.
	again, err := h.s.Kick(h.ctx, f.admin.tok, f.org, victim.ID, store.KickOptions{})
	wantErr(t, err, nil, "kicking twice")
	if again.Member.Status != store.StatusRevoked || !again.Member.RevokedAt.Equal(res.Member.RevokedAt) ||
		len(again.RevokedInvites)+len(again.RevokedDeploys) != 0 || again.Audit.Seq <= res.Audit.Seq {
		t.Fatalf("second kick %+v", again)
	}
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, ident.NewID(ident.User), store.KickOptions{})
	wantErr(t, err, store.ErrNotFound, "kicking a non-member")

	// Re-invited by an admin, the member comes back with the new role.
	back := h.invite(f.admin, f.org, victim.Email, store.InviteMember, store.RoleMember)
	r, err := h.s.Redeem(h.ctx, victim.tok, back.ID, nil)
	wantErr(t, err, nil, "redeem a new invite after kick")
	if r.Member.Status != store.StatusActive || r.Member.Role != store.RoleMember || !r.Member.RevokedAt.IsZero() {
		t.Fatalf("re-invited membership %+v", r.Member)
	}
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, victim.tok, f.org, victim.ID)
	wantErr(t, err, nil, "co-decrypt after re-invite")
}

func testKickKeepDeploys(t *testing.T, h *h) {
	f := h.setup()
	dep, _ := h.deploy(f.admin, f.env)
	res, err := h.s.Kick(h.ctx, f.owner.tok, f.org, f.admin.ID, store.KickOptions{KeepDeploys: true})
	wantErr(t, err, nil, "Kick keeping deploys")
	if len(res.RevokedDeploys) != 0 {
		t.Fatalf("revoked %v despite KeepDeploys", res.RevokedDeploys)
	}
	deps, _ := h.s.ListDeploys(h.ctx, f.owner.tok, f.org)
	if len(deps) != 1 || deps[0].ID != dep.ID || !deps[0].RevokedAt.IsZero() {
		t.Fatalf("deploys %+v", deps)
	}
}

func testKickRules(t *testing.T, h *h) {
	f := h.setup()
	other := h.addMember(f.org, f.owner, store.RoleMember)
	before := h.state(f.owner, f.org)
	_, err := h.s.Kick(h.ctx, f.member.tok, f.org, other.ID, store.KickOptions{})
	wantErr(t, err, store.ErrForbidden, "member kicking")
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, f.owner.ID, store.KickOptions{})
	wantErr(t, err, store.ErrForbidden, "admin kicking an owner")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.owner.ID, store.KickOptions{})
	wantErr(t, err, store.ErrLastOwner, "kicking the last owner")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, ident.NewID(ident.User), store.KickOptions{})
	wantErr(t, err, store.ErrNotFound, "kicking a non-member")
	stranger := h.login(email("stranger"))
	_, err = h.s.Kick(h.ctx, stranger.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, store.ErrNotMember, "stranger kicking")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, "usr_x", store.KickOptions{})
	wantErr(t, err, store.ErrInvalid, "bad user id")
	h.unchanged(before, f.owner, f.org, "refused kicks")

	// An owner may kick another owner, but not the last one.
	_, _, err = h.s.SetRole(h.ctx, f.owner.tok, f.org, f.admin.ID, store.RoleOwner)
	wantErr(t, err, nil, "second owner")
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, f.owner.ID, store.KickOptions{})
	wantErr(t, err, nil, "owner kicks owner")
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, f.admin.ID, store.KickOptions{})
	wantErr(t, err, store.ErrLastOwner, "the remaining owner kicking themself")
	// A kicked admin cannot kick.
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, store.ErrRevoked, "kicked owner kicking")
}

func testCoDecrypt(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	g, err := h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, nil, "AuthorizeCoDecrypt")
	if g.UserID != f.member.ID || g.Email != f.member.Email || g.Role != store.RoleMember || g.Audit.Seq != before.Audit.Seq+1 {
		t.Fatalf("grant %+v", g)
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionCoDecrypt || ev.Actor != f.member.ID || ev.Target != f.member.ID || ev.Result != store.ResultOK || ev.Hash != g.Audit.Hash {
		t.Fatalf("co-decrypt audit %+v (grant %+v)", ev, g.Audit)
	}

	// Refusals that leave no trace.
	before = h.state(f.owner, f.org)
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.admin.ID)
	wantErr(t, err, store.ErrForbidden, "co-decrypt of someone else's key.enc")
	stranger := h.login(email("stranger"))
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, stranger.tok, f.org, stranger.ID)
	wantErr(t, err, store.ErrNotMember, "co-decrypt by a stranger")
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, newToken(), f.org, f.member.ID)
	wantErr(t, err, store.ErrUnauthenticated, "co-decrypt without a session")
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, "org_x", f.member.ID)
	wantErr(t, err, store.ErrInvalid, "bad org id")
	h.unchanged(before, f.owner, f.org, "refused co-decrypts")

	// A revoked member's attempt is audited, and that is all it changes.
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	before = h.state(f.owner, f.org)
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrRevoked, "co-decrypt by a kicked member")
	h.unchangedButAudit(before, f.owner, f.org, "a kicked member's co-decrypt", f.member.ID, store.ActionCoDecrypt, store.ResultDenied)
}

func testWrap(t *testing.T, h *h) {
	f := h.setup()
	// Works without an invite (init, recover).
	g, err := h.s.Wrap(h.ctx, f.owner.tok, f.org, f.owner.ID)
	wantErr(t, err, nil, "Wrap by owner")
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionWrap || ev.Seq != g.Audit.Seq || ev.Actor != f.owner.ID {
		t.Fatalf("wrap audit %+v", ev)
	}
	// Consumes only redeemed invites addressed to the caller.
	dev := h.invite(f.member, f.org, f.member.Email, store.InviteDevice, "")
	unredeemed := h.invite(f.member, f.org, f.member.Email, store.InviteDevice, "")
	_, err = h.s.Redeem(h.ctx, f.member.tok, dev.ID, nil)
	wantErr(t, err, nil, "Redeem device invite")
	_, err = h.s.Wrap(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, nil, "Wrap")
	invs, _ := h.s.ListInvites(h.ctx, f.owner.tok, f.org)
	for _, i := range invs {
		switch i.ID {
		case dev.ID:
			if i.ConsumedAt.IsZero() {
				t.Error("redeemed invite not consumed by wrap")
			}
		case unredeemed.ID:
			if !i.ConsumedAt.IsZero() {
				t.Error("unredeemed invite consumed")
			}
		}
	}
	_, err = h.s.Redeem(h.ctx, f.member.tok, dev.ID, nil)
	wantErr(t, err, store.ErrConsumed, "redeem after wrap")

	before := h.state(f.owner, f.org)
	_, err = h.s.Wrap(h.ctx, f.member.tok, f.org, f.admin.ID)
	wantErr(t, err, store.ErrForbidden, "wrap for someone else")
	stranger := h.login(email("stranger"))
	_, err = h.s.Wrap(h.ctx, stranger.tok, f.org, stranger.ID)
	wantErr(t, err, store.ErrNotMember, "wrap by a stranger")
	h.unchanged(before, f.owner, f.org, "refused wraps")
	_, err = h.s.Kick(h.ctx, f.owner.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	before = h.state(f.owner, f.org)
	_, err = h.s.Wrap(h.ctx, f.member.tok, f.org, f.member.ID)
	wantErr(t, err, store.ErrRevoked, "wrap by a kicked member")
	h.unchanged(before, f.owner, f.org, "a kicked member's wrap")
}

// testAuthorizeOrg: the one-statement session + membership check that runs
// before every org route.
func testAuthorizeOrg(t *testing.T, h *h) {
	f := h.setup()
	sess, org, m, err := h.s.AuthorizeOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "AuthorizeOrg by a member")
	if sess.UserID != f.member.ID || sess.Email != f.member.Email || org.ID != f.org || org.KeyCheck == "" ||
		m.UserID != f.member.ID || m.OrgID != f.org || m.Role != store.RoleMember || m.Status != store.StatusActive || m.Email != f.member.Email {
		t.Fatalf("AuthorizeOrg: %+v %+v %+v", sess, org, m)
	}
	want, _, err := h.s.GetOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "GetOrg")
	if !org.CreatedAt.Equal(want.CreatedAt) || org.Name != want.Name || org.CreatedBy != f.owner.ID {
		t.Fatalf("AuthorizeOrg org %+v, GetOrg %+v", org, want)
	}

	stranger := h.login(email("stranger"))
	sess, _, _, err = h.s.AuthorizeOrg(h.ctx, stranger.tok, f.org)
	wantErr(t, err, store.ErrNotMember, "AuthorizeOrg by a stranger")
	if sess.UserID != stranger.ID {
		t.Fatalf("a stranger's valid session is not returned with the refusal: %+v", sess)
	}
	_, _, _, err = h.s.AuthorizeOrg(h.ctx, f.member.tok, ident.NewID(ident.Org))
	wantErr(t, err, store.ErrNotMember, "AuthorizeOrg of an org that does not exist")
	_, _, _, err = h.s.AuthorizeOrg(h.ctx, newToken(), f.org)
	wantErr(t, err, store.ErrUnauthenticated, "AuthorizeOrg without a session")
	_, _, _, err = h.s.AuthorizeOrg(h.ctx, f.member.tok, "org_bad")
	wantErr(t, err, store.ErrInvalid, "AuthorizeOrg with a bad org id")

	kicked := h.addMember(f.org, f.admin, store.RoleMember)
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, kicked.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	sess, _, _, err = h.s.AuthorizeOrg(h.ctx, kicked.tok, f.org)
	wantErr(t, err, store.ErrRevoked, "AuthorizeOrg by a kicked member")
	if sess.UserID != kicked.ID {
		t.Fatalf("a kicked member's session is not returned with the refusal: %+v", sess)
	}

	// Use is recorded like LookupSession's; an idle session is over.
	before, _, _, _ := h.s.AuthorizeOrg(h.ctx, f.member.tok, f.org)
	h.clock.Advance(store.DefaultSessionTouch + time.Second)
	touched, _, _, err := h.s.AuthorizeOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "AuthorizeOrg after SessionTouch")
	again, err := h.s.LookupSession(h.ctx, f.member.tok)
	wantErr(t, err, nil, "LookupSession")
	if !touched.LastSeenAt.After(before.LastSeenAt) || !again.LastSeenAt.Equal(touched.LastSeenAt) {
		t.Fatalf("use not recorded: %v, %v, %v", before.LastSeenAt, touched.LastSeenAt, again.LastSeenAt)
	}
	h.clock.Advance(store.DefaultSessionIdle + time.Second)
	_, _, _, err = h.s.AuthorizeOrg(h.ctx, f.member.tok, f.org)
	wantErr(t, err, store.ErrUnauthenticated, "AuthorizeOrg with an idle-expired session")
}
