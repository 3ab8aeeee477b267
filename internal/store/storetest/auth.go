package storetest

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"LoginCode", testLoginCode},
		test{"LoginCodeLocksAfterWrongAttempts", testLoginCodeLock},
		test{"LoginCodeExpires", testLoginCodeExpiry},
		test{"LoginCodeInput", testLoginCodeInput},
		test{"Session", testSession},
		test{"SessionIdleAndAbsoluteLifetime", testSessionLifetime},
		test{"SessionListAndRevoke", testSessionListRevoke},
		test{"SecretsNotStoredInPlaintext", testNoPlaintextSecrets},
		test{"RateLimit", testRateLimit},
		test{"PurgeExpired", testPurge},
	)
}

func testLoginCode(t *testing.T, h *h) {
	addr := email("alice")
	lc, err := h.s.CreateLoginCode(h.ctx, addr, "123456", 0)
	wantErr(t, err, nil, "CreateLoginCode")
	if want := h.clock.Now().Add(store.DefaultLoginCodeTTL).Truncate(time.Microsecond); !lc.ExpiresAt.Equal(want) {
		t.Fatalf("code expires at %v, want %v", lc.ExpiresAt, want)
	}
	u, err := h.s.VerifyLoginCode(h.ctx, addr, "123456")
	wantErr(t, err, nil, "VerifyLoginCode")
	if u.Email != addr || ident.CheckID(ident.User, u.ID) != nil {
		t.Fatalf("user %+v", u)
	}
	// One use only.
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "123456")
	wantErr(t, err, store.ErrBadCode, "second use of a code")
	// A second login finds the same user.
	_, err = h.s.CreateLoginCode(h.ctx, addr, "654321", 0)
	wantErr(t, err, nil, "CreateLoginCode")
	u2, err := h.s.VerifyLoginCode(h.ctx, addr, "654321")
	wantErr(t, err, nil, "VerifyLoginCode")
	if u2.ID != u.ID {
		t.Fatalf("second login made a new user %s (first %s)", u2.ID, u.ID)
	}
	// A new code replaces the pending one.
	_, _ = h.s.CreateLoginCode(h.ctx, addr, "111111", 0)
	_, _ = h.s.CreateLoginCode(h.ctx, addr, "222222", 0)
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "111111")
	wantErr(t, err, store.ErrBadCode, "replaced code")
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "222222")
	wantErr(t, err, nil, "newest code")
	// No code at all.
	_, err = h.s.VerifyLoginCode(h.ctx, email("nobody"), "123456")
	wantErr(t, err, store.ErrBadCode, "address without a code")
}

func testLoginCodeLock(t *testing.T, h *h) {
	addr := email("bob")
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, "424242", 0)), nil, "CreateLoginCode")
	for i := 0; i < store.DefaultLoginCodeMaxAttempts; i++ {
		_, err := h.s.VerifyLoginCode(h.ctx, addr, "000000")
		want := store.ErrBadCode
		if i == store.DefaultLoginCodeMaxAttempts-1 {
			want = store.ErrCodeLocked // the fifth wrong try locks the code
		}
		wantErr(t, err, want, "wrong code")
	}
	_, err := h.s.VerifyLoginCode(h.ctx, addr, "424242")
	wantErr(t, err, store.ErrCodeLocked, "right code after too many wrong ones")
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "424242")
	wantErr(t, err, store.ErrCodeLocked, "and again")
	// A fresh code starts a fresh count.
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, "434343", 0)), nil, "CreateLoginCode")
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "000000")
	wantErr(t, err, store.ErrBadCode, "wrong code")
	_, err = h.s.VerifyLoginCode(h.ctx, addr, "434343")
	wantErr(t, err, nil, "right code")

	// Four wrong attempts still leave the right code usable.
	addr2 := email("carol")
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr2, "515151", 0)), nil, "CreateLoginCode")
	for i := 0; i < store.DefaultLoginCodeMaxAttempts-1; i++ {
		_, _ = h.s.VerifyLoginCode(h.ctx, addr2, "999999")
	}
	_, err = h.s.VerifyLoginCode(h.ctx, addr2, "515151")
	wantErr(t, err, nil, "right code on the last allowed attempt")
}

