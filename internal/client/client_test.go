package client

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
)

// These tests pin the client's own logic (retry policy, problem decoding,
// path checks) against a stub; the client is tested against the real
// capyd in internal/server's end-to-end tests.

const (
	org = "org_abcdefghijklmnopqrstuvwxyz"
	prj = "prj_234567abcdefghijklmnopqrst"
	env = "env_zyxwvutsrqponmlkjihgfedcba"
)

func stub(t *testing.T, h http.HandlerFunc, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, append([]Option{WithRetry(3, time.Millisecond), WithToken("capys_x")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stall is a handler that never answers: it counts the request and holds
// it until the client goes away or the test ends (t.Context ends before
// the server's Close waits for its handlers).
func stall(t *testing.T, hits *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		// The server notices a closed connection only once the body is read.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-t.Context().Done():
		}
	}
}

func problem(w http.ResponseWriter, slug api.ProblemType, status int, extra string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	w.Write([]byte(`{"type":"urn:capy:problem:` + string(slug) + `","title":"t","status":` + strconv.Itoa(status) +
		`,"request_id":"req_x"` + extra + `}`))
}

func TestRetriesOnlySafeRequests(t *testing.T) {
	var gets, pushes atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer capys_x" {
			t.Errorf("no bearer token")
		}
		if r.Method == http.MethodGet {
			gets.Add(1)
		} else {
			pushes.Add(1)
		}
		problem(w, api.PUnavailable, 503, "")
	})
	_, err := c.Head(context.Background(), org, prj, env)
	if !Is(err, api.PUnavailable) || gets.Load() != 3 {
		t.Fatalf("GET: %v after %d tries, want 3 tries", err, gets.Load())
	}
	_, err = c.Push(context.Background(), org, prj, env, "capy-blob 1\n")
	if !Is(err, api.PUnavailable) || pushes.Load() != 1 {
		t.Fatalf("push: %v after %d tries, want exactly 1", err, pushes.Load())
	}
}

func TestProblemCarriesExtensions(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		problem(w, api.PVersionConflict, 409, `,"head":{"version":8,"id":"abc"}`)
	})
	_, err := c.Push(context.Background(), org, prj, env, "x")
	p := ProblemOf(err)
	if p == nil || p.Slug() != api.PVersionConflict || p.Status != 409 || p.Head == nil || p.Head.Version != 8 {
		t.Fatalf("problem %+v (%v)", p, err)
	}
}

func TestNonProblemError(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusTeapot)
	})
	_, err := c.Me(context.Background())
	he, ok := err.(*HTTPError)
	if !ok || he.Status != http.StatusTeapot {
		t.Fatalf("err %T %v", err, err)
	}
}

func TestRefusesBadPathIDs(t *testing.T) {
	var calls atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for _, bad := range []string{"../../etc", "org_ABCDEFGHIJKLMNOPQRSTUVWXYZ", prj, "org_abcdefghijklmnopqrstuvwxyz/.."} {
		if _, err := c.Org(context.Background(), bad); err == nil {
			t.Errorf("Org(%q) sent", bad)
		}
	}
	if _, err := c.Head(context.Background(), org, env, prj); err == nil {
		t.Error("swapped ids accepted")
	}
	if calls.Load() != 0 {
		t.Fatalf("%d requests reached the server", calls.Load())
	}
}

func TestRefusesPlainHTTPElsewhere(t *testing.T) {
	if _, err := New("http://capy.example.com"); err == nil {
		t.Fatal("plain http to a remote host accepted")
	}
	if _, err := New("http://127.0.0.1:8787"); err != nil {
		t.Fatalf("loopback http refused: %v", err)
	}
}

// Each attempt has its own timeout; a stalled GET is tried again, a
// stalled push is not, and the error names the request (without its
// query) and how long the client waited.
func TestAttemptTimeout(t *testing.T) {
	var hits atomic.Int32
	c := stub(t, stall(t, &hits), WithAttemptTimeout(100*time.Millisecond))
	_, err := c.Sessions(context.Background(), "cursor-x", 5)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %T %v, want a *TimeoutError", err, err)
	}
	if te.Method != http.MethodGet || te.Path != "/v1/auth/sessions" || hits.Load() != 3 || te.Waited < 300*time.Millisecond {
		t.Fatalf("%+v after %d tries, want GET /v1/auth/sessions, 3 tries, ≥ 300ms", te, hits.Load())
	}
	if strings.Contains(err.Error(), "cursor-x") || strings.Contains(err.Error(), "capys_x") {
		t.Fatalf("the message shows the query or the token: %v", err)
	}
	hits.Store(0)
	_, err = c.Push(context.Background(), org, prj, env, "capy-blob 1\n")
	if !errors.As(err, &te) || te.Method != http.MethodPost || te.Path != "/v1/orgs/"+org+"/projects/"+prj+"/envs/"+env+"/versions" || hits.Load() != 1 {
		t.Fatalf("push: %v after %d tries, want a timeout of POST …/versions after exactly 1", err, hits.Load())
	}
}

