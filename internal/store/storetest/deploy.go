package storetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"CreateDeploy", testCreateDeploy},
		test{"DeployDecrypt", testDeployDecrypt},
		test{"DeployDecryptRefusals", testDeployDecryptRefusals},
		test{"RevokeDeploy", testRevokeDeploy},
	)
}

func testCreateDeploy(t *testing.T, h *h) {
	f := h.setup()
	ver := sha256.Sum256([]byte("auth key"))
	nd := func() store.NewDeploy {
		return store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "prod-ci", Epoch: 1, Verifier: ver[:],
			ExpiresAt: h.clock.Now().Add(24 * time.Hour), Blob: randBytes(70)}
	}
	before := h.state(f.owner, f.org)
	_, _, err := h.s.CreateDeploy(h.ctx, f.member.tok, nd())
	wantErr(t, err, store.ErrForbidden, "member minting")
	stranger := h.login(email("stranger"))
	_, _, err = h.s.CreateDeploy(h.ctx, stranger.tok, nd())
	wantErr(t, err, store.ErrNotMember, "stranger minting")
	for name, mut := range map[string]func(*store.NewDeploy){
		"wrong epoch":    func(d *store.NewDeploy) { d.Epoch = 2 },
		"unknown env":    func(d *store.NewDeploy) { d.EnvID = ident.NewID(ident.Env) },
		"bad id":         func(d *store.NewDeploy) { d.ID = ident.NewID(ident.Invite) },
		"short verifier": func(d *store.NewDeploy) { d.Verifier = ver[:16] },
		"empty blob":     func(d *store.NewDeploy) { d.Blob = nil },
		"no name":        func(d *store.NewDeploy) { d.Name = "" },
		"past expiry":    func(d *store.NewDeploy) { d.ExpiresAt = h.clock.Now().Add(-time.Minute) },
		"epoch 0":        func(d *store.NewDeploy) { d.Epoch = 0 },
		"other org":      func(d *store.NewDeploy) { d.OrgID = ident.NewID(ident.Org) },
	} {
		d := nd()
		mut(&d)
		_, _, err := h.s.CreateDeploy(h.ctx, f.admin.tok, d)
		want := store.ErrInvalid
		switch name {
		case "wrong epoch":
			want = store.ErrConflict
		case "other org":
			want = store.ErrNotMember
		case "unknown env":
			want = store.ErrNotFound
		}
		wantErr(t, err, want, name)
	}
	h.unchanged(before, f.owner, f.org, "refused mints")

	in := nd()
	d, hd, err := h.s.CreateDeploy(h.ctx, f.admin.tok, in)
	wantErr(t, err, nil, "CreateDeploy")
	if d.ID != in.ID || d.EnvID != f.env.ID || d.OrgID != f.org || d.ProjectID != f.project || d.Epoch != 1 ||
		d.MintedBy != f.admin.ID || d.Name != "prod-ci" || !d.ExpiresAt.Equal(in.ExpiresAt.Truncate(time.Microsecond)) {
		t.Fatalf("deploy %+v", d)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionDeployMint || ev.Target != d.ID+" env="+f.env.ID+" epoch=1" || ev.Seq != hd.Seq {
		t.Fatalf("mint audit %+v", ev)
	}
	_, _, err = h.s.CreateDeploy(h.ctx, f.admin.tok, in)
	wantErr(t, err, store.ErrExists, "reused deploy id")
	// No expiry is allowed.
	noExp := nd()
	noExp.ExpiresAt = time.Time{}
	d2, _, err := h.s.CreateDeploy(h.ctx, f.owner.tok, noExp)
	wantErr(t, err, nil, "deploy without expiry")
	if !d2.ExpiresAt.IsZero() {
		t.Fatalf("expiry %v", d2.ExpiresAt)
	}
	list, err := h.s.ListDeploys(h.ctx, f.admin.tok, f.org)
	wantErr(t, err, nil, "ListDeploys")
	if len(list) != 2 {
		t.Fatalf("%d deploys", len(list))
	}
	_, err = h.s.ListDeploys(h.ctx, f.member.tok, f.org)
	wantErr(t, err, store.ErrForbidden, "member listing deploys")
}

