package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

// documentedRoutes reads the route table of docs/api.md §3 as
// "METHOD /path" lines.
func documentedRoutes(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "\n## 3. Route table\n")
	table, _, _ = strings.Cut(table, "\n## 4.")
	row := regexp.MustCompile(`(?m)^\| (GET|POST|PUT|DELETE) \| (.*?) \|`)
	path := regexp.MustCompile("`(/[^`]*)`")
	var out []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		for _, p := range path.FindAllStringSubmatch(m[2], -1) {
			out = append(out, m[1]+" "+p[1])
		}
	}
	return out
}

// TestRouteTableIsDocumented: the service's route table (both listeners)
// is exactly the table of docs/api.md §3, so tests that walk the
// documented table (internal/e2e/abuse) reach every route.
func TestRouteTableIsDocumented(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{}, false)
	var served []string
	for _, public := range []bool{true, false} {
		for _, rt := range e.srv.routes(public) {
			if r := rt.method + " " + rt.pattern; !slices.Contains(served, r) {
				served = append(served, r)
			}
		}
	}
	doc := documentedRoutes(t)
	slices.Sort(served)
	slices.Sort(doc)
	if !slices.Equal(served, doc) {
		t.Fatalf("the route table differs from docs/api.md §3:\nserved     %q\ndocumented %q", served, doc)
	}
}

// rawHeader is e.raw with a header that may repeat (e.raw sets each
// header once).
func (e *env) rawHeader(method, path string, body []byte, hdr http.Header) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestQueryOnlyWhatTheRouteLists walks the route table: every route,
// including those that define no query parameters (GET head, DELETE,
// logout, auth, deploy decrypt, the operations routes), answers an
// unknown or repeated parameter with 400 invalid-field naming it
// (docs/api.md §1.5), before its handler acts: nothing changes, no mail
// is sent. An empty query string ("?") is no parameter.
func TestQueryOnlyWhatTheRouteLists(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		e.push(w, w.owner)
		dep := e.mint(w, w.owner, 1)
		role := api.RoleMember
		inv := must(w.owner.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: addr("invitee"), Role: &role, Inner: sealed()}))
		// A second session of the owner: logout and session revocation
		// would end the one the walk uses, were they not refused.
		spare := e.login(w.owner.Email)
		spareID := must(spare.Me(e.ctx)).Session.ID
		console := e.consoleLogin(w.owner.Email)
		before := e.snapshot(w)
		mails := e.mail.count()
		shareID := ident.NewShareID()
		if _, err := e.st.CreateShareRequest(e.ctx, shareID, []byte("a page's public key")); err != nil {
			t.Fatal(err)
		}
		fill := strings.NewReplacer("{org}", w.org, "{prj}", w.project, "{env}", w.env, "{invite}", inv.ID,
			"{user}", w.member.ID, "{dep}", dep.ID, "{session}", spareID, "{n}", "1", "{share}", shareID)
		walk := func(public bool, send func(rt route, path string, body []byte, hdr map[string]string) (*http.Response, []byte)) {
			for _, rt := range e.srv.routes(public) {
				hdr := map[string]string{}
				switch {
				case rt.auth == authSession && strings.HasPrefix(rt.pattern, "/v1/console/"):
					// The console's own session routes take its cookie.
					hdr["Cookie"] = console.cookie.Name + "=" + console.cookie.Value
					hdr["Origin"], hdr[csrfHeader] = publicURL, console.csrf
				case rt.auth == authSession:
					hdr["Authorization"] = "Bearer " + w.owner.Token
					if rt.pattern == "/v1/auth/logout" || rt.pattern == "/v1/auth/sessions/{session}" {
						hdr["Authorization"] = "Bearer " + spare.Token
					}
				}
				var body []byte
				if rt.limit > 0 {
					// A body the route would otherwise read: the query
					// is refused whatever the body holds.
					body = []byte("{}")
					hdr["Content-Type"] = "application/json"
				}
				path := fill.Replace(rt.pattern)
				for query, field := range map[string]string{
					"capy_unknown=1":                 "capy_unknown",
					"zz=1&capy_unknown=2":            "capy_unknown", // the first in name order, every time
					"capy_unknown=1&capy_unknown=1":  "capy_unknown",
					"capy_unknown":                   "capy_unknown",
					"limit=1&limit=1&capy_unknown=1": "capy_unknown",
					"=1":                             "query",
					"a=1;b=2":                        "query",
					"a=%zz":                          "query",
				} {
					resp, b := send(rt, path+"?"+query, body, hdr)
					if p := rawProblem(t, resp, b, api.PInvalidField); p["field"] != field {
						t.Fatalf("%s %s?%s: field %v, want %s", rt.method, rt.pattern, query, p["field"], field)
					}
				}
				if rt.method == http.MethodGet {
					if resp, b := send(rt, path+"?", nil, hdr); resp.StatusCode != http.StatusOK {
						t.Fatalf("%s %s? (empty query): %d %s", rt.method, rt.pattern, resp.StatusCode, b)
					}
				}
			}
		}
		walk(true, func(rt route, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
			return e.raw(rt.method, path, body, hdr)
		})
		ops := e.srv.OpsHandler()
		walk(false, func(rt route, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
			req := httptest.NewRequestWithContext(e.ctx, rt.method, path, bytes.NewReader(body))
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			ops.ServeHTTP(rec, req)
			return rec.Result(), rec.Body.Bytes()
		})
		e.unchanged(w, before, "refused query strings")
		if e.mail.count() != mails {
			t.Fatal("auth/start with a refused query string sent mail")
		}
		if _, err := spare.Me(e.ctx); err != nil {
			t.Fatalf("the spare session after refused logouts and revocations: %v", err)
		}
		// Parameters a route lists still work next to the check.
		if _, b := e.raw("GET", "/v1/orgs/"+w.org+"/members?status=all&limit=1", nil, map[string]string{"Authorization": "Bearer " + w.owner.Token}); !strings.Contains(string(b), `"next_cursor":"`) {
			t.Fatalf("listed parameters: %s", b)
		}
	})
}