func testLoginCodeExpiry(t *testing.T, h *h) {
	addr := email("dave")
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, "777777", 0)), nil, "CreateLoginCode")
	h.clock.Advance(store.DefaultLoginCodeTTL - time.Second)
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, "777778", 0)), nil, "CreateLoginCode")
	h.clock.Advance(store.DefaultLoginCodeTTL)
	_, err := h.s.VerifyLoginCode(h.ctx, addr, "777778")
	wantErr(t, err, store.ErrExpired, "expired code")
}

func testLoginCodeInput(t *testing.T, h *h) {
	for _, bad := range []string{"Alice@Example.com", " a@example.com", "not-an-address", ""} {
		_, err := h.s.CreateLoginCode(h.ctx, bad, "123456", 0)
		wantErr(t, err, store.ErrInvalid, "CreateLoginCode("+bad+")")
		_, err = h.s.VerifyLoginCode(h.ctx, bad, "123456")
		wantErr(t, err, store.ErrInvalid, "VerifyLoginCode("+bad+")")
	}
	addr := email("erin")
	for _, bad := range []string{"12345", "12345a", "", strings.Repeat("1", 33)} {
		_, err := h.s.CreateLoginCode(h.ctx, addr, bad, 0)
		wantErr(t, err, store.ErrInvalid, "CreateLoginCode code "+bad)
	}
	// A malformed code at verification is a wrong attempt, not a free one.
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, "123456", 0)), nil, "CreateLoginCode")
	for i := 0; i < store.DefaultLoginCodeMaxAttempts; i++ {
		_, err := h.s.VerifyLoginCode(h.ctx, addr, "abc")
		want := store.ErrBadCode
		if i == store.DefaultLoginCodeMaxAttempts-1 {
			want = store.ErrCodeLocked
		}
		wantErr(t, err, want, "malformed code")
	}
	_, err := h.s.VerifyLoginCode(h.ctx, addr, "123456")
	wantErr(t, err, store.ErrCodeLocked, "locked by malformed attempts")
}

func testSession(t *testing.T, h *h) {
	a := h.login(email("alice"))
	s, err := h.s.LookupSession(h.ctx, a.tok)
	wantErr(t, err, nil, "LookupSession")
	if s.UserID != a.ID || s.Email != a.Email || s.Label != "laptop" || ident.CheckID("ses", s.ID) != nil {
		t.Fatalf("session %+v", s)
	}
	if want := s.CreatedAt.Add(store.DefaultSessionAbsolute); !s.ExpiresAt.Equal(want) {
		t.Fatalf("absolute expiry %v, want %v", s.ExpiresAt, want)
	}
	_, err = h.s.LookupSession(h.ctx, newToken())
	wantErr(t, err, store.ErrUnauthenticated, "unknown token")

	// Unknown user; token reuse; bad label.
	_, err = h.s.CreateSession(h.ctx, ident.NewID(ident.User), newToken(), "x")
	wantErr(t, err, store.ErrNotFound, "session for unknown user")
	_, err = h.s.CreateSession(h.ctx, a.ID, a.tok, "again")
	wantErr(t, err, store.ErrExists, "reused token hash")
	_, err = h.s.CreateSession(h.ctx, a.ID, newToken(), "bad\nlabel")
	wantErr(t, err, store.ErrInvalid, "label with newline")
	_, err = h.s.CreateSession(h.ctx, "usr_bad", newToken(), "x")
	wantErr(t, err, store.ErrInvalid, "bad user id")

	// Use is recorded at most once per SessionTouch.
	h.clock.Advance(store.DefaultSessionTouch / 2)
	s2, _ := h.s.LookupSession(h.ctx, a.tok)
	if !s2.LastSeenAt.Equal(s.LastSeenAt) {
		t.Fatalf("use recorded before SessionTouch passed: %v → %v", s.LastSeenAt, s2.LastSeenAt)
	}
	h.clock.Advance(store.DefaultSessionTouch)
	s3, _ := h.s.LookupSession(h.ctx, a.tok)
	s4, _ := h.s.LookupSession(h.ctx, a.tok)
	if !s3.LastSeenAt.After(s.LastSeenAt) || !s4.LastSeenAt.Equal(s3.LastSeenAt) {
		t.Fatalf("use not recorded: %v, %v, %v", s.LastSeenAt, s3.LastSeenAt, s4.LastSeenAt)
	}
}

