package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"InviteAndRedeem", testInviteRedeem},
		test{"InviteRoles", testInviteRoles},
		test{"InviteInput", testInviteInput},
		test{"RedeemRefusals", testRedeemRefusals},
		test{"DeviceInvite", testDeviceInvite},
		test{"RevokeInvite", testRevokeInvite},
		test{"ListInvites", testListInvites},
	)
}

func (h *h) newInvite(by who, orgID, addr string, kind store.InviteKind, role store.Role, ttl time.Duration) (store.NewInvite, store.Invite, error) {
	in := store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: orgID, Email: addr, Kind: kind, Role: role,
		ExpiresAt: h.clock.Now().Add(ttl), Blob: randBytes(90)}
	inv, _, err := h.s.CreateInvite(h.ctx, by.tok, in)
	return in, inv, err
}

func testInviteRedeem(t *testing.T, h *h) {
	f := h.setup()
	addr := email("bob")
	in, inv, err := h.newInvite(f.admin, f.org, addr, store.InviteMember, store.RoleMember, 7*24*time.Hour)
	wantErr(t, err, nil, "CreateInvite")
	if inv.ID != in.ID || inv.CreatedBy != f.admin.ID || inv.Email != addr || inv.Role != store.RoleMember || !inv.Pending() ||
		!inv.RedeemedAt.IsZero() || !inv.ExpiresAt.Equal(in.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("invite %+v", inv)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionInvite || ev.Target != inv.ID+" kind=member email="+addr+" role=member" || ev.Actor != f.admin.ID {
		t.Fatalf("invite audit %+v", ev)
	}
	bob := h.login(addr)
	r, err := h.s.Redeem(h.ctx, bob.tok, inv.ID, nil)
	wantErr(t, err, nil, "Redeem")
	if !bytes.Equal(r.Blob, in.Blob) || r.Member.Status != store.StatusActive || r.Member.Role != store.RoleMember ||
		r.Member.UserID != bob.ID || r.Invite.RedeemedAt.IsZero() {
		t.Fatalf("redemption %+v", r)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionRedeem || ev.Target != inv.ID+" kind=member" || ev.Actor != bob.ID || ev.Seq != r.Audit.Seq {
		t.Fatalf("redeem audit %+v", ev)
	}
	// Repeatable (a crash cannot burn it) until the wrap.
	r2, err := h.s.Redeem(h.ctx, bob.tok, inv.ID, nil)
	wantErr(t, err, nil, "Redeem again")
	if !r2.Invite.RedeemedAt.Equal(r.Invite.RedeemedAt) || !bytes.Equal(r2.Blob, in.Blob) {
		t.Fatalf("second redeem %+v", r2)
	}
	_, err = h.s.AuthorizeCoDecrypt(h.ctx, bob.tok, f.org, bob.ID)
	wantErr(t, err, nil, "new member co-decrypts")
	_, err = h.s.Wrap(h.ctx, bob.tok, f.org, bob.ID)
	wantErr(t, err, nil, "Wrap")
	_, err = h.s.Redeem(h.ctx, bob.tok, inv.ID, nil)
	wantErr(t, err, store.ErrConsumed, "Redeem after wrap")
	// An active member is not invited again.
	_, _, err = h.newInvite(f.admin, f.org, addr, store.InviteMember, store.RoleMember, time.Hour)
	wantErr(t, err, store.ErrAlreadyMember, "invite an active member")
	// Two invites for one newcomer: redeeming the lesser one after the
	// greater does not downgrade.
	addr2 := email("two")
	i1 := h.invite(f.owner, f.org, addr2, store.InviteMember, store.RoleAdmin)
	i2 := h.invite(f.owner, f.org, addr2, store.InviteMember, store.RoleMember)
	two := h.login(addr2)
	r, err = h.s.Redeem(h.ctx, two.tok, i1.ID, nil)
	wantErr(t, err, nil, "Redeem admin invite")
	r2, err = h.s.Redeem(h.ctx, two.tok, i2.ID, nil)
	wantErr(t, err, nil, "Redeem member invite")
	if r.Member.Role != store.RoleAdmin || r2.Member.Role != store.RoleAdmin {
		t.Fatalf("roles after two redeems: %s, %s", r.Member.Role, r2.Member.Role)
	}
}

func testInviteRoles(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	_, _, err := h.newInvite(f.member, f.org, email("x"), store.InviteMember, store.RoleMember, time.Hour)
	wantErr(t, err, store.ErrForbidden, "member inviting")
	_, _, err = h.newInvite(f.admin, f.org, email("x"), store.InviteMember, store.RoleOwner, time.Hour)
	wantErr(t, err, store.ErrForbidden, "admin inviting an owner")
	stranger := h.login(email("stranger"))
	_, _, err = h.newInvite(stranger, f.org, email("x"), store.InviteMember, store.RoleMember, time.Hour)
	wantErr(t, err, store.ErrNotMember, "stranger inviting")
	h.unchanged(before, f.owner, f.org, "refused invites")
	_, _, err = h.newInvite(f.admin, f.org, email("x"), store.InviteMember, store.RoleAdmin, time.Hour)
	wantErr(t, err, nil, "admin inviting an admin")
	_, inv, err := h.newInvite(f.owner, f.org, email("x"), store.InviteMember, store.RoleOwner, time.Hour)
	wantErr(t, err, nil, "owner inviting an owner")
	o := h.login(inv.Email)
	r, err := h.s.Redeem(h.ctx, o.tok, inv.ID, nil)
	wantErr(t, err, nil, "Redeem")
	if r.Member.Role != store.RoleOwner {
		t.Fatalf("redeemed role %s", r.Member.Role)
	}
}

func testInviteInput(t *testing.T, h *h) {
	f := h.setup()
	good := func() store.NewInvite {
		return store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: f.org, Email: email("x"), Kind: store.InviteMember,
			Role: store.RoleMember, ExpiresAt: h.clock.Now().Add(time.Hour), Blob: []byte{1, 2, 3}}
	}
	before := h.state(f.owner, f.org)
	for name, mut := range map[string]func(*store.NewInvite){
		"bad id":             func(i *store.NewInvite) { i.ID = "inv_x" },
		"deploy id":          func(i *store.NewInvite) { i.ID = ident.NewID(ident.Deploy) },
		"bad org":            func(i *store.NewInvite) { i.OrgID = "org" },
		"uncanonical e-mail": func(i *store.NewInvite) { i.Email = "Bob@Example.com" },
		"bad e-mail":         func(i *store.NewInvite) { i.Email = "bob" },
		"unknown kind":       func(i *store.NewInvite) { i.Kind = "friend" },
		"unknown role":       func(i *store.NewInvite) { i.Role = "boss" },
		"no role":            func(i *store.NewInvite) { i.Role = "" },
		"device with role":   func(i *store.NewInvite) { i.Kind, i.Email = store.InviteDevice, f.admin.Email },
		"no expiry":          func(i *store.NewInvite) { i.ExpiresAt = time.Time{} },
		"expiry in the past": func(i *store.NewInvite) { i.ExpiresAt = h.clock.Now().Add(-time.Second) },
		"expiry now":         func(i *store.NewInvite) { i.ExpiresAt = h.clock.Now() },
		"empty blob":         func(i *store.NewInvite) { i.Blob = nil },
	} {
		in := good()
		mut(&in)
		_, _, err := h.s.CreateInvite(h.ctx, f.admin.tok, in)
		wantErr(t, err, store.ErrInvalid, name)
	}
	h.unchanged(before, f.owner, f.org, "invalid invites")
	in := good()
	_, _, err := h.s.CreateInvite(h.ctx, f.admin.tok, in)
	wantErr(t, err, nil, "CreateInvite")
	in.Email = email("y")
	_, _, err = h.s.CreateInvite(h.ctx, f.admin.tok, in)
	wantErr(t, err, store.ErrExists, "reused invite id")
}

func testRedeemRefusals(t *testing.T, h *h) {
	f := h.setup()
	addr := email("bob")
	_, inv, err := h.newInvite(f.admin, f.org, addr, store.InviteMember, store.RoleAdmin, time.Hour)
	wantErr(t, err, nil, "CreateInvite")
	bob := h.login(addr)
	mallory := h.login(email("mallory"))
	before := h.state(f.owner, f.org)

	_, err = h.s.Redeem(h.ctx, mallory.tok, inv.ID, nil)
	wantErr(t, err, store.ErrForbidden, "redeem by another e-mail")
	_, err = h.s.Redeem(h.ctx, bob.tok, ident.NewID(ident.Invite), nil)
	wantErr(t, err, store.ErrNotFound, "unknown invite")
	_, err = h.s.Redeem(h.ctx, bob.tok, "inv_bad", nil)
	wantErr(t, err, store.ErrInvalid, "bad invite id")
	_, err = h.s.Redeem(h.ctx, newToken(), inv.ID, nil)
	wantErr(t, err, store.ErrUnauthenticated, "no session")
	h.unchanged(before, f.owner, f.org, "refused redeems")

	// Expired: refused, and no membership is created.
	h.clock.Advance(time.Hour)
	_, err = h.s.Redeem(h.ctx, bob.tok, inv.ID, nil)
	wantErr(t, err, store.ErrExpired, "expired invite")
	h.unchanged(before, f.owner, f.org, "an expired redeem")
	if _, _, err := h.s.GetOrg(h.ctx, bob.tok, f.org); err == nil {
		t.Fatal("an expired invite made a membership")
	}

	// Revoked: refused, no membership.
	_, inv2, err := h.newInvite(f.admin, f.org, addr, store.InviteMember, store.RoleMember, time.Hour)
	wantErr(t, err, nil, "CreateInvite")
	_, _, err = h.s.RevokeInvite(h.ctx, f.admin.tok, f.org, inv2.ID)
	wantErr(t, err, nil, "RevokeInvite")
	before = h.state(f.owner, f.org)
	_, err = h.s.Redeem(h.ctx, bob.tok, inv2.ID, nil)
	wantErr(t, err, store.ErrRevoked, "revoked invite")
	h.unchanged(before, f.owner, f.org, "a revoked redeem")
	_, _, err = h.s.GetOrg(h.ctx, bob.tok, f.org)
	wantErr(t, err, store.ErrNotMember, "no membership from a revoked invite")
}

func testDeviceInvite(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	_, _, err := h.newInvite(f.member, f.org, f.admin.Email, store.InviteDevice, "", time.Hour)
	wantErr(t, err, store.ErrForbidden, "device invite for someone else")
	_, _, err = h.newInvite(f.owner, f.org, f.member.Email, store.InviteDevice, "", time.Hour)
	wantErr(t, err, store.ErrForbidden, "even an owner cannot make a device invite for someone else")
	h.unchanged(before, f.owner, f.org, "refused device invites")

	in, inv, err := h.newInvite(f.member, f.org, f.member.Email, store.InviteDevice, "", time.Hour)
	wantErr(t, err, nil, "device invite for oneself")
	if inv.Kind != store.InviteDevice || inv.Role != "" {
		t.Fatalf("device invite %+v", inv)
	}
	// The new laptop logs in as the same person.
	laptop := h.login(f.member.Email)
	before = h.state(f.owner, f.org)
	r, err := h.s.Redeem(h.ctx, laptop.tok, inv.ID, nil)
	wantErr(t, err, nil, "Redeem on the new device")
	if !bytes.Equal(r.Blob, in.Blob) || r.Member.Role != store.RoleMember {
		t.Fatalf("redemption %+v", r)
	}
	after := h.state(f.owner, f.org)
	if !equalMembers(before.Members, after.Members) {
		t.Fatal("a device redeem changed memberships")
	}
	_, err = h.s.Wrap(h.ctx, laptop.tok, f.org, f.member.ID)
	wantErr(t, err, nil, "Wrap on the new device")
}

func equalMembers(a, b []store.Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testRevokeInvite(t *testing.T, h *h) {
	f := h.setup()
	other := h.addMember(f.org, f.owner, store.RoleMember)
	_, byAdmin, err := h.newInvite(f.admin, f.org, email("a"), store.InviteMember, store.RoleMember, time.Hour)
	wantErr(t, err, nil, "CreateInvite")
	_, byMember, err := h.newInvite(f.member, f.org, f.member.Email, store.InviteDevice, "", time.Hour)
	wantErr(t, err, nil, "CreateInvite")
	stranger := h.login(email("stranger"))

	before := h.state(f.owner, f.org)
	_, _, err = h.s.RevokeInvite(h.ctx, other.tok, f.org, byAdmin.ID)
	wantErr(t, err, store.ErrNotFound, "member revoking someone else's invite")
	_, _, err = h.s.RevokeInvite(h.ctx, stranger.tok, f.org, byAdmin.ID)
	wantErr(t, err, store.ErrNotMember, "stranger revoking")
	strangerOrg := h.newOrg(stranger)
	_, _, err = h.s.RevokeInvite(h.ctx, stranger.tok, strangerOrg, byAdmin.ID)
	wantErr(t, err, store.ErrNotFound, "revoking through another org")
	_, _, err = h.s.RevokeInvite(h.ctx, f.admin.tok, f.org, ident.NewID(ident.Invite))
	wantErr(t, err, store.ErrNotFound, "unknown invite")
	h.unchanged(before, f.owner, f.org, "refused revocations")

	rv, hd, err := h.s.RevokeInvite(h.ctx, f.member.tok, f.org, byMember.ID)
	wantErr(t, err, nil, "creator revokes")
	if rv.RevokedReason != store.ReasonManual || rv.Status(h.clock.Now()) != "revoked" {
		t.Fatalf("revoked invite %+v", rv)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionInviteRevoke || ev.Target != byMember.ID || ev.Seq != hd.Seq {
		t.Fatalf("revoke audit %+v", ev)
	}
	_, _, err = h.s.RevokeInvite(h.ctx, f.owner.tok, f.org, byAdmin.ID)
	wantErr(t, err, nil, "owner revokes an admin's invite")
	before = h.state(f.owner, f.org)
	_, hd, err = h.s.RevokeInvite(h.ctx, f.owner.tok, f.org, byAdmin.ID)
	wantErr(t, err, nil, "revoke twice is idempotent")
	if hd.Seq != 0 {
		t.Fatalf("a repeated revocation wrote row %d", hd.Seq)
	}
	h.unchanged(before, f.owner, f.org, "a repeated revocation")

	// A consumed invite is returned unchanged.
	addr := email("c")
	inv := h.invite(f.admin, f.org, addr, store.InviteMember, store.RoleMember)
	c := h.login(addr)
	_, _ = h.s.Redeem(h.ctx, c.tok, inv.ID, nil)
	_, _ = h.s.Wrap(h.ctx, c.tok, f.org, c.ID)
	before = h.state(f.owner, f.org)
	got, _, err := h.s.RevokeInvite(h.ctx, f.admin.tok, f.org, inv.ID)
	wantErr(t, err, nil, "revoke a consumed invite")
	if got.Status(h.clock.Now()) != "consumed" {
		t.Fatalf("consumed invite after revoke: %+v", got)
	}
	h.unchanged(before, f.owner, f.org, "revoking a consumed invite")
}

func testListInvites(t *testing.T, h *h) {
	f := h.setup()
	a := h.invite(f.admin, f.org, email("a"), store.InviteMember, store.RoleMember)
	d := h.invite(f.member, f.org, f.member.Email, store.InviteDevice, "")
	all, err := h.s.ListInvites(h.ctx, f.admin.tok, f.org)
	wantErr(t, err, nil, "ListInvites by admin")
	ids := map[string]bool{}
	for _, i := range all {
		ids[i.ID] = true
	}
	if !ids[a.ID] || !ids[d.ID] {
		t.Fatalf("admin sees %v", ids)
	}
	mine, err := h.s.ListInvites(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListInvites by member")
	for _, i := range mine {
		if i.CreatedBy != f.member.ID {
			t.Fatalf("member sees someone else's invite %+v", i)
		}
	}
	if len(mine) == 0 {
		t.Fatal("member does not see their own invite")
	}
}