func testDeployDecrypt(t *testing.T, h *h) {
	f := h.setup()
	ver := sha256.Sum256([]byte("the auth key"))
	blobOuter := randBytes(60)
	d, _, err := h.s.CreateDeploy(h.ctx, f.admin.tok, store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "ci",
		Epoch: 1, Verifier: ver[:], Blob: blobOuter})
	wantErr(t, err, nil, "CreateDeploy")
	// Before any push: no head.
	g, err := h.s.DeployDecrypt(h.ctx, d.ID, ver[:], nil)
	wantErr(t, err, nil, "DeployDecrypt on an empty env")
	if g.Head != nil || !bytes.Equal(g.Blob, blobOuter) || g.Env.ID != f.env.ID || g.Deploy.ID != d.ID {
		t.Fatalf("grant %+v", g)
	}
	v := h.push(f.member, f.env.ID)
	g, err = h.s.DeployDecrypt(h.ctx, d.ID, ver[:], nil)
	wantErr(t, err, nil, "DeployDecrypt")
	if g.Head == nil || g.Head.ID != v.ID || !bytes.Equal(g.Head.Blob, v.Blob) || g.Env.Epoch != 1 {
		t.Fatalf("grant head %+v", g.Head)
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionDeployDecrypt || ev.Actor != d.ID || ev.Target != d.ID+" env="+f.env.ID+" epoch=1" || ev.Result != store.ResultOK || ev.Seq != g.Audit.Seq {
		t.Fatalf("deploy decrypt audit %+v", ev)
	}
}

func testDeployDecryptRefusals(t *testing.T, h *h) {
	f := h.setup()
	h.push(f.member, f.env.ID)
	ver := sha256.Sum256([]byte("k"))
	mint := func(exp time.Time) store.Deploy {
		d, _, err := h.s.CreateDeploy(h.ctx, f.admin.tok, store.NewDeploy{ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "ci",
			Epoch: 1, Verifier: ver[:], Blob: randBytes(10), ExpiresAt: exp})
		wantErr(t, err, nil, "CreateDeploy")
		return d
	}
	d := mint(h.clock.Now().Add(time.Hour))
	before := h.state(f.owner, f.org)
	wrong := sha256.Sum256([]byte("not k"))
	_, err := h.s.DeployDecrypt(h.ctx, d.ID, wrong[:], nil)
	wantErr(t, err, store.ErrUnauthenticated, "wrong verifier")
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver[:31], nil)
	wantErr(t, err, store.ErrUnauthenticated, "short verifier")
	_, err = h.s.DeployDecrypt(h.ctx, ident.NewID(ident.Deploy), ver[:], nil)
	wantErr(t, err, store.ErrUnauthenticated, "unknown deploy")
	_, err = h.s.DeployDecrypt(h.ctx, "dep_x", ver[:], nil)
	wantErr(t, err, store.ErrUnauthenticated, "malformed id")
	h.unchanged(before, f.owner, f.org, "unauthenticated deploy decrypts")

	// Expired: refused and audited.
	h.clock.Advance(time.Hour)
	before = h.state(f.owner, f.org)
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver[:], nil)
	wantErr(t, err, store.ErrExpired, "expired token")
	h.unchangedButAudit(before, f.owner, f.org, "an expired deploy decrypt", d.ID, store.ActionDeployDecrypt, store.ResultDenied)
	// A second refusal within the hour writes no row (throttled); after
	// an hour it writes one again.
	before = h.state(f.owner, f.org)
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver[:], nil)
	wantErr(t, err, store.ErrExpired, "expired token again")
	h.unchanged(before, f.owner, f.org, "a throttled denied row")
	h.clock.Advance(time.Hour + time.Second)
	before = h.state(f.owner, f.org)
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver[:], nil)
	wantErr(t, err, store.ErrExpired, "expired token an hour later")
	h.unchangedButAudit(before, f.owner, f.org, "an expired deploy decrypt an hour later", d.ID, store.ActionDeployDecrypt, store.ResultDenied)

	// Revoked: refused and audited.
	d2 := mint(time.Time{})
	_, _, err = h.s.RevokeDeploy(h.ctx, f.admin.tok, f.org, d2.ID)
	wantErr(t, err, nil, "RevokeDeploy")
	before = h.state(f.owner, f.org)
	_, err = h.s.DeployDecrypt(h.ctx, d2.ID, ver[:], nil)
	wantErr(t, err, store.ErrRevoked, "revoked token")
	h.unchangedButAudit(before, f.owner, f.org, "a revoked deploy decrypt", d2.ID, store.ActionDeployDecrypt, store.ResultDenied)

	// Rotated away: refused.
	d3 := mint(time.Time{})
	head, _ := h.s.GetHead(h.ctx, f.member.tok, f.env.ID)
	_, err = h.s.RotateEnv(h.ctx, f.owner.tok, f.env.ID, store.Rotation{Epoch: 2, SigningKey: randBytes(32), Head: blob(head.Version+1, 2, head.ID)})
	wantErr(t, err, nil, "RotateEnv")
	_, err = h.s.DeployDecrypt(h.ctx, d3.ID, ver[:], nil)
	wantErr(t, err, store.ErrRevoked, "token of the old epoch")
}

