package server

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store"
)

func TestAuth(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		email := addr("alice")
		// Start answers the same for a new and a known address, and mails
		// an 8-digit code naming the public URL.
		r1 := must(e.anon.AuthStart(e.ctx, email))
		msg := e.mail.msgs[len(e.mail.msgs)-1]
		if !regexp.MustCompile(`^[0-9]{8}$`).MatchString(msg.Code) || !strings.Contains(msg.Body, msg.Code[:4]+" "+msg.Code[4:]) ||
			!strings.Contains(msg.Body, publicURL) || msg.To != email {
			t.Fatalf("login mail %+v", msg)
		}
		if !r1.ExpiresAt.Equal(e.clock.Now().Add(DefaultLoginCodeTTL)) {
			t.Fatalf("expires_at %v", r1.ExpiresAt)
		}
		code := e.mail.code(t, email)

		// A malformed code is invalid-field and costs no try.
		_, err := e.anon.AuthVerify(e.ctx, email, "1234", "laptop")
		if p := wantProblem(t, err, api.PInvalidField, "short code"); p.Field != "code" {
			t.Fatalf("field %q", p.Field)
		}
		_, err = e.anon.AuthVerify(e.ctx, email, code, " padded ")
		wantProblem(t, err, api.PInvalidField, "bad label")
		_, err = e.anon.AuthVerify(e.ctx, "Alice@Example.com", code, "laptop")
		wantProblem(t, err, api.PInvalidField, "non-canonical e-mail")
		wrong := "00000000"
		if code == wrong {
			wrong = "11111111"
		}
		_, err = e.anon.AuthVerify(e.ctx, email, wrong, "laptop")
		wantProblem(t, err, api.PCodeInvalid, "wrong code")

		res := must(e.anon.AuthVerify(e.ctx, email, code, "laptop"))
		if !regexp.MustCompile(`^capys_[A-Za-z0-9_-]{43}$`).MatchString(res.Token) || res.User.Email != email ||
			!res.Session.Current || res.Session.Label != "laptop" {
			t.Fatalf("verify %+v", res)
		}
		// The code is gone after use.
		_, err = e.anon.AuthVerify(e.ctx, email, code, "laptop")
		wantProblem(t, err, api.PCodeInvalid, "code reused")

		alice := e.client(res.Token)
		me := must(alice.Me(e.ctx))
		if me.User.ID != res.User.ID || me.Session.ID != res.Session.ID || !me.Session.Current {
			t.Fatalf("me %+v", me)
		}
		// A second machine; the first lists both and revokes the second.
		other := e.login(email)
		list := must(alice.Sessions(e.ctx, "", 0))
		if len(list.Items) != 2 || list.NextCursor != nil {
			t.Fatalf("sessions %+v", list)
		}
		page1 := must(alice.Sessions(e.ctx, "", 1))
		if len(page1.Items) != 1 || page1.NextCursor == nil {
			t.Fatalf("page 1 %+v", page1)
		}
		page2 := must(alice.Sessions(e.ctx, *page1.NextCursor, 1))
		if len(page2.Items) != 1 || page2.NextCursor != nil || page2.Items[0].ID == page1.Items[0].ID {
			t.Fatalf("page 2 %+v", page2)
		}
		otherID := must(other.Me(e.ctx)).Session.ID
		if err := alice.RevokeSession(e.ctx, otherID); err != nil {
			t.Fatal(err)
		}
		_, err = other.Me(e.ctx)
		wantProblem(t, err, api.PUnauthenticated, "revoked session")
		wantProblem(t, alice.RevokeSession(e.ctx, otherID), api.PNotFound, "revoke twice")
		// Logout.
		if err := alice.Logout(e.ctx); err != nil {
			t.Fatal(err)
		}
		_, err = alice.Me(e.ctx)
		wantProblem(t, err, api.PUnauthenticated, "after logout")

		// No token, another scheme, a malformed token: 401 with
		// WWW-Authenticate.
		for name, hdr := range map[string]map[string]string{
			"none":      nil,
			"basic":     {"Authorization": "Basic YTpi"},
			"malformed": {"Authorization": "Bearer capys_short"},
			"unknown":   {"Authorization": "Bearer capys_" + strings.Repeat("A", 43)},
		} {
			resp, body := e.raw("GET", "/v1/auth/me", nil, hdr)
			rawProblem(t, resp, body, api.PUnauthenticated)
			if resp.Header.Get("WWW-Authenticate") != `Bearer realm="capy"` {
				t.Fatalf("%s: WWW-Authenticate %q", name, resp.Header.Get("WWW-Authenticate"))
			}
		}

		// An expired session is session-expired.
		bob := e.login(addr("bob"))
		e.clock.Advance(store.DefaultSessionIdle + time.Hour)
		_, err = bob.Me(e.ctx)
		wantProblem(t, err, api.PSessionExpired, "idle session")
	})
}

func TestLoginCodeLock(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		email := addr("carol")
		must(e.anon.AuthStart(e.ctx, email))
		code := e.mail.code(t, email)
		wrong := "00000000"
		if code == wrong {
			wrong = "11111111"
		}
		for i := 1; i <= 5; i++ {
			_, err := e.anon.AuthVerify(e.ctx, email, wrong, "laptop")
			want := api.PCodeInvalid
			if i == 5 {
				want = api.PCodeLocked // the fifth wrong try locks the code
			}
			wantProblem(t, err, want, "wrong code")
		}
		// The right code is refused too.
		_, err := e.anon.AuthVerify(e.ctx, email, code, "laptop")
		wantProblem(t, err, api.PCodeLocked, "right code after five wrong ones")
		// A new code starts afresh.
		must(e.anon.AuthStart(e.ctx, email))
		must(e.anon.AuthVerify(e.ctx, email, e.mail.code(t, email), "laptop"))
		// An expired code is code-invalid.
		must(e.anon.AuthStart(e.ctx, email))
		code = e.mail.code(t, email)
		e.clock.Advance(DefaultLoginCodeTTL + time.Second)
		_, err = e.anon.AuthVerify(e.ctx, email, code, "laptop")
		wantProblem(t, err, api.PCodeInvalid, "expired code")
		// The mail relay refusing is 503.
		e.mail.fail.Store(true)
		_, err = e.anon.AuthStart(e.ctx, email)
		wantProblem(t, err, api.PUnavailable, "relay refused")
	})
}

func TestAuthStartRateLimits(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			defer guard(t)
			e := newEnv(t, kind, Config{}, true)
			email := addr("dave")
			for i := 0; i < startPerHour; i++ {
				must(e.anon.AuthStart(e.ctx, email))
			}
			resp, body := e.raw("POST", "/v1/auth/start", []byte(`{"email":"`+email+`"}`), map[string]string{"Content-Type": "application/json"})
			rawProblem(t, resp, body, api.PRateLimited)
			if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("Retry-After %q", ra)
			}
			if e.mail.count() != startPerHour {
				t.Fatalf("%d mails", e.mail.count())
			}
			// Another address is not limited by this one's bucket.
			must(e.anon.AuthStart(e.ctx, addr("erin")))
			// An hour later the address may start again.
			e.clock.Advance(time.Hour + time.Second)
			must(e.anon.AuthStart(e.ctx, email))
			// Per IP: 30 starts an hour.
			var err error
			for i := 0; i < 40 && err == nil; i++ {
				_, err = e.anon.AuthStart(e.ctx, addr("flood"))
			}
			wantProblem(t, err, api.PRateLimited, "per-IP start limit")
		})
	}
}
