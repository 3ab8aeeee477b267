package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
)

func TestOrgs(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		o := must(w.member.Org(e.ctx, w.org))
		if o.ID != w.org || o.Role != api.RoleMember || o.Name != "Acme" || len(o.KeyCheck) != 32 {
			t.Fatalf("org %+v", o)
		}
		list := must(w.admin.Orgs(e.ctx, "", 0))
		if len(list.Items) != 1 || list.Items[0].Role != api.RoleAdmin {
			t.Fatalf("orgs %+v", list)
		}
		// A retried create is already-exists naming the id.
		_, err := w.owner.CreateOrg(e.ctx, api.CreateOrgRequest{ID: w.org, Name: "Acme", KeyCheck: o.KeyCheck})
		if p := wantProblem(t, err, api.PAlreadyExists, "taken org id"); p.Field != "id" {
			t.Fatalf("field %q", p.Field)
		}
		_, err = w.owner.CreateOrg(e.ctx, api.CreateOrgRequest{ID: ident.NewID(ident.Org), Name: "Acme", KeyCheck: "ABC"})
		wantProblem(t, err, api.PInvalidField, "bad key check")
		// The first audit row is org-create.
		a := must(w.owner.Audit(e.ctx, w.org, 1, "", 1))
		if a.Items[0].Action != "org-create" || a.Items[0].Target != w.org || a.Items[0].Seq != 1 {
			t.Fatalf("row 1 %+v", a.Items[0])
		}
		stranger := e.login(addr("stranger"))
		_, err = stranger.Org(e.ctx, w.org)
		wantProblem(t, err, api.PNotAMember, "stranger")
		_, err = stranger.Org(e.ctx, ident.NewID(ident.Org))
		wantProblem(t, err, api.PNotAMember, "unknown org, same answer")
		// Several orgs page by created_at, then id.
		for i := 0; i < 2; i++ {
			must(stranger.CreateOrg(e.ctx, api.CreateOrgRequest{ID: ident.NewID(ident.Org), Name: "S", KeyCheck: o.KeyCheck}))
		}
		p1 := must(stranger.Orgs(e.ctx, "", 1))
		p2 := must(stranger.Orgs(e.ctx, *p1.NextCursor, 1))
		if len(p1.Items) != 1 || len(p2.Items) != 1 || p2.NextCursor != nil || p1.Items[0].ID == p2.Items[0].ID {
			t.Fatalf("pages %+v %+v", p1, p2)
		}
		_, err = stranger.Orgs(e.ctx, "bm90IGEgY3Vyc29y", 1)
		if p := wantProblem(t, err, api.PInvalidField, "foreign cursor"); p.Field != "cursor" {
			t.Fatalf("field %q", p.Field)
		}
	})
}

