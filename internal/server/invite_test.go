package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
)

func TestInvites(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		bobEmail := addr("bob")
		role := api.RoleMember
		inner := sealed()
		before := e.snapshot(w)
		// A plain member cannot invite a member.
		_, err := w.member.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: bobEmail, Role: &role, Inner: inner})
		wantProblem(t, err, api.PForbidden, "member invite by a plain member")
		if p := client.ProblemOf(err); p == nil || p.Detail != "this needs the admin role or higher; you are member" {
			t.Fatalf("forbidden detail of %v", err)
		}
		// An admin cannot grant owner.
		owner := api.RoleOwner
		_, err = w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: bobEmail, Role: &owner, Inner: inner})
		wantProblem(t, err, api.PForbidden, "admin inviting an owner")
		if p := client.ProblemOf(err); p == nil || p.Detail != "inviting an owner needs the owner role; you are admin" {
			t.Fatalf("forbidden detail of %v", err)
		}
		// Device invites are for one's own address.
		_, err = w.member.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "device", Email: w.admin.Email, Inner: inner})
		wantProblem(t, err, api.PForbidden, "device invite for someone else")
		_, err = w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "device", Email: w.admin.Email, Role: &role, Inner: inner})
		wantProblem(t, err, api.PInvalidField, "device invite with a role")
		_, err = w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: w.member.Email, Role: &role, Inner: inner})
		wantProblem(t, err, api.PAlreadyMember, "invite an active member")
		ttl := int64(60)
		_, err = w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: bobEmail, Role: &role, TTLSeconds: &ttl, Inner: inner})
		wantProblem(t, err, api.PInvalidField, "ttl too short")
		e.unchanged(w, before, "refused invites")

		inv := must(w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: bobEmail, Role: &role, Inner: inner}))
		if ident.CheckID(ident.Invite, inv.ID) != nil || inv.Status != "pending" || inv.Email != bobEmail || *inv.Role != role ||
			inv.CreatedBy.ID != w.admin.ID || !inv.ExpiresAt.Equal(e.clock.Now().Add(7*24*time.Hour)) {
			t.Fatalf("invite %+v", inv)
		}
		last := e.lastAudit(w)
		if last.Action != "invite" || last.Target != inv.ID+" kind=member email="+bobEmail+" role=member" {
			t.Fatalf("invite audit %+v", last)
		}
		// The stored blob is outer-wrapped with purpose invite, subject = id.
		e.clock.Advance(time.Second)
		dev := must(w.member.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "device", Email: w.member.Email, Inner: sealed()}))
		if dev.Role != nil || dev.Kind != "device" {
			t.Fatalf("device invite %+v", dev)
		}
		// Listing: admins see all, members their own.
		all := must(w.admin.Invites(e.ctx, w.org, "", "", 0))
		mine := must(w.member.Invites(e.ctx, w.org, "", "", 0))
		if len(all.Items) != 2 || len(mine.Items) != 1 || mine.Items[0].ID != dev.ID || all.Items[0].ID != dev.ID {
			t.Fatalf("lists %+v / %+v", all, mine)
		}
		// A plain member cannot revoke someone else's invite (not-found).
		_, err = w.member.RevokeInvite(e.ctx, w.org, inv.ID)
		wantProblem(t, err, api.PNotFound, "member revoking an admin's invite")

		// Redeem as another e-mail: refused, nothing changes.
		mallory := e.login(addr("mallory"))
		before = e.snapshot(w)
		_, err = mallory.Redeem(e.ctx, inv.ID)
		wantProblem(t, err, api.PInviteEmailMismatch, "redeem as another e-mail")
		_, err = mallory.Redeem(e.ctx, ident.NewID(ident.Invite))
		wantProblem(t, err, api.PNotFound, "unknown invite")
		e.unchanged(w, before, "refused redeems")

		bob := e.login(bobEmail)
		r := must(bob.Redeem(e.ctx, inv.ID))
		if !bytes.Equal(r.Inner, inner) || r.Org.ID != w.org || r.Org.Role != api.RoleMember || r.Invite.Status != "redeemed" {
			t.Fatalf("redeem %+v", r)
		}
		if last := e.lastAudit(w); last.Action != "redeem" || last.Target != inv.ID+" kind=member" || last.Actor != bob.ID {
			t.Fatalf("redeem audit %+v", last)
		}
		// Repeatable until the wrap consumes it.
		must(bob.Redeem(e.ctx, inv.ID))
		must(bob.Wrap(e.ctx, w.org, sealed()))
		if last := e.lastAudit(w); last.Action != "wrap" || last.Target != bob.ID+" consumed="+inv.ID {
			t.Fatalf("wrap audit %+v", last)
		}
		before = e.snapshot(w)
		_, err = bob.Redeem(e.ctx, inv.ID)
		wantProblem(t, err, api.PInviteConsumed, "after consumption")
		e.unchanged(w, before, "redeem of a consumed invite")
		// Revoking a consumed invite returns it unchanged.
		got := must(w.admin.RevokeInvite(e.ctx, w.org, inv.ID))
		if got.Status != "consumed" || got.RevokedAt != nil {
			t.Fatalf("revoke consumed %+v", got)
		}
		e.unchanged(w, before, "revoking a consumed invite")

		// Expired.
		carolEmail := addr("carol")
		ttl = 600
		e.clock.Advance(time.Second)
		exp := must(w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: carolEmail, Role: &role, TTLSeconds: &ttl, Inner: sealed()}))
		carol := e.login(carolEmail)
		e.clock.Advance(601 * time.Second)
		before = e.snapshot(w)
		_, err = carol.Redeem(e.ctx, exp.ID)
		wantProblem(t, err, api.PInviteExpired, "after expiry")
		e.unchanged(w, before, "redeem of an expired invite")
		if list := must(w.admin.Invites(e.ctx, w.org, "all", "", 0)); list.Items[0].Status != "expired" {
			t.Fatalf("expired invite listed as %+v", list.Items[0])
		}

		// Revoked.
		rev := must(w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: carolEmail, Role: &role, Inner: sealed()}))
		got = must(w.admin.RevokeInvite(e.ctx, w.org, rev.ID))
		if got.Status != "revoked" || got.RevokedReason == nil || *got.RevokedReason != "manual" {
			t.Fatalf("revoked %+v", got)
		}
		before = e.snapshot(w)
		must(w.admin.RevokeInvite(e.ctx, w.org, rev.ID)) // idempotent
		_, err = carol.Redeem(e.ctx, rev.ID)
		wantProblem(t, err, api.PInviteRevoked, "after revoke")
		e.unchanged(w, before, "a revoked redeem and a second revoke")

		// An invite whose creator is then kicked no longer redeems.
		byAdmin := must(w.admin.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: carolEmail, Role: &role, Inner: sealed()}))
		k := must(w.owner.Kick(e.ctx, w.org, w.admin.ID, false))
		if len(k.RevokedInvites) != 1 || k.RevokedInvites[0] != byAdmin.ID {
			t.Fatalf("kick revoked %v", k.RevokedInvites)
		}
		before = e.snapshot(w)
		_, err = carol.Redeem(e.ctx, byAdmin.ID)
		wantProblem(t, err, api.PInviteRevoked, "invite of a kicked creator")
		e.unchanged(w, before, "redeem of a kicked creator's invite")
		if _, err := carol.Org(e.ctx, w.org); err == nil {
			t.Fatal("a refused redeem made a membership")
		}

		// Device invite: the member's new laptop redeems it.
		laptop := e.login(w.member.Email)
		r = must(laptop.Redeem(e.ctx, dev.ID))
		if r.Org.Role != api.RoleMember {
			t.Fatalf("device redeem %+v", r)
		}
	})
}
