package server

import (
	"encoding/hex"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

// storesWith runs fn once per store driver on a server configured with
// cfg, each as a parallel subtest.
func storesWith(t *testing.T, cfg Config, fn func(t *testing.T, e *env)) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			defer guard(t)
			fn(t, newEnv(t, kind, cfg, false))
		})
	}
}

// also starts a second service over e's store and keyring with another
// configuration: the same database under another operator's rules.
func (e *env) also(cfg Config) *env {
	e.t.Helper()
	return startEnv(e.t, e.dbKind, e.st, e.kr, e.clock, cfg, false)
}

func newOrgReq() api.CreateOrgRequest {
	return api.CreateOrgRequest{ID: ident.NewID(ident.Org), Name: "Acme", KeyCheck: hex.EncodeToString(randBytes(16))}
}

func TestSignInAllowList(t *testing.T) {
	cfg := Config{Access: Access{AllowEmailDomains: []string{"example.com"}, AllowEmails: []string{"carol@partner.test"}}}
	storesWith(t, cfg, func(t *testing.T, e *env) {
		sent := e.mail.count()
		for _, email := range []string{"eve@evil.test", "bob@sub.example.com", "carol@partner.test.evil", "dave@partner.test"} {
			_, err := e.anon.AuthStart(e.ctx, email)
			p := wantProblem(t, err, api.PEmailNotAllowed, "start for "+email)
			// The detail names the rule, not the lists.
			if !strings.Contains(p.Detail, "lets only some e-mail addresses sign in") ||
				strings.Contains(p.Detail, "example.com") || strings.Contains(p.Detail, "partner") {
				t.Fatalf("detail %q", p.Detail)
			}
			_, err = e.anon.AuthVerify(e.ctx, email, "12345678", "laptop")
			wantProblem(t, err, api.PEmailNotAllowed, "verify for "+email)
		}
		if e.mail.count() != sent {
			t.Fatal("a refused address was mailed a code")
		}
		rec := httptest.NewRecorder()
		e.srv.OpsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if !strings.Contains(rec.Body.String(), `capyd_login_codes_total{outcome="refused"} 8`+"\n") {
			t.Fatalf("metrics: want 8 refused login attempts:\n%s", rec.Body)
		}
		// The domain, whole, and the listed address sign in.
		alice := e.login(addr("alice"))
		carol := e.login("carol@partner.test")
		for _, u := range []*user{alice, carol} {
			me := must(u.Me(e.ctx))
			if me.MayCreateOrgs == nil || !*me.MayCreateOrgs {
				t.Fatalf("me of %s: %+v", u.Email, me)
			}
			must(u.CreateOrg(e.ctx, newOrgReq()))
		}

		// A code mailed before the operator narrowed the list no longer
		// signs in.
		open := e.also(Config{})
		must(open.anon.AuthStart(e.ctx, "dave@partner.test"))
		code := open.mail.code(t, "dave@partner.test")
		_, err := e.anon.AuthVerify(e.ctx, "dave@partner.test", code, "laptop")
		wantProblem(t, err, api.PEmailNotAllowed, "a code from before the list")
		must(open.anon.AuthVerify(e.ctx, "dave@partner.test", code, "laptop"))
	})
}

func TestOrgCreationNone(t *testing.T) {
	storesWith(t, Config{}, func(t *testing.T, e *env) {
		w := e.world() // made while anyone could
		closed := e.also(Config{Access: Access{OrgCreation: OrgCreationNone}})
		alice := closed.login(addr("alice"))
		me := must(alice.Me(e.ctx))
		if me.MayCreateOrgs == nil || *me.MayCreateOrgs {
			t.Fatalf("me: %+v", me)
		}
		before := closed.mail.count()
		_, err := alice.CreateOrg(e.ctx, newOrgReq())
		p := wantProblem(t, err, api.POrgCreationNotAllowed, "create org")
		if !strings.Contains(p.Detail, "turned off creating organisations") {
			t.Fatalf("detail %q", p.Detail)
		}
		// Checked before the body: even a malformed one gets the refusal.
		_, err = alice.CreateOrg(e.ctx, api.CreateOrgRequest{ID: "org_bad"})
		wantProblem(t, err, api.POrgCreationNotAllowed, "create org with a bad body")
		owner := closed.client(w.owner.Token)
		_, err = owner.CreateOrg(e.ctx, newOrgReq())
		wantProblem(t, err, api.POrgCreationNotAllowed, "an owner creating a second org")
		orgs := must(owner.Orgs(e.ctx, "", 0))
		if len(orgs.Items) != 1 || closed.mail.count() != before {
			t.Fatalf("orgs after the refusals: %+v", orgs)
		}
		// Everything else goes on: the existing org works.
		closedWorld := *w
		closedWorld.owner = &user{Client: owner, ID: w.owner.ID, Email: w.owner.Email, Token: w.owner.Token}
		closed.push(&closedWorld, closedWorld.owner)
	})
}