func TestWrapAndCoDecrypt(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		res := must(w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		if !bytes.Equal(res.Inner, w.inners[w.member.ID]) || res.Rewrapped != nil {
			t.Fatalf("co-decrypt %+v", res)
		}
		last := e.lastAudit(w)
		if last.Action != "co-decrypt" || last.Actor != w.member.ID || last.Target != w.member.ID || last.Result != "ok" ||
			last.Seq != res.AuditHead.Seq || last.Hash != res.AuditHead.Hash {
			t.Fatalf("audit %+v, head %+v", last, res.AuditHead)
		}

		before := e.snapshot(w)
		// Another user's blob: bad-outer (400), nothing changes.
		_, err := w.member.CoDecrypt(e.ctx, w.org, w.outers[w.admin.ID])
		wantProblem(t, err, api.PBadOuter, "another user's blob")
		// A tampered blob, a wrong length, a wrong version: bad-outer.
		bad := bytes.Clone(w.outers[w.member.ID])
		bad[len(bad)-1] ^= 1
		_, err = w.member.CoDecrypt(e.ctx, w.org, bad)
		wantProblem(t, err, api.PBadOuter, "tampered blob")
		_, err = w.member.CoDecrypt(e.ctx, w.org, bad[:90])
		wantProblem(t, err, api.PBadOuter, "short blob")
		bad = bytes.Clone(w.outers[w.member.ID])
		bad[0] = 2
		_, err = w.member.CoDecrypt(e.ctx, w.org, bad)
		wantProblem(t, err, api.PBadOuter, "version 2")
		// A stranger: not-a-member, whatever the blob.
		stranger := e.login(addr("stranger"))
		_, err = stranger.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		wantProblem(t, err, api.PNotAMember, "stranger")
		// The same blob in another org: bad-outer.
		other := ident.NewID(ident.Org)
		must(w.member.CreateOrg(e.ctx, api.CreateOrgRequest{ID: other, Name: "Other", KeyCheck: "00000000000000000000000000000000"}))
		_, err = w.member.CoDecrypt(e.ctx, other, w.outers[w.member.ID])
		wantProblem(t, err, api.PBadOuter, "blob of another org")
		// Without a session: 401.
		_, err = e.anon.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		wantProblem(t, err, api.PUnauthenticated, "no session")
		// Malformed: not base64, missing member, unknown member.
		resp, body := e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{"outer":"***"}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + w.member.Token})
		if p := rawProblem(t, resp, body, api.PInvalidField); p["field"] != "outer" {
			t.Fatalf("field %v", p["field"])
		}
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + w.member.Token})
		rawProblem(t, resp, body, api.PInvalidField)
		// Session and membership are checked before the body (§1.7), even
		// though a well-formed body has them checked inside the gate.
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{"outer":"***"}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + stranger.Token})
		rawProblem(t, resp, body, api.PNotAMember)
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer capys_" + strings.Repeat("A", 43)})
		rawProblem(t, resp, body, api.PUnauthenticated)
		e.unchanged(w, before, "refused co-decrypts")

		// Wrap: purpose must be key, inner 61 bytes starting 0x01.
		_, err = w.member.Wrap(e.ctx, w.org, sealed()[:60])
		wantProblem(t, err, api.PInvalidField, "short inner")
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/wrap", []byte(`{"purpose":"invite","inner":"`+b64(sealed())+`"}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + w.member.Token})
		if p := rawProblem(t, resp, body, api.PInvalidField); p["field"] != "purpose" {
			t.Fatalf("field %v", p["field"])
		}
		_, err = stranger.Wrap(e.ctx, w.org, sealed())
		wantProblem(t, err, api.PNotAMember, "stranger wrap")
		e.unchanged(w, before, "refused wraps")

		// After a kick: 403 membership-revoked, and the one change is a
		// denied row (throttled: a second refusal adds none).
		must(w.admin.Kick(e.ctx, w.org, w.member.ID, false))
		mid := e.snapshot(w)
		_, err = w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		wantProblem(t, err, api.PMembershipRevoked, "after kick")
		last = e.lastAudit(w)
		if last.Action != "co-decrypt" || last.Result != "denied" || last.Actor != w.member.ID {
			t.Fatalf("denied row %+v", last)
		}
		after := e.snapshot(w)
		_, err = w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		wantProblem(t, err, api.PMembershipRevoked, "after kick, again")
		e.unchanged(w, after, "a second refused co-decrypt")
		// With a bad body too: membership comes before the body (§1.7).
		resp, body = e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{"outer":"***"}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + w.member.Token})
		rawProblem(t, resp, body, api.PMembershipRevoked)
		e.unchanged(w, after, "a refused co-decrypt with a bad body")
		if mid == after {
			t.Fatal("the first refusal wrote no row")
		}
		_, err = w.member.Wrap(e.ctx, w.org, sealed())
		wantProblem(t, err, api.PMembershipRevoked, "wrap after kick")
		e.unchanged(w, after, "a refused wrap")
	})
}

func TestKEKRotation(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		old := w.outers[w.member.ID]
		// A new primary KEK; the old one is kept.
		kr2, err := e.kr.Rotate()
		if err != nil {
			t.Fatal(err)
		}
		e2 := startEnv(t, e.dbKind, e.st, kr2, e.clock, Config{}, false)
		m2 := &user{Client: e2.client(w.member.Token), ID: w.member.ID}
		res := must(m2.CoDecrypt(e.ctx, w.org, old))
		if !bytes.Equal(res.Inner, w.inners[w.member.ID]) || len(res.Rewrapped) != outerSize || bytes.Equal(res.Rewrapped, old) {
			t.Fatalf("co-decrypt under a rotated keyring %+v", res)
		}
		// The rewrapped blob is under the primary: no further rewrap.
		res2 := must(m2.CoDecrypt(e.ctx, w.org, res.Rewrapped))
		if !bytes.Equal(res2.Inner, w.inners[w.member.ID]) || res2.Rewrapped != nil {
			t.Fatalf("co-decrypt of the rewrapped blob %+v", res2)
		}
		// A keyring without the old KEK: outer-key-retired.
		only, err := kekring.Parse(lastLine(kr2.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		e3 := startEnv(t, e.dbKind, e.st, only, e.clock, Config{}, false)
		before := e.snapshot(w)
		_, err = e3.client(w.member.Token).CoDecrypt(e.ctx, w.org, old)
		wantProblem(t, err, api.POuterKeyRetired, "retired KEK")
		e.unchanged(w, before, "a retired-KEK co-decrypt")
		must(e3.client(w.member.Token).CoDecrypt(e.ctx, w.org, res.Rewrapped))
	})
}
