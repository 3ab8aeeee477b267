package server

import (
	"bytes"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/kekring"
)

// replica is another capyd on the same store with its own keyring.
func (e *env) replica(t *testing.T, kr *kekring.Ring) *env {
	t.Helper()
	return startEnv(t, e.dbKind, e.st, kr, e.clock, Config{}, false)
}

// as is u's session on another replica.
func (e *env) as(u *user) *client.Client { return e.client(u.Token) }

// TestStoredBlobsUnderMissingKEK: a deploy token or invite whose stored
// outer blob names a KEK the replica lacks is refused with a clear
// problem, and the refusal changes nothing: no last use, no redeem, no
// audit row. A replica whose keyring is behind (the KEK is newer than its
// primary) answers 503 unavailable, to be retried; a retired KEK (older
// than the primary, gone) is outer-key-retired. Either way the token and
// the invite work once a replica holding the KEK serves them, and a use
// re-wraps the stored blob under that replica's primary.
func TestStoredBlobsUnderMissingKEK(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e.push(w, w.member)
		kr1 := e.kr
		kr2 := must(kr1.Rotate())
		only2 := must(kr2.Without(1))
		r2 := e.replica(t, kr2)        // rotated: KEKs 1 and 2, primary 2
		retired := e.replica(t, only2) // KEK 1 retired

		// Minted and invited on the old replica: under KEK 1.
		d := e.mint(w, w.admin, 1)
		role, inner := api.RoleMember, sealed()
		carol := e.login(addr("carol"))
		inv := must(w.owner.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: carol.Email, Role: &role, Inner: inner}))

		// KEK 1 retired: outer-key-retired, nothing changes.
		before := e.snapshot(w)
		_, err := retired.anon.DeployDecrypt(e.ctx, d.ID, d.authKey)
		p := wantProblem(t, err, api.POuterKeyRetired, "deploy decrypt under a retired KEK")
		if !strings.Contains(p.Detail, "new deploy code") {
			t.Fatalf("detail %q", p.Detail)
		}
		_, err = retired.as(carol).Redeem(e.ctx, inv.ID)
		p = wantProblem(t, err, api.POuterKeyRetired, "redeem under a retired KEK")
		if !strings.Contains(p.Detail, "new invite") {
			t.Fatalf("detail %q", p.Detail)
		}
		e.unchanged(w, before, "uses of blobs under a retired KEK")
		if !strings.Contains(retired.logs.String(), `"msg":"a stored outer blob is under a retired KEK"`) {
			t.Fatalf("no log line:\n%s", retired.logs)
		}

		// A replica holding KEK 1 serves them, and re-wraps both under
		// its primary, KEK 2.
		res := must(r2.anon.DeployDecrypt(e.ctx, d.ID, d.authKey))
		if !bytes.Equal(res.Inner, d.inner) {
			t.Fatal("deploy decrypt on the rotated replica: wrong inner blob")
		}
		rr := must(r2.as(carol).Redeem(e.ctx, inv.ID))
		if !bytes.Equal(rr.Inner, inner) || rr.Org.Role != api.RoleMember {
			t.Fatalf("redeem on the rotated replica %+v", rr)
		}
		// Now under KEK 2: the retired replica opens them...
		must(retired.anon.DeployDecrypt(e.ctx, d.ID, d.authKey))
		must(retired.as(carol).Redeem(e.ctx, inv.ID))
		// ...and the old replica, which has never seen KEK 2, is behind:
		// 503, retry; nothing changes.
		before = e.snapshot(w)
		resp, body := e.raw("POST", "/v1/deploys/"+d.ID+"/decrypt", []byte(`{"auth_key":"`+b64(d.authKey)+`"}`),
			map[string]string{"Content-Type": "application/json"})
		if pp := rawProblem(t, resp, body, api.PUnavailable); pp["detail"] != kekBehindDetail || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("deploy decrypt on a replica behind: %s (Retry-After %q)", body, resp.Header.Get("Retry-After"))
		}
		_, err = e.as(carol).Redeem(e.ctx, inv.ID)
		wantProblem(t, err, api.PUnavailable, "redeem on a replica behind")
		e.unchanged(w, before, "uses of blobs under a KEK newer than the replica's")
		if !strings.Contains(e.logs.String(), "newer than this keyring's primary 1") {
			t.Fatalf("the log does not say why:\n%s", e.logs)
		}
		if n := counterValue(t, e.reg, "capyd_deploy_decrypt_total", map[string]string{"outcome": "kek-missing"}); n != 1 {
			t.Fatalf("kek-missing counted %v times", n)
		}
		if n := counterValue(t, r2.reg, "capyd_outer_unwraps_total", map[string]string{"purpose": "deploy", "kek": "1"}); n != 1 {
			t.Fatalf("unwraps under KEK 1 counted %v times", n)
		}

		// Co-decrypt: a key.enc under a KEK newer than the replica's is
		// 503 too (retry), not outer-key-retired (which sends people to
		// their recovery phrase).
		res2 := must(r2.as(w.member).CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		_, err = e.as(w.member).CoDecrypt(e.ctx, w.org, res2.Rewrapped)
		wantProblem(t, err, api.PUnavailable, "co-decrypt of a key.enc under a newer KEK")
		_, err = retired.as(w.member).CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		wantProblem(t, err, api.POuterKeyRetired, "co-decrypt of a key.enc under a retired KEK")
	})
}

// TestSetKeyring: a replica whose keyring is behind answers 503 for a
// blob under the newer KEK; once given the newer keyring (capyd reloads
// its key file on SIGHUP) it opens the blob and wraps new blobs under the
// new primary, without a restart.
func TestSetKeyring(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		kr2 := must(e.kr.Rotate())
		r2 := e.replica(t, kr2)
		only2 := e.replica(t, must(kr2.Without(1)))
		d := e.mint(w, w.admin, 1)
		must(r2.anon.DeployDecrypt(e.ctx, d.ID, d.authKey)) // re-wrapped under KEK 2
		_, err := e.anon.DeployDecrypt(e.ctx, d.ID, d.authKey)
		wantProblem(t, err, api.PUnavailable, "deploy decrypt on a replica behind")

		e.srv.SetKeyring(kr2)
		res := must(e.anon.DeployDecrypt(e.ctx, d.ID, d.authKey))
		if !bytes.Equal(res.Inner, d.inner) {
			t.Fatal("deploy decrypt after the reload: wrong inner blob")
		}
		// New wraps use the new primary: a replica holding only KEK 2
		// opens them.
		d2 := e.mint(w, w.admin, 1)
		must(only2.anon.DeployDecrypt(e.ctx, d2.ID, d2.authKey))
		cd := must(e.as(w.member).CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		if cd.Rewrapped == nil {
			t.Fatal("a key.enc under KEK 1 was not re-wrapped after the reload")
		}
		must(only2.as(w.member).CoDecrypt(e.ctx, w.org, cd.Rewrapped))
	})
}