func TestOrgCreationAllowed(t *testing.T) {
	storesWith(t, Config{Access: Access{OrgCreation: OrgCreationAllowed, OrgCreators: []string{"boss@example.com"}}}, func(t *testing.T, e *env) {
		boss := e.login("boss@example.com")
		must(boss.CreateOrg(e.ctx, newOrgReq()))
		if me := must(boss.Me(e.ctx)); me.MayCreateOrgs == nil || !*me.MayCreateOrgs {
			t.Fatalf("me of an org creator: %+v", me)
		}
		staff := e.login(addr("staff"))
		_, err := staff.CreateOrg(e.ctx, newOrgReq())
		p := wantProblem(t, err, api.POrgCreationNotAllowed, "create org by someone not listed")
		if !strings.Contains(p.Detail, "only some accounts") {
			t.Fatalf("detail %q", p.Detail)
		}
	})
}

func TestDisabledAccount(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		second := e.login(w.member.Email)
		res := must(e.st.DisableUser(e.ctx, w.member.Email))
		if !res.Changed || res.EndedSessions != 2 {
			t.Fatalf("DisableUser: %+v", res)
		}
		// Every request of their sessions is refused.
		for _, u := range []*user{w.member, second} {
			_, err := u.Me(e.ctx)
			wantProblem(t, err, api.PUnauthenticated, "a session of a disabled user")
			_, err = u.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
			wantProblem(t, err, api.PUnauthenticated, "a co-decrypt of a disabled user")
		}
		// Start answers as for anyone; the right code is refused with
		// account-disabled, a wrong one is just wrong.
		must(e.anon.AuthStart(e.ctx, w.member.Email))
		code := e.mail.code(t, w.member.Email)
		wrong := "00000000"
		if code == wrong {
			wrong = "11111111"
		}
		_, err := e.anon.AuthVerify(e.ctx, w.member.Email, wrong, "laptop")
		wantProblem(t, err, api.PCodeInvalid, "a wrong code of a disabled user")
		_, err = e.anon.AuthVerify(e.ctx, w.member.Email, code, "laptop")
		p := wantProblem(t, err, api.PAccountDisabled, "the right code of a disabled user")
		if !strings.Contains(p.Detail, "disabled this account") {
			t.Fatalf("detail %q", p.Detail)
		}
		// The operator's row is in the org's chain, which still verifies.
		if a := e.lastAudit(w); a.Actor != "operator" || a.Action != "user-disable" || a.Target != w.member.ID {
			t.Fatalf("last audit row %+v", a)
		}
		if v := must(w.owner.AuditVerify(e.ctx, w.org)); !v.Valid {
			t.Fatalf("verify %+v", v)
		}
		must(e.st.EnableUser(e.ctx, w.member.Email))
		back := e.login(w.member.Email)
		must(back.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
	})
}

func TestAccessChecked(t *testing.T) {
	for _, a := range []Access{
		{AllowEmailDomains: []string{"Example.com"}},
		{AllowEmailDomains: []string{"@example.com"}},
		{AllowEmails: []string{"Bob@example.com"}},
		{OrgCreation: "some"},
		{OrgCreation: OrgCreationNone, OrgCreators: []string{"bob@example.com"}},
		{OrgCreators: []string{"bob@example.com"}},
	} {
		if err := a.check(); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
	if err := (Access{AllowEmailDomains: []string{"example.com"}, OrgCreation: OrgCreationAllowed, OrgCreators: []string{"bob@example.com"}}).check(); err != nil {
		t.Fatal(err)
	}
}