func testSessionLifetime(t *testing.T, h *h) {
	// Idle: unused for 30 days is over.
	a := h.login(email("idle"))
	h.clock.Advance(store.DefaultSessionIdle - time.Minute)
	_, err := h.s.LookupSession(h.ctx, a.tok)
	wantErr(t, err, nil, "just before the idle limit")
	h.clock.Advance(store.DefaultSessionIdle - time.Minute)
	_, err = h.s.LookupSession(h.ctx, a.tok)
	wantErr(t, err, nil, "used again within the idle limit")
	h.clock.Advance(store.DefaultSessionIdle + time.Second)
	_, err = h.s.LookupSession(h.ctx, a.tok)
	wantErr(t, err, store.ErrUnauthenticated, "idle too long")
	_, err = h.s.ListOrgs(h.ctx, a.tok)
	wantErr(t, err, store.ErrUnauthenticated, "any call with an idle-expired session")

	// Absolute: used every 20 days, still over at 90.
	b := h.login(email("busy"))
	for i := 0; i < 4; i++ {
		h.clock.Advance(20 * 24 * time.Hour)
		_, err := h.s.LookupSession(h.ctx, b.tok)
		wantErr(t, err, nil, "regular use")
	}
	h.clock.Advance(10*24*time.Hour + time.Second) // 90 days and a second
	_, err = h.s.LookupSession(h.ctx, b.tok)
	wantErr(t, err, store.ErrUnauthenticated, "past the absolute lifetime")
}

func testSessionListRevoke(t *testing.T, h *h) {
	addr := email("multi")
	a1 := h.login(addr)
	a2 := h.login(addr)
	other := h.login(email("other"))
	list, err := h.s.ListSessions(h.ctx, a1.tok)
	wantErr(t, err, nil, "ListSessions")
	if len(list) != 2 {
		t.Fatalf("%d sessions, want 2", len(list))
	}
	var cur, second store.Session
	for _, s := range list {
		if s.Current {
			cur = s
		} else {
			second = s
		}
	}
	if cur.ID == "" || second.ID == "" || cur.UserID != a1.ID {
		t.Fatalf("Current not set on exactly one session: %+v", list)
	}
	otherSess, _ := h.s.LookupSession(h.ctx, other.tok)
	// Someone else's session cannot be revoked, and is not revealed.
	wantErr(t, h.s.RevokeSession(h.ctx, a1.tok, otherSess.ID), store.ErrNotFound, "revoke another user's session")
	wantErr(t, must1(h.s.LookupSession(h.ctx, other.tok)), nil, "other session still alive")
	wantErr(t, h.s.RevokeSession(h.ctx, a1.tok, "ses_bad"), store.ErrInvalid, "bad session id")
	// Revoke my other machine.
	wantErr(t, h.s.RevokeSession(h.ctx, a1.tok, second.ID), nil, "revoke own other session")
	wantErr(t, must1(h.s.LookupSession(h.ctx, a2.tok)), store.ErrUnauthenticated, "revoked session")
	// Logout.
	wantErr(t, h.s.RevokeSession(h.ctx, a1.tok, ""), nil, "logout")
	wantErr(t, must1(h.s.LookupSession(h.ctx, a1.tok)), store.ErrUnauthenticated, "after logout")
	wantErr(t, h.s.RevokeSession(h.ctx, a1.tok, ""), store.ErrUnauthenticated, "logout twice")
}