// TestQueryCheckOrder: the query string is step 7 of docs/api.md §1.7,
// after the session and the membership, on ordinary routes and on
// co-decrypt, whose gate checks both inside its transaction.
func TestQueryCheckOrder(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		outsider := e.login(addr("outsider"))
		co := "/v1/orgs/" + w.org + "/co-decrypt?capy_unknown=1"
		body := []byte(`{"outer":"` + b64(w.outers[w.member.ID]) + `"}`)
		jsonCT := map[string]string{"Content-Type": "application/json"}
		authed := func(tok string) map[string]string {
			return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
		}
		resp, b := e.raw("GET", "/v1/auth/me?capy_unknown=1", nil, nil)
		rawProblem(t, resp, b, api.PUnauthenticated)
		resp, b = e.raw("GET", "/v1/orgs/"+w.org+"/projects/"+w.project+"/envs/"+w.env+"/head?capy_unknown=1", nil, map[string]string{"Authorization": "Bearer " + outsider.Token})
		rawProblem(t, resp, b, api.PNotAMember)
		resp, b = e.raw("POST", co, body, jsonCT)
		rawProblem(t, resp, b, api.PUnauthenticated)
		resp, b = e.raw("POST", co, body, authed(outsider.Token))
		rawProblem(t, resp, b, api.PNotAMember)
		// A member: the query is refused and nothing is released.
		resp, b = e.raw("POST", co, body, authed(w.member.Token))
		if p := rawProblem(t, resp, b, api.PInvalidField); p["field"] != "capy_unknown" || strings.Contains(string(b), "inner") {
			t.Fatalf("co-decrypt with an unknown parameter: %s", b)
		}
		// And only the query: the same request without it succeeds.
		resp, b = e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", body, authed(w.member.Token))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("co-decrypt: %d %s", resp.StatusCode, b)
		}
	})
}

// TestOneContentType: a body with more than one Content-Type header is
// 415 unsupported-media-type on every kind of body route (no session,
// session, gated, blob), even when every value is JSON: something in
// front of the service could judge the body by another value than the
// service does. The same body with one JSON header gets past the media
// type check (to invalid-field for the missing members).
func TestOneContentType(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		dep := e.mint(w, w.owner, 1)
		before := e.snapshot(w)
		mails := e.mail.count()
		routes := []struct {
			path    string
			session bool
		}{
			{"/v1/auth/start", false},
			{"/v1/auth/verify", false},
			{"/v1/deploys/" + dep.ID + "/decrypt", false},
			{"/v1/orgs", true},
			{"/v1/orgs/" + w.org + "/co-decrypt", true},
			{"/v1/orgs/" + w.org + "/projects/" + w.project + "/envs/" + w.env + "/versions", true},
		}
		for _, r := range routes {
			tok := http.Header{}
			if r.session {
				tok.Set("Authorization", "Bearer "+w.owner.Token)
			}
			for _, cts := range [][]string{
				{"application/json", "application/json"},
				{"application/json", "text/plain"},
				{"text/plain", "application/json"},
				{"application/json", "application/json; charset=utf-8"},
				{"application/json", ""},
				{"application/json, text/plain"}, // one header, two values
			} {
				hdr := tok.Clone()
				for _, ct := range cts {
					hdr.Add("Content-Type", ct)
				}
				resp, b := e.rawHeader("POST", r.path, []byte("{}"), hdr)
				rawProblem(t, resp, b, api.PUnsupportedMediaType)
			}
			hdr := tok.Clone()
			hdr.Set("Content-Type", "application/json")
			resp, b := e.rawHeader("POST", r.path, []byte("{}"), hdr)
			rawProblem(t, resp, b, api.PInvalidField)
		}
		e.unchanged(w, before, "bodies with two Content-Types")
		if e.mail.count() != mails {
			t.Fatal("auth/start with two Content-Types sent mail")
		}
	})
}