// The caller's deadline bounds the whole request: the attempt in flight
// ends with it, even when the attempt's own timeout is longer, and no
// retry starts after it.
func TestDeadlineBoundsRequest(t *testing.T) {
	var hits atomic.Int32
	c := stub(t, stall(t, &hits), WithAttemptTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Me(ctx)
	took := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Path != "/v1/auth/me" {
		t.Fatalf("err %T %v, want a timeout of GET /v1/auth/me", err, err)
	}
	// Generous: the point is 0.3 s, not the minute of the attempt timeout.
	if took > 5*time.Second || hits.Load() != 1 {
		t.Fatalf("gave up after %v and %d tries, want about 300ms and 1", took, hits.Load())
	}
}

// A backoff that would outlast the caller's deadline is not waited for:
// the service's own answer is the error.
func TestDeadlineSkipsBackoff(t *testing.T) {
	var hits atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		problem(w, api.PUnavailable, 503, "")
	}, WithRetry(3, time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Me(ctx)
	if !Is(err, api.PUnavailable) || hits.Load() != 1 || time.Since(start) > time.Second {
		t.Fatalf("%v after %d tries and %v, want unavailable at once after 1", err, hits.Load(), time.Since(start))
	}
}

// An interrupt (a cancelled context) is not a timeout.
func TestCancelIsNotTimeout(t *testing.T) {
	var hits atomic.Int32
	c := stub(t, stall(t, &hits))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := c.Me(ctx)
	var te *TimeoutError
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Fatalf("err %T %v, want context.Canceled", err, err)
	}
}

// A redirect is never followed: neither the bearer token nor a request
// body reaches its target, whatever the status (301, 302, 303, 307, 308)
// and whether the target is another host or the same one.
func TestNoRedirects(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(target.Close)
	for _, status := range []int{301, 302, 303, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+r.URL.Path, status)
		}))
		c, err := New(srv.URL, WithToken("capys_secret"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Wrap(context.Background(), "org_abcdefghijklmnopqrstuvwxyz", []byte("inner"))
		var re *RedirectError
		if !errors.As(err, &re) || re.Status != status || !strings.Contains(re.Error(), target.URL) {
			t.Errorf("%d: %v, want a RedirectError naming the target", status, err)
		}
		srv.Close()
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the redirect target got %d request(s)", n)
	}
}

// TestRateLimitedSaysWhen: a 429's Retry-After reaches the error, which
// says when to retry (docs/api.md §1.8).
func TestRateLimitedSaysWhen(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		problem(w, api.PRateLimited, 429, "")
	})
	_, err := c.Me(context.Background())
	p := ProblemOf(err)
	if p == nil || p.Slug() != api.PRateLimited || p.RetryAfter != 12*time.Second {
		t.Fatalf("problem %+v (%v), want rate-limited with Retry-After 12 s", p, err)
	}
	if !strings.Contains(err.Error(), "retry in 12 s") {
		t.Fatalf("message %q does not say when to retry", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"": 0, "0": 0, "1": time.Second, "12": 12 * time.Second, "86400": maxRetryAfter,
		"99999999999999": maxRetryAfter, "-1": 0, "1.5": 0, " 3": 0, "Wed, 21 Oct 2015 07:28:00 GMT": 0, "+3": 0,
	} {
		if got := parseRetryAfter(h); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "12", "0012", "99999999999", "-1", "x", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if d := parseRetryAfter(h); d < 0 || d > maxRetryAfter || d%time.Second != 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", h, d)
		}
	})
}

// TestUnreachable: a closed port is an *UnreachableError naming the URL,
// not a timeout.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // the port is closed now
	c, err := New(url, WithRetry(1, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Me(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || ue.URL != url {
		t.Fatalf("error %T %v, want *UnreachableError for %s", err, err, url)
	}
	if !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "down or unreachable") {
		t.Fatalf("message %q", err)
	}
}

// TestProblemMessage: a detail that repeats the title is shown alone
// ("Not a member: you are not a member of this org" said it twice).
func TestProblemMessage(t *testing.T) {
	for _, c := range []struct {
		p    api.Problem
		want string
	}{
		{api.Problem{Title: "Not a member", Detail: "you are not a member of this org"}, "you are not a member of this org"},
		{api.Problem{Title: "Forbidden", Detail: "this needs the admin role"}, "Forbidden: this needs the admin role"},
		{api.Problem{Title: "Not found"}, "Not found"},
		{api.Problem{Title: "Too many requests", Detail: "the budget for these requests is used up", RetryAfter: 3 * time.Second},
			"Too many requests: the budget for these requests is used up (retry in 3 s)"},
	} {
		if got := c.p.Error(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.p, got, c.want)
		}
	}
}

// TestOnRefused: the hook runs at a 401 or a 403 answer, and at no other
// (a 404, a 500, a success), so what a session kept goes only when the
// service refused it.
func TestOnRefused(t *testing.T) {
	var status atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		switch s := int(status.Load()); s {
		case 200:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"org":{"id":"` + org + `"}}`))
		default:
			problem(w, api.PForbidden, s, "")
		}
	})
	var calls atomic.Int32
	c = c.OnRefused(func() { calls.Add(1) }).WithSession("capys_y")
	for _, s := range []int{200, 404, 500, 401, 403} {
		status.Store(int32(s))
		before := calls.Load()
		_, _ = c.Org(t.Context(), org)
		if got, want := calls.Load()-before > 0, s == 401 || s == 403; got != want {
			t.Errorf("status %d: hook ran %v, want %v", s, got, want)
		}
	}
}