func testNoPlaintextSecrets(t *testing.T, h *h) {
	addr := email("secret")
	const c = "918273"
	wantErr(t, must1(h.s.CreateLoginCode(h.ctx, addr, c, 0)), nil, "CreateLoginCode")
	dump := h.dump()
	if strings.Contains(dump, c) {
		t.Fatal("the login code is stored in plaintext")
	}
	u, err := h.s.VerifyLoginCode(h.ctx, addr, c)
	wantErr(t, err, nil, "VerifyLoginCode")
	token := randBytes(32)
	_, err = h.s.CreateSession(h.ctx, u.ID, store.HashToken(token), "x")
	wantErr(t, err, nil, "CreateSession")
	dump = h.dump()
	if strings.Contains(dump, hex.EncodeToString(token)) || strings.Contains(dump, string(token)) {
		t.Fatal("the session token is stored")
	}
	th := store.HashToken(token)
	if !strings.Contains(dump, hex.EncodeToString(th[:])) {
		t.Fatal("the session token hash is not where expected (dump broken?)")
	}
}

func testRateLimit(t *testing.T, h *h) {
	for i := 1; i <= 3; i++ {
		d, err := h.s.RateLimit(h.ctx, "login:a@example.com", 3, time.Minute)
		wantErr(t, err, nil, "RateLimit")
		if !d.Allowed || d.Count != int64(i) {
			t.Fatalf("hit %d: %+v", i, d)
		}
	}
	d, err := h.s.RateLimit(h.ctx, "login:a@example.com", 3, time.Minute)
	wantErr(t, err, nil, "RateLimit")
	if d.Allowed || d.Count != 4 {
		t.Fatalf("4th hit allowed: %+v", d)
	}
	if want := h.clock.Now().Add(time.Minute).Truncate(time.Microsecond); !d.ResetAt.Equal(want) {
		t.Fatalf("window ends %v, want %v", d.ResetAt, want)
	}
	// Another key has its own window.
	d, _ = h.s.RateLimit(h.ctx, "login:b@example.com", 3, time.Minute)
	if !d.Allowed || d.Count != 1 {
		t.Fatalf("other key: %+v", d)
	}
	h.clock.Advance(time.Minute)
	d, _ = h.s.RateLimit(h.ctx, "login:a@example.com", 3, time.Minute)
	if !d.Allowed || d.Count != 1 {
		t.Fatalf("new window: %+v", d)
	}
	_, err = h.s.RateLimit(h.ctx, "", 3, time.Minute)
	wantErr(t, err, store.ErrInvalid, "empty key")
	_, err = h.s.RateLimit(h.ctx, "k", 0, time.Minute)
	wantErr(t, err, store.ErrInvalid, "zero limit")
}

func testPurge(t *testing.T, h *h) {
	a := h.login(email("purge"))
	keep := h.login(email("keep"))
	_, _ = h.s.CreateLoginCode(h.ctx, email("pending"), "123456", 0)
	_, _ = h.s.RateLimit(h.ctx, "k", 1, time.Minute)
	h.clock.Advance(store.DefaultSessionIdle - time.Hour)
	_, _ = h.s.LookupSession(h.ctx, keep.tok)
	h.clock.Advance(2 * time.Hour)
	n, err := h.s.PurgeExpired(h.ctx)
	wantErr(t, err, nil, "PurgeExpired")
	if n != 3 { // a's session, the login code, the rate-limit window
		t.Fatalf("purged %d rows, want 3", n)
	}
	wantErr(t, must1(h.s.LookupSession(h.ctx, a.tok)), store.ErrUnauthenticated, "purged session")
	wantErr(t, must1(h.s.LookupSession(h.ctx, keep.tok)), nil, "live session kept")
	n, _ = h.s.PurgeExpired(h.ctx)
	if n != 0 {
		t.Fatalf("second purge removed %d rows", n)
	}
}

// must1 drops the value of a (value, error) pair.
func must1[T any](_ T, err error) error { return err }
