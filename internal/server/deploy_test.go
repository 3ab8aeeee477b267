package server

import (
	"bytes"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
)

// minted is a deploy token with the secrets its minting client kept.
type minted struct {
	*api.Deploy
	authKey []byte
	inner   []byte
}

// mint creates a deploy token for the world's environment at epoch.
func (e *env) mint(w *world, by *user, epoch uint32) minted {
	e.t.Helper()
	e.clock.Advance(time.Second) // distinct creation times keep list orders fixed
	ak, inner := randBytes(32), sealed()
	d, err := by.MintDeploy(e.ctx, w.org, api.MintDeployRequest{Env: w.env, Epoch: epoch, Name: "prod-ci", Verifier: verifierOf(ak), Inner: inner})
	if err != nil {
		e.t.Fatalf("MintDeploy: %v", err)
	}
	return minted{d, ak, inner}
}

func TestDeploys(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		head := e.push(w, w.member)
		before := e.snapshot(w)
		ak := randBytes(32)
		req := api.MintDeployRequest{Env: w.env, Epoch: 1, Name: "prod-ci", Verifier: verifierOf(ak), Inner: sealed()}
		_, err := w.member.MintDeploy(e.ctx, w.org, req)
		wantProblem(t, err, api.PForbidden, "mint by a plain member")
		// A forbidden answer names the role needed (issue 15 §4).
		if p := client.ProblemOf(err); p == nil || p.Detail != "this needs the admin role or higher; you are member" {
			t.Fatalf("forbidden detail of %v", err)
		}
		bad := req
		bad.Epoch = 2
		_, err = w.admin.MintDeploy(e.ctx, w.org, bad)
		wantProblem(t, err, api.PEpochMismatch, "mint at another epoch")
		bad = req
		bad.Env = ident.NewID(ident.Env)
		_, err = w.admin.MintDeploy(e.ctx, w.org, bad)
		wantProblem(t, err, api.PNotFound, "mint for an unknown env")
		bad = req
		bad.Verifier = "ABC"
		_, err = w.admin.MintDeploy(e.ctx, w.org, bad)
		wantProblem(t, err, api.PInvalidField, "bad verifier")
		_, err = w.member.Deploys(e.ctx, w.org, "", "", "", "", 0)
		wantProblem(t, err, api.PForbidden, "list by a plain member")
		e.unchanged(w, before, "refused mints")

		d := e.mint(w, w.admin, 1)
		if ident.CheckID(ident.Deploy, d.ID) != nil || d.Status != "active" || d.Env != w.env || d.Project != w.project ||
			!d.ExpiresAt.Equal(e.clock.Now().Add(365*24*time.Hour)) || d.CreatedBy.ID != w.admin.ID || d.LastUsedAt != nil {
			t.Fatalf("deploy %+v", d)
		}
		if last := e.lastAudit(w); last.Action != "deploy-mint" || last.Target != d.ID+" env="+w.env+" epoch=1" {
			t.Fatalf("mint audit %+v", last)
		}
		res := must(e.anon.DeployDecrypt(e.ctx, d.ID, d.authKey))
		if !bytes.Equal(res.Inner, d.inner) || res.Org != w.org || res.Project != w.project || res.Env.ID != w.env ||
			res.Env.Epoch != 1 || res.Head == nil || res.Head.ID != head.Blob.ID || res.Head.Text == "" {
			t.Fatalf("deploy decrypt %+v", res)
		}
		if last := e.lastAudit(w); last.Action != "deploy-decrypt" || last.Actor != d.ID || last.Result != "ok" ||
			last.Target != d.ID+" env="+w.env+" epoch=1" {
			t.Fatalf("decrypt audit %+v", last)
		}
		list := must(w.admin.Deploys(e.ctx, w.org, w.env, w.admin.ID, "", "", 0))
		if len(list.Items) != 1 || list.Items[0].LastUsedAt == nil {
			t.Fatalf("deploys %+v", list)
		}
		if l := must(w.admin.Deploys(e.ctx, w.org, "", w.owner.ID, "", "", 0)); len(l.Items) != 0 {
			t.Fatalf("filter by creator %+v", l)
		}

		// A wrong key and an unknown token: deploy-denied, no trace.
		before = e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, d.ID, randBytes(32))
		wantProblem(t, err, api.PDeployDenied, "wrong auth key")
		_, err = e.anon.DeployDecrypt(e.ctx, ident.NewID(ident.Deploy), d.authKey)
		wantProblem(t, err, api.PDeployDenied, "unknown token")
		_, err = e.anon.DeployDecrypt(e.ctx, d.ID, randBytes(31))
		wantProblem(t, err, api.PInvalidField, "short auth key")
		e.unchanged(w, before, "denied deploy decrypts")

		// Revoked by hand: deploy-revoked, and one denied row.
		r := e.mint(w, w.admin, 1)
		got := must(w.admin.RevokeDeploy(e.ctx, w.org, r.ID))
		if got.Status != "revoked" || *got.RevokedReason != "manual" {
			t.Fatalf("revoked %+v", got)
		}
		must(w.admin.RevokeDeploy(e.ctx, w.org, r.ID)) // idempotent
		before = e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, r.ID, r.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after revoke")
		if last := e.lastAudit(w); last.Action != "deploy-decrypt" || last.Result != "denied" || last.Actor != r.ID {
			t.Fatalf("denied row %+v", last)
		}
		mid := e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, r.ID, r.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after revoke, again")
		e.unchanged(w, mid, "a throttled refusal")
		if mid == before {
			t.Fatal("no denied row")
		}

		// Expired.
		ak = randBytes(32)
		ttl := int64(300)
		e.clock.Advance(time.Second)
		x := must(w.admin.MintDeploy(e.ctx, w.org, api.MintDeployRequest{Env: w.env, Epoch: 1, Name: "short", TTLSeconds: &ttl, Verifier: verifierOf(ak), Inner: sealed()}))
		e.clock.Advance(301 * time.Second)
		_, err = e.anon.DeployDecrypt(e.ctx, x.ID, ak)
		wantProblem(t, err, api.PDeployExpired, "after expiry")
		if last := e.lastAudit(w); last.Action != "deploy-decrypt" || last.Result != "denied" || last.Actor != x.ID {
			t.Fatalf("denied row %+v", last)
		}
		before = e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, x.ID, ak)
		wantProblem(t, err, api.PDeployExpired, "after expiry, again")
		e.unchanged(w, before, "a throttled refusal")
		if l := must(w.admin.Deploys(e.ctx, w.org, "", "", "all", "", 0)); l.Items[0].ID != x.ID || l.Items[0].Status != "expired" {
			t.Fatalf("expired deploy listed as %+v", l.Items[0])
		}

		// Its minter kicked: revoked with the kick (unless kept).
		e.clock.Advance(time.Second)
		kept := e.mint(w, w.admin, 1)
		k := must(w.owner.Kick(e.ctx, w.org, w.admin.ID, true))
		if len(k.KeptDeploys) != 2 || len(k.RevokedDeploys) != 0 {
			t.Fatalf("kick keeping deploys %+v", k)
		}
		must(e.anon.DeployDecrypt(e.ctx, kept.ID, kept.authKey))
		k = must(w.owner.Kick(e.ctx, w.org, w.admin.ID, false))
		if len(k.RevokedDeploys) != 2 {
			t.Fatalf("second kick %+v", k)
		}
		_, err = e.anon.DeployDecrypt(e.ctx, kept.ID, kept.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after its minter is kicked")
		if last := e.lastAudit(w); last.Action != "deploy-decrypt" || last.Result != "denied" || last.Actor != kept.ID {
			t.Fatalf("denied row %+v", last)
		}
		before = e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, kept.ID, kept.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after its minter is kicked, again")
		e.unchanged(w, before, "a throttled refusal")
		if l := must(w.owner.Deploys(e.ctx, w.org, "", "", "", "", 0)); len(l.Items) != 0 {
			t.Fatalf("active deploys after the kick %+v", l)
		}
		// Revoking through another org is not-found.
		stranger := e.login(addr("stranger"))
		other := ident.NewID(ident.Org)
		must(stranger.CreateOrg(e.ctx, api.CreateOrgRequest{ID: other, Name: "Other", KeyCheck: "00000000000000000000000000000000"}))
		_, err = stranger.RevokeDeploy(e.ctx, other, kept.ID)
		wantProblem(t, err, api.PNotFound, "revoke through another org")
	})
}

func TestDeployAfterRotate(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e.push(w, w.member)
		d := e.mint(w, w.admin, 1)
		cur := must(w.member.Env(e.ctx, w.org, w.project, w.env))
		must(w.owner.Rotate(e.ctx, w.org, w.project, w.env, api.RotateRequest{
			Epoch: 2, SigningPublicKey: randBytes(32), Text: w.blob(t, 2, 2, cur.Head.ID, nil),
		}))
		_, err := e.anon.DeployDecrypt(e.ctx, d.ID, d.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after env rotate")
		before := e.snapshot(w)
		_, err = e.anon.DeployDecrypt(e.ctx, d.ID, d.authKey)
		wantProblem(t, err, api.PDeployRevoked, "after env rotate, again")
		e.unchanged(w, before, "a throttled refusal")
		d2 := e.mint(w, w.admin, 2)
		res := must(e.anon.DeployDecrypt(e.ctx, d2.ID, d2.authKey))
		if res.Env.Epoch != 2 || res.Head.Version != 2 {
			t.Fatalf("decrypt at epoch 2 %+v", res)
		}
	})
}
