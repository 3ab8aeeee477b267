package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/buildinfo"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
)

func TestAudit(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e.push(w, w.member)
		all := must(w.admin.Audit(e.ctx, w.org, 0, "", 0))
		if uint64(len(all.Items)) != all.Head.Seq || all.NextCursor != nil || all.Items[0].Action != "org-create" {
			t.Fatalf("audit %+v", all)
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`).MatchString(all.Items[0].Time) {
			t.Fatalf("time %q", all.Items[0].Time)
		}
		// Pages by cursor, from a seq.
		p1 := must(w.admin.Audit(e.ctx, w.org, 3, "", 2))
		if len(p1.Items) != 2 || p1.Items[0].Seq != 3 || p1.NextCursor == nil {
			t.Fatalf("page 1 %+v", p1)
		}
		p2 := must(w.admin.Audit(e.ctx, w.org, 0, *p1.NextCursor, 2))
		if len(p2.Items) != 2 || p2.Items[0].Seq != 5 || p2.Items[0].PrevHash != p1.Items[1].Hash {
			t.Fatalf("page 2 %+v", p2)
		}
		_, err := w.member.Audit(e.ctx, w.org, 0, "", 0)
		wantProblem(t, err, api.PForbidden, "audit by a plain member")
		v := must(w.owner.AuditVerify(e.ctx, w.org))
		if !v.Valid || v.Rows != all.Head.Seq || v.Head != all.Head || v.FirstBadSeq != nil {
			t.Fatalf("verify %+v", v)
		}
		_, err = w.member.AuditVerify(e.ctx, w.org)
		wantProblem(t, err, api.PForbidden, "verify by a plain member")
		resp, body := e.raw("GET", "/v1/orgs/"+w.org+"/audit?from_seq=0", nil, map[string]string{"Authorization": "Bearer " + w.admin.Token})
		if p := rawProblem(t, resp, body, api.PInvalidField); p["field"] != "from_seq" {
			t.Fatalf("field %v", p["field"])
		}
		resp, body = e.raw("GET", "/v1/orgs/"+w.org+"/audit?limit=1001", nil, map[string]string{"Authorization": "Bearer " + w.admin.Token})
		rawProblem(t, resp, body, api.PInvalidField)
	})
}

// TestAuditEvents: the events a member's client reports get their fixed
// rows; a plain member cannot record a split; malformed fields are
// refused naming the field and change nothing.
func TestAuditEvents(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		res := must(w.owner.RecordAuditEvent(e.ctx, w.org, api.AuditEventRequest{Action: "recovery-split", Set: "5e1a", Scheme: "2:2-of-3,1-of-1"}))
		must(w.member.RecordAuditEvent(e.ctx, w.org, api.AuditEventRequest{Action: "recover", From: "shares", Set: "5e1a"}))
		all := must(w.admin.Audit(e.ctx, w.org, 0, "", 0))
		n := len(all.Items)
		split, rec := all.Items[n-2], all.Items[n-1]
		if split.Action != "recovery-split" || split.Actor != w.owner.ID || split.Target != w.owner.ID+" set=5e1a scheme=2:2-of-3,1-of-1" ||
			res.AuditHead.Seq != split.Seq || res.AuditHead.Hash != split.Hash {
			t.Fatalf("split row %+v, answer %+v", split, res)
		}
		if rec.Action != "recover" || rec.Target != w.member.ID+" from=shares set=5e1a" {
			t.Fatalf("recover row %+v", rec)
		}
		before := e.snapshot(w)
		_, err := w.member.RecordAuditEvent(e.ctx, w.org, api.AuditEventRequest{Action: "recovery-split", Set: "5e1a", Scheme: "2-of-3"})
		wantProblem(t, err, api.PForbidden, "a member records a split")
		for field, req := range map[string]api.AuditEventRequest{
			"action": {Action: "kick"},
			"set":    {Action: "recovery-split", Set: "zzzz", Scheme: "2-of-3"},
			"scheme": {Action: "recovery-split", Set: "5e1a", Scheme: "2 of 3"},
			"from":   {Action: "recover", From: "memory"},
		} {
			_, err := w.owner.RecordAuditEvent(e.ctx, w.org, req)
			if p := wantProblem(t, err, api.PInvalidField, field); p.Field != field {
				t.Fatalf("%s: field %q", field, p.Field)
			}
		}
		auth := map[string]string{"Authorization": "Bearer " + w.owner.Token, "Content-Type": "application/json"}
		resp, body := e.raw("POST", "/v1/orgs/"+w.org+"/audit/events", []byte(`{"action":"recover","from":"phrase","note":"free text"}`), auth)
		if p := rawProblem(t, resp, body, api.PInvalidField); p["field"] != "note" {
			t.Fatalf("unknown member: %v", p)
		}
		e.unchanged(w, before, "refused events")
	})
}

// TestHTTPConventions checks docs/api.md §1: routing answers, headers on
// every response, query and path rules.
func TestHTTPConventions(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		auth := map[string]string{"Authorization": "Bearer " + w.member.Token}
		reqID := regexp.MustCompile(`^req_[a-z2-7]{26}$`)
		check := func(resp *http.Response, body []byte, slug api.ProblemType) map[string]any {
			t.Helper()
			if !reqID.MatchString(resp.Header.Get("Capy-Request-Id")) || resp.Header.Get("Cache-Control") != "no-store" ||
				resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("headers %v", resp.Header)
			}
			if slug == "" {
				return nil
			}
			p := rawProblem(t, resp, body, slug)
			if p["request_id"] != resp.Header.Get("Capy-Request-Id") || p["title"] != api.Problems()[slug].Title {
				t.Fatalf("problem %v", p)
			}
			return p
		}
		resp, body := e.raw("GET", "/v1/nope", nil, nil)
		check(resp, body, api.PNotFound)
		resp, body = e.raw("GET", "/v1/orgs/", nil, auth)
		check(resp, body, api.PNotFound) // no trailing slashes
		resp, body = e.raw("GET", "/v1/orgs/org_bad", nil, auth)
		check(resp, body, api.PNotFound) // malformed id
		resp, body = e.raw("GET", "/v1/orgs/"+ident.NewID(ident.Project), nil, auth)
		check(resp, body, api.PNotFound) // id of the wrong kind
		resp, body = e.raw("GET", "/v1/orgs/org_bad", nil, nil)
		check(resp, body, api.PNotFound) // before the session check
		resp, body = e.raw("PATCH", "/v1/orgs/"+w.org, nil, auth)
		check(resp, body, api.PMethodNotAllowed)
		if resp.Header.Get("Allow") != "GET" {
			t.Fatalf("Allow %q", resp.Header.Get("Allow"))
		}
		resp, body = e.raw("DELETE", "/v1/orgs", nil, auth)
		check(resp, body, api.PMethodNotAllowed)
		if resp.Header.Get("Allow") != "GET, POST" {
			t.Fatalf("Allow %q", resp.Header.Get("Allow"))
		}
		resp, _ = e.raw("HEAD", "/v1/orgs", nil, auth)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("HEAD: %d", resp.StatusCode)
		}
		resp, body = e.raw("OPTIONS", "/v1/orgs", nil, auth)
		check(resp, body, api.PMethodNotAllowed)
		// A body on a route without one.
		resp, body = e.raw("GET", "/v1/orgs", []byte("{}"), auth)
		if p := check(resp, body, api.PBodyTooLarge); p["limit"] != float64(0) {
			t.Fatalf("limit %v", p["limit"])
		}
		// Query parameters: unknown, repeated, bad values.
		resp, body = e.raw("GET", "/v1/orgs?x=1", nil, auth)
		if p := check(resp, body, api.PInvalidField); p["field"] != "x" {
			t.Fatalf("field %v", p["field"])
		}
		resp, body = e.raw("GET", "/v1/orgs?limit=1&limit=2", nil, auth)
		if p := check(resp, body, api.PInvalidField); p["field"] != "limit" {
			t.Fatalf("field %v", p["field"])
		}
		for _, l := range []string{"0", "201", "01", "x"} {
			resp, body = e.raw("GET", "/v1/orgs?limit="+l, nil, auth)
			check(resp, body, api.PInvalidField)
		}
		// A success: JSON, the same headers.
		resp, body = e.raw("GET", "/v1/orgs/"+w.org, nil, auth)
		check(resp, body, "")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET org: %d %s", resp.StatusCode, body)
		}
		// A client-sent request id is ignored.
		resp, _ = e.raw("GET", "/healthz", nil, map[string]string{"Capy-Request-Id": "req_mine"})
		if resp.Header.Get("Capy-Request-Id") == "req_mine" {
			t.Fatal("client request id echoed")
		}
		// Every field of an object is present, absent ones as null.
		_, body = e.raw("GET", "/v1/orgs/"+w.org+"/projects/"+w.project+"/envs/"+w.env, nil, auth)
		var env map[string]any
		_ = json.Unmarshal(body, &env)
		obj := env["env"].(map[string]any)
		for _, k := range []string{"id", "org", "project", "name", "epoch", "signing_public_key", "head", "created_at", "rotated_at"} {
			if _, ok := obj[k]; !ok {
				t.Fatalf("env lacks %s: %s", k, body)
			}
		}
		if obj["created_at"] != "2031-03-04T05:06:09Z" {
			t.Fatalf("created_at %v (whole seconds, UTC)", obj["created_at"])
		}
	})
}

func TestOperations(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		must(w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, body := e.raw("GET", path, nil, nil)
			if resp.StatusCode != 200 || string(body) != `{"status":"ok"}` {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
			}
		}
		// /metrics only on the operations handler.
		resp, body := e.raw("GET", "/metrics", nil, nil)
		rawProblem(t, resp, body, api.PNotFound)
		ops := httptest.NewServer(e.srv.OpsHandler())
		defer ops.Close()
		build := buildinfo.Read("capyd")
		r, err := ops.Client().Get(ops.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		text, _ := io.ReadAll(r.Body)
		r.Body.Close()
		for _, want := range []string{
			`capyd_http_requests_total{method="POST",route="/v1/orgs/{org}/co-decrypt",status="200"} 1`,
			`capyd_http_request_duration_seconds_bucket{method="POST",route="/v1/orgs/{org}/co-decrypt"`,
			`capyd_audit_rows_total{action="co-decrypt",result="ok"} 1`,
			`capyd_login_codes_total{outcome="sent"} 3`,
			`capyd_login_codes_total{outcome="ok"} 3`,
			"go_goroutines", "process_",
			`capyd_build_info{commit="` + build.Commit + `",go_version="` + build.GoVersion + `",version="` + build.Version + `"} 1`,
		} {
			if !strings.Contains(string(text), want) {
				t.Fatalf("metrics lack %q", want)
			}
		}
		if strings.Contains(string(text), w.org) || strings.Contains(string(text), "@example.com") {
			t.Fatal("metrics carry ids or e-mail addresses")
		}
		r, _ = ops.Client().Get(ops.URL + "/readyz")
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("ops readyz %d", r.StatusCode)
		}
		// The ops listener's /healthz names the build; the public one
		// (above) does not.
		r, _ = ops.Client().Get(ops.URL + "/healthz")
		hb, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if want := `{"commit":"` + build.Commit + `","status":"ok","version":"` + build.Version + `"}`; r.StatusCode != 200 || string(hb) != want {
			t.Fatalf("ops healthz: %d %s, want %s", r.StatusCode, hb, want)
		}
		// The access log: one line per request, with the route pattern and
		// never a token, code, e-mail or id-bearing path.
		logs := e.logs.String()
		if !strings.Contains(logs, `"route":"/v1/orgs/{org}/co-decrypt"`) || !strings.Contains(logs, `"actor":"`+w.member.ID+`"`) ||
			!strings.Contains(logs, `"client_ip":"127.0.0.1"`) {
			t.Fatalf("access log lacks fields:\n%s", logs)
		}
		for _, secret := range []string{w.member.Token, w.member.Email, "capys_", "/v1/orgs/" + w.org, e.mail.code(t, w.member.Email)} {
			if strings.Contains(logs, secret) {
				t.Fatalf("the log contains %q", secret)
			}
		}

		// Draining: readyz 503 from now on, healthz still 200.
		e.srv.SetDraining()
		resp, body = e.raw("GET", "/readyz", nil, nil)
		rawProblem(t, resp, body, api.PUnavailable)
		if resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		resp, _ = e.raw("GET", "/healthz", nil, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("healthz while draining: %d", resp.StatusCode)
		}
	})
}

// TestDatabaseDown: with the database gone, readyz and the API answer 503
// unavailable, never 500 with internals.
func TestDatabaseDown(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e2 := startEnv(t, e.dbKind, e.st, e.kr, e.clock, Config{}, false)
		if err := e.st.Close(); err != nil {
			t.Fatal(err)
		}
		resp, body := e2.raw("GET", "/readyz", nil, nil)
		rawProblem(t, resp, body, api.PUnavailable)
		_, err := e2.client(w.member.Token).CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		p := wantProblem(t, err, api.PUnavailable, "co-decrypt with the database down")
		if strings.Contains(p.Detail, "sql") || strings.Contains(p.Detail, "closed") {
			t.Fatalf("detail leaks internals: %q", p.Detail)
		}
		resp, body = e2.raw("POST", "/v1/auth/start", []byte(`{"email":"`+addr("x")+`"}`), map[string]string{"Content-Type": "application/json"})
		rawProblem(t, resp, body, api.PUnavailable)
		if resp.Header.Get("Retry-After") != "5" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	})
}

func TestRateLimitCoDecrypt(t *testing.T) {
	t.Parallel()
	defer guard(t)
	e := newEnv(t, "sqlite", Config{}, true)
	w := e.world()
	var err error
	n := 0
	for ; n < 310 && err == nil; n++ {
		_, err = w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
	}
	wantProblem(t, err, api.PRateLimited, "co-decrypt per user")
	// 300 at once, shared with wrap: the member's enrolment took one.
	if n != 300 {
		t.Fatalf("limited at request %d, want 300", n)
	}
	// The answer says when: the next token is half a second away, which
	// Retry-After rounds up to a whole second.
	if p := client.ProblemOf(err); p == nil || p.RetryAfter != time.Second {
		t.Fatalf("Retry-After of %v, want 1 s", err)
	}
	// Another user is not affected.
	must(w.admin.CoDecrypt(e.ctx, w.org, w.outers[w.admin.ID]))
	// The bucket refills at 2 a second.
	e.clock.Advance(time.Second)
	for range 2 {
		must(w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
	}
	if _, err := w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]); !client.Is(err, api.PRateLimited) {
		t.Fatalf("third co-decrypt within a second of an empty bucket: %v", err)
	}
}

// TestKeysBudgetRealUse: the per-user budget of decision 66, on the
// service's clock. A loop of 300 `capy get` in 2 minutes passes, then a
// sustained 2 a second passes; flooding at 20 a second gets no more than
// the bucket and its refill.
func TestKeysBudgetRealUse(t *testing.T) {
	t.Parallel()
	defer guard(t)
	e := newEnv(t, "sqlite", Config{}, true)
	w := e.world()
	e.clock.Advance(time.Minute) // the enrolment's wrap is refilled
	read := func() error {
		_, err := w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID])
		return err
	}
	// 300 reads in 2 minutes, front-loaded the way a Makefile runs them:
	// 250 at once, then 50 spread over the rest.
	for i := range 300 {
		if i >= 250 {
			e.clock.Advance(2 * time.Second)
		}
		if err := read(); err != nil {
			t.Fatalf("read %d of 300 in 2 minutes: %v", i+1, err)
		}
	}
	// Sustained 2 a second for 2 more minutes.
	for i := range 240 {
		e.clock.Advance(500 * time.Millisecond)
		if err := read(); err != nil {
			t.Fatalf("sustained read %d at 2 a second: %v", i+1, err)
		}
	}
	// A flood at 20 a second for 20 s from a full bucket: the 300 and
	// 2 a second, 340, pass (one less where the float arithmetic of the
	// bucket lands a hair short of the last token).
	e.clock.Advance(10 * time.Minute)
	passed := 0
	for range 400 {
		e.clock.Advance(50 * time.Millisecond)
		if read() == nil {
			passed++
		}
	}
	if passed < 339 || passed > 340 {
		t.Fatalf("%d of 400 reads of a 20-a-second flood passed, want 340", passed)
	}
}

func TestClientIP(t *testing.T) {
	kr, _ := kekring.Generate()
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	s.SetKeyring(kr)
	for _, c := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:5000", "", "192.0.2.1"},
		{"192.0.2.1:5000", "203.0.113.9", "192.0.2.1"}, // an untrusted peer's header is ignored
		{"10.1.2.3:5000", "203.0.113.9", "203.0.113.9"},
		{"10.1.2.3:5000", "198.51.100.7, 203.0.113.9, 10.9.9.9", "203.0.113.9"},
		{"10.1.2.3:5000", "", "10.1.2.3"},
		{"10.1.2.3:5000", "garbage", "10.1.2.3"},
		{"[::1]:5000", "203.0.113.9", "::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientIP(r).String(); got != c.want {
			t.Errorf("%s via %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}
