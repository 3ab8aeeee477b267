package abuse

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

// docRoute is one row of the route table of docs/api.md §3.
type docRoute struct {
	method, path string
	session      bool // auth S
	cookie       bool // auth C: the web console's cookie session only
	ops          bool // only on the operations listener
}

// documentedRoutes reads docs/api.md §3. internal/server's
// TestRouteTableIsDocumented keeps that table equal to the one capyd
// serves, so walking it reaches every route, new ones included.
func documentedRoutes(t *testing.T) []docRoute {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "\n## 3. Route table\n")
	table, _, _ = strings.Cut(table, "\n## 4.")
	row := regexp.MustCompile(`(?m)^\| (GET|POST|PUT|DELETE) \| (.*?) \| (.*?) \|`)
	path := regexp.MustCompile("`(/[^`]*)`")
	var out []docRoute
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		for _, p := range path.FindAllStringSubmatch(m[2], -1) {
			out = append(out, docRoute{method: m[1], path: p[1], session: m[3] == "S", cookie: m[3] == "C", ops: strings.Contains(m[2], "operations listener")})
		}
	}
	if len(out) < 30 {
		t.Fatalf("only %d routes read from docs/api.md §3", len(out))
	}
	return out
}

// rawHeader is raw with headers that may repeat (raw sets each once).
func (s *service) rawHeader(method, path string, body io.Reader, hdr http.Header) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.direct+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestUnknownQueryParameters: every route of docs/api.md §3 on the public
// listener, those that define no query parameters included (auth start
// and verify, logout, GET head and versions/{n}, every DELETE, deploy
// decrypt, /healthz), answers an unknown parameter, alone, repeated or
// next to a body the route would accept the shape of, with 400
// invalid-field naming it (docs/api.md §1.5). Nothing is done: the org
// and its audit chain are unchanged, no mail is sent, no session ends.
func TestUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	ctx := context.Background()
	o := s.apiOrg(t, "alice@example.com", "A")
	// A second session of alice: logout and session revocation would end
	// the one the walk uses, were they not refused.
	spare := s.apiLogin(o.owner.Email)
	me, err := spare.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := o.snapshot(t)
	mails := s.mail.count()
	// A pending share request, so that its GET route answers 200.
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := s.send(t, "", call{"POST", "/v1/share-requests", `{"public_key":"` + base64.RawURLEncoding.EncodeToString(spki) + `"}`})
	var created struct {
		Request struct{ ID string } `json:"request"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.Request.ID == "" {
		t.Fatalf("create a share request: %d %s", resp.StatusCode, body)
	}
	fill := strings.NewReplacer("{org}", o.org, "{prj}", o.prj, "{env}", o.env, "{invite}", o.inv,
		"{user}", o.owner.ID, "{dep}", o.dep, "{session}", me.Session.ID, "{n}", "1",
		"{share}", created.Request.ID)
	walked := 0
	for _, r := range documentedRoutes(t) {
		if r.ops {
			continue // not on the public listener (internal/server tests it)
		}
		if r.cookie {
			continue // a browser's cookie session (internal/server's TestConsoleQuery)
		}
		walked++
		path := fill.Replace(r.path)
		tok := o.owner.Token
		if r.path == "/v1/auth/logout" || r.path == "/v1/auth/sessions/{session}" {
			tok = spare.Token
		}
		if !r.session {
			tok = ""
		}
		for _, query := range []string{"capy_unknown=1", "capy_unknown=1&capy_unknown=2", "capy_unknown"} {
			c := call{r.method, path + "?" + query, ""}
			if r.method == "POST" || r.method == "PUT" {
				c.body = "{}"
			}
			resp, body := s.send(t, tok, c)
			if resp.StatusCode == http.StatusRequestEntityTooLarge {
				// A POST marked "body: none": ask again without one.
				c.body = ""
				resp, body = s.send(t, tok, c)
			}
			// Every refusal is listed (Errorf, not problemSlug's Fatalf on
			// a success), so a failing run names each route that took
			// the parameter.
			var p api.Problem
			if resp.StatusCode != http.StatusBadRequest || problemSlug(t, resp, body) != api.PInvalidField ||
				json.Unmarshal(body, &p) != nil || p.Field != "capy_unknown" {
				t.Errorf("%s %s: want 400 invalid-field naming capy_unknown, got %d %s", c.method, c.path, resp.StatusCode, body)
			}
		}
		// An empty query string is no parameter.
		if r.method == "GET" {
			if resp, body := s.send(t, tok, call{r.method, path + "?", ""}); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s? (empty query): %d %s", path, resp.StatusCode, body)
			}
		}
	}
	if walked < 30 {
		t.Fatalf("only %d routes walked", walked)
	}
	if after := o.snapshot(t); after != before {
		t.Errorf("refused query strings changed the org:\nbefore %s\nafter  %s", before, after)
	}
	if s.mail.count() != mails {
		t.Error("auth/start with an unknown parameter sent mail")
	}
	if _, err := spare.Me(ctx); err != nil {
		t.Errorf("the spare session after a refused logout and revocation: %v", err)
	}
}

// TestTwoContentTypes: a body sent with two Content-Type headers is 415
// unsupported-media-type on the routes without a session (auth, deploy
// decrypt), with one, with the co-decrypt gate, and with a blob, even
// when both are JSON: a proxy or filter in front of capyd may judge the
// body by the other value. The same body with one header gets past the
// media-type check (to invalid-field for its missing members). Nothing
// changes and no mail is sent.
func TestTwoContentTypes(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	o := s.apiOrg(t, "alice@example.com", "A")
	before := o.snapshot(t)
	mails := s.mail.count()
	org := "/v1/orgs/" + o.org
	env := org + "/projects/" + o.prj + "/envs/" + o.env
	routes := []struct {
		path    string
		session bool
	}{
		{"/v1/auth/start", false},
		{"/v1/auth/verify", false},
		{"/v1/deploys/" + o.dep + "/decrypt", false},
		{"/v1/orgs", true},
		{org + "/co-decrypt", true},
		{org + "/invites", true},
		{env + "/versions", true},
		{env + "/rotate", true},
	}
	for _, r := range routes {
		base := http.Header{}
		if r.session {
			base.Set("Authorization", "Bearer "+o.owner.Token)
		}
		for _, cts := range [][]string{
			{"application/json", "application/json"},
			{"application/json", "text/plain"},
			{"text/plain", "application/json"},
			{"application/json", "application/json; charset=utf-8"},
			{"application/json", ""},
		} {
			hdr := base.Clone()
			for _, ct := range cts {
				hdr.Add("Content-Type", ct)
			}
			resp, body := s.rawHeader("POST", r.path, strings.NewReader("{}"), hdr)
			if resp.StatusCode != http.StatusUnsupportedMediaType || problemSlug(t, resp, body) != api.PUnsupportedMediaType {
				t.Errorf("%s with Content-Type %q: want 415 unsupported-media-type, got %d %s", r.path, cts, resp.StatusCode, body)
			}
		}
		hdr := base.Clone()
		hdr.Set("Content-Type", "application/json")
		resp, body := s.rawHeader("POST", r.path, strings.NewReader("{}"), hdr)
		if problemSlug(t, resp, body) != api.PInvalidField {
			t.Errorf("%s with one Content-Type: %d %s", r.path, resp.StatusCode, body)
		}
	}
	if after := o.snapshot(t); after != before {
		t.Errorf("bodies with two Content-Types changed the org:\nbefore %s\nafter  %s", before, after)
	}
	if s.mail.count() != mails {
		t.Error("auth/start with two Content-Types sent mail")
	}
}