func testRevokeDeploy(t *testing.T, h *h) {
	f := h.setup()
	d, ver := h.deploy(f.admin, f.env)
	before := h.state(f.owner, f.org)
	_, _, err := h.s.RevokeDeploy(h.ctx, f.member.tok, f.org, d.ID)
	wantErr(t, err, store.ErrForbidden, "member revoking")
	stranger := h.login(email("stranger"))
	_, _, err = h.s.RevokeDeploy(h.ctx, stranger.tok, f.org, d.ID)
	wantErr(t, err, store.ErrNotMember, "stranger revoking")
	strangerOrg := h.newOrg(stranger)
	_, _, err = h.s.RevokeDeploy(h.ctx, stranger.tok, strangerOrg, d.ID)
	wantErr(t, err, store.ErrNotFound, "revoking through another org")
	_, _, err = h.s.RevokeDeploy(h.ctx, f.admin.tok, f.org, ident.NewID(ident.Deploy))
	wantErr(t, err, store.ErrNotFound, "unknown deploy")
	h.unchanged(before, f.owner, f.org, "refused deploy revocations")
	rd, hd, err := h.s.RevokeDeploy(h.ctx, f.owner.tok, f.org, d.ID)
	wantErr(t, err, nil, "RevokeDeploy")
	if rd.RevokedAt.IsZero() || rd.RevokedReason != store.ReasonManual || rd.Status(h.clock.Now()) != "revoked" {
		t.Fatalf("revoked deploy %+v", rd)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionDeployRevoke || ev.Target != d.ID || ev.Seq != hd.Seq {
		t.Fatalf("revoke audit %+v", ev)
	}
	before = h.state(f.owner, f.org)
	again, hd2, err := h.s.RevokeDeploy(h.ctx, f.owner.tok, f.org, d.ID)
	wantErr(t, err, nil, "revoke twice is idempotent")
	if hd2.Seq != 0 || !again.RevokedAt.Equal(rd.RevokedAt) {
		t.Fatalf("second revoke %+v %+v", again, hd2)
	}
	h.unchanged(before, f.owner, f.org, "a repeated revocation")
	_, err = h.s.DeployDecrypt(h.ctx, d.ID, ver, nil)
	wantErr(t, err, store.ErrRevoked, "decrypt after revoke")
}
