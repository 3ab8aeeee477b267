package abuse

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sealed is a 61-byte inner sealed box of a random key.
func sealed(t *testing.T) []byte {
	var k [32]byte
	copy(k[:], randBytes(32))
	box, err := wrap.Seal(&k, randBytes(32), []byte("abuse"))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func b64(b []byte) string { return wrap.B64.EncodeToString(b) }

// apiOrg is an org made through the API: owner, project, environment
// with one pushed version, a deploy token and an open invite.
type apiOrg struct {
	owner         *apiUser
	org, prj, env string
	sign          ed25519.PrivateKey
	head          string // blob text of v1
	dep, inv      string
	outer         []byte // the owner's key.enc outer blob
}

func (s *service) apiOrg(t *testing.T, email, name string) *apiOrg {
	t.Helper()
	ctx := context.Background()
	o := &apiOrg{owner: s.apiLogin(email), org: ident.NewID(ident.Org), prj: ident.NewID(ident.Project), env: ident.NewID(ident.Env)}
	u := o.owner
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := u.CreateOrg(ctx, api.CreateOrgRequest{ID: o.org, Name: name, KeyCheck: hex.EncodeToString(randBytes(16))})
	must(err)
	o.outer, err = u.Wrap(ctx, o.org, sealed(t))
	must(err)
	_, err = u.CreateProject(ctx, o.org, api.CreateProjectRequest{ID: o.prj, Name: "web"})
	must(err)
	_, o.sign, _ = ed25519.GenerateKey(rand.Reader)
	_, err = u.CreateEnv(ctx, o.org, o.prj, api.CreateEnvRequest{ID: o.env, Name: "development", SigningPublicKey: api.Bytes(o.sign.Public().(ed25519.PublicKey))})
	must(err)
	o.head = o.blob(t, 1, wrap.NoParent)
	_, err = u.Push(ctx, o.org, o.prj, o.env, o.head)
	must(err)
	ak := randBytes(32)
	sum := sha256.Sum256(ak)
	d, err := u.MintDeploy(ctx, o.org, api.MintDeployRequest{Env: o.env, Epoch: 1, Name: "ci", Verifier: hex.EncodeToString(sum[:]), Inner: sealed(t)})
	must(err)
	o.dep = d.ID
	role := api.RoleMember
	inv, err := u.CreateInvite(ctx, o.org, api.CreateInviteRequest{Kind: "member", Email: "invitee-" + email, Role: &role, Inner: sealed(t)})
	must(err)
	o.inv = inv.ID
	return o
}

func (o *apiOrg) blob(t *testing.T, version uint64, parent string) string {
	t.Helper()
	var k [32]byte
	copy(k[:], randBytes(32))
	s, err := wrap.SealSnippet(&k, "abcde", "A", 0, "value")
	if err != nil {
		t.Fatal(err)
	}
	b, err := wrap.BuildBlob(o.sign, o.prj, o.env, 1, version, parent, []string{s})
	if err != nil {
		t.Fatal(err)
	}
	return string(b.Raw())
}

// snapshot is everything the org's owner can list: a refusal must leave
// it identical (audit chain included).
func (o *apiOrg) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	u := o.owner
	var parts []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		parts = append(parts, v)
	}
	add(u.Org(ctx, o.org))
	add(u.Members(ctx, o.org, "all", "", "", 200))
	add(u.Invites(ctx, o.org, "all", "", 200))
	add(u.Deploys(ctx, o.org, "", "", "all", "", 200))
	add(u.Projects(ctx, o.org, "", 200))
	add(u.Envs(ctx, o.org, o.prj, "", 200))
	add(u.Versions(ctx, o.org, o.prj, o.env, "", 200))
	add(u.Audit(ctx, o.org, 1, "", 1000))
	b, _ := json.Marshal(parts)
	return string(b)
}

// call is one raw API request.
type call struct {
	method, path, body string
}

func (s *service) send(t *testing.T, token string, c call) (*http.Response, []byte) {
	t.Helper()
	hdr := map[string]string{}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	var body io.Reader
	if c.body != "" {
		hdr["Content-Type"] = "application/json"
		body = strings.NewReader(c.body)
	}
	return s.raw(c.method, c.path, body, 0, hdr)
}

// orgRoutes is every org-scoped route with a well-formed body, naming the
// objects of org o (and user ids of its members).
func orgRoutes(t *testing.T, o *apiOrg, inner []byte, outer []byte, key []byte) []call {
	org := "/v1/orgs/" + o.org
	prj := org + "/projects/" + o.prj
	env := prj + "/envs/" + o.env
	next := o.blob(t, 2, wrap.BlobID([]byte(o.head)))
	text, _ := json.Marshal(next)
	return []call{
		{"GET", org, ""},
		{"POST", org + "/wrap", `{"purpose":"key","inner":"` + b64(inner) + `"}`},
		{"POST", org + "/co-decrypt", `{"outer":"` + b64(outer) + `"}`},
		{"POST", org + "/invites", `{"kind":"member","email":"mallory@example.com","role":"owner","inner":"` + b64(inner) + `"}`},
		{"GET", org + "/invites?status=all", ""},
		{"DELETE", org + "/invites/" + o.inv, ""},
		{"GET", org + "/members?status=all", ""},
		{"PUT", org + "/members/" + o.owner.ID + "/role", `{"role":"member"}`},
		{"POST", org + "/members/" + o.owner.ID + "/kick", `{}`},
		{"POST", org + "/projects", `{"id":"` + ident.NewID(ident.Project) + `","name":"evil"}`},
		{"GET", org + "/projects", ""},
		{"GET", prj, ""},
		{"POST", prj + "/envs", `{"id":"` + ident.NewID(ident.Env) + `","name":"evil","signing_public_key":"` + b64(key) + `"}`},
		{"GET", prj + "/envs", ""},
		{"GET", env, ""},
		{"POST", env + "/rotate", `{"epoch":2,"signing_public_key":"` + b64(key) + `","text":` + string(text) + `}`},
		{"GET", env + "/head", ""},
		{"GET", env + "/versions", ""},
		{"GET", env + "/versions/1", ""},
		{"POST", env + "/versions", `{"text":` + string(text) + `}`},
		{"POST", org + "/deploys", `{"env":"` + o.env + `","epoch":1,"name":"evil","verifier":"` + strings.Repeat("ab", 32) + `","inner":"` + b64(inner) + `"}`},
		{"GET", org + "/deploys?status=all", ""},
		{"DELETE", org + "/deploys/" + o.dep, ""},
		{"GET", org + "/audit", ""},
		{"GET", org + "/audit/verify", ""},
		{"POST", org + "/audit/events", `{"action":"recovery-split","set":"5e1a","scheme":"2-of-3"}`},
	}
}

// TestSessionOfAnotherOrg: alice, a member (owner) of org A, uses her
// valid session token on every route of org B: each answers 403
// not-a-member, and org B is unchanged (its audit chain too). B's objects
// named under A's path are 404 not-found; so is revoking bob's session.
func TestSessionOfAnotherOrg(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	ctx := context.Background()
	a := s.apiOrg(t, "alice@example.com", "A")
	b := s.apiOrg(t, "bob@example.com", "B")
	before := b.snapshot(t)
	key := randBytes(32)
	for _, c := range orgRoutes(t, b, sealed(t), a.outer, key) {
		resp, body := s.send(t, a.owner.Token, c)
		if slug := problemSlug(t, resp, body); slug != api.PNotAMember || resp.StatusCode != 403 {
			t.Fatalf("%s %s with a token of another org: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	// The same with an org id that does not exist: the same answer, so org
	// ids cannot be probed.
	ghost := &apiOrg{owner: b.owner, org: ident.NewID(ident.Org), prj: b.prj, env: b.env, head: b.head, inv: b.inv, dep: b.dep, sign: b.sign}
	for _, c := range orgRoutes(t, ghost, sealed(t), a.outer, key) {
		resp, body := s.send(t, a.owner.Token, c)
		if slug := problemSlug(t, resp, body); slug != api.PNotAMember {
			t.Fatalf("%s %s on an unknown org: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	// B's objects under A's org (where alice is owner): not-found.
	mixed := &apiOrg{owner: b.owner, org: a.org, prj: b.prj, env: b.env, head: b.head, inv: b.inv, dep: b.dep, sign: b.sign}
	for _, c := range orgRoutes(t, mixed, sealed(t), a.outer, key) {
		if !strings.Contains(c.path, b.prj) && !strings.Contains(c.path, b.inv) && !strings.Contains(c.path, b.dep) &&
			!strings.Contains(c.path, b.owner.ID) && !strings.Contains(c.body, b.env) {
			continue // routes on A's own objects
		}
		resp, body := s.send(t, a.owner.Token, c)
		if slug := problemSlug(t, resp, body); slug != api.PNotFound {
			t.Fatalf("%s %s: B's object through A: %d %s", c.method, c.path, resp.StatusCode, body)
		}
	}
	// A's environment id under B's project inside A: not-found too.
	resp, body := s.send(t, a.owner.Token, call{"GET", "/v1/orgs/" + a.org + "/projects/" + b.prj + "/envs/" + a.env + "/head", ""})
	if problemSlug(t, resp, body) != api.PNotFound {
		t.Fatalf("A's env under B's project: %s", body)
	}
	// Alice cannot revoke bob's session (same answer as an unknown one).
	bobMe, err := b.owner.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = s.send(t, a.owner.Token, call{"DELETE", "/v1/auth/sessions/" + bobMe.Session.ID, ""})
	if problemSlug(t, resp, body) != api.PNotFound {
		t.Fatalf("revoking another user's session: %d %s", resp.StatusCode, body)
	}
	if _, err := b.owner.Me(ctx); err != nil {
		t.Fatalf("bob's session after alice's attempt: %v", err)
	}
	// Alice's own org still works for her: the refusals were about B.
	if _, err := a.owner.CoDecrypt(ctx, a.org, a.outer); err != nil {
		t.Fatalf("alice in her own org: %v", err)
	}
	if after := b.snapshot(t); after != before {
		t.Fatalf("org B changed:\nbefore %s\nafter  %s", before, after)
	}
}

// nested returns a JSON object whose member x holds depth arrays.
func nested(depth int) string {
	return `{"x":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
}

// chunked is a body without a Content-Length (sent chunked).
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestOversizedAndNestedJSON: bodies above a route's limit are 413
// body-too-large, whether the length is declared or the body is chunked;
// bodies nested deeper than 4 (up to a bracket bomb filling the limit) are
// 400 malformed-json, never 500; and nothing changes (no mail, no row).
func TestOversizedAndNestedJSON(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	o := s.apiOrg(t, "alice@example.com", "A")
	before := o.snapshot(t)
	mails := s.mail.count()
	org := "/v1/orgs/" + o.org
	env := org + "/projects/" + o.prj + "/envs/" + o.env
	routes := []struct {
		path  string
		auth  bool
		limit int
	}{
		{"/v1/auth/start", false, 4 << 10},
		{"/v1/auth/verify", false, 4 << 10},
		{"/v1/deploys/" + o.dep + "/decrypt", false, 4 << 10},
		{"/v1/orgs", true, 64 << 10},
		{org + "/co-decrypt", true, 64 << 10},
		{org + "/invites", true, 64 << 10},
		{org + "/members/" + o.owner.ID + "/kick", true, 64 << 10},
		{env + "/versions", true, 9 << 20},
		{env + "/rotate", true, 9 << 20},
	}
	for _, r := range routes {
		hdr := map[string]string{"Content-Type": "application/json"}
		if r.auth {
			hdr["Authorization"] = "Bearer " + o.owner.Token
		}
		// Declared too large: refused before the body is read.
		big := `{"x":"` + strings.Repeat("a", r.limit) + `"}`
		resp, body := s.raw("POST", r.path, strings.NewReader(big), int64(len(big)), hdr)
		p := map[string]any{}
		if problemSlug(t, resp, body) != api.PBodyTooLarge || json.Unmarshal(body, &p) != nil || p["limit"] != float64(r.limit) {
			t.Fatalf("%s: declared %d bytes: %d %s", r.path, len(big), resp.StatusCode, body)
		}
		// The same without a declared length (chunked).
		resp, body = s.raw("POST", r.path, chunked{strings.NewReader(big)}, -1, hdr)
		if problemSlug(t, resp, body) != api.PBodyTooLarge {
			t.Fatalf("%s: chunked %d bytes: %d %s", r.path, len(big), resp.StatusCode, body)
		}
		// Nested one level too deep, and a bracket bomb filling the limit.
		for _, depth := range []int{4, 1000, r.limit/2 - 8} {
			b := nested(depth)
			resp, body = s.raw("POST", r.path, strings.NewReader(b), int64(len(b)), hdr)
			if problemSlug(t, resp, body) != api.PMalformedJSON {
				t.Fatalf("%s: depth %d: %d %s", r.path, depth, resp.StatusCode, body[:min(len(body), 300)])
			}
		}
		// Deep nesting inside a valid member's value.
		deep := `{"email":"a@b.io","x":{"y":{"z":{"w":{}}}}}`
		resp, body = s.raw("POST", r.path, strings.NewReader(deep), int64(len(deep)), hdr)
		if problemSlug(t, resp, body) != api.PMalformedJSON {
			t.Fatalf("%s: nested objects: %d %s", r.path, resp.StatusCode, body)
		}
	}
	// A GET with any body at all is 413 (its limit is 0).
	resp, body := s.raw("GET", org, bytes.NewReader([]byte("{}")), 2, map[string]string{"Authorization": "Bearer " + o.owner.Token})
	if problemSlug(t, resp, body) != api.PBodyTooLarge {
		t.Fatalf("GET with a body: %d %s", resp.StatusCode, body)
	}
	if after := o.snapshot(t); after != before {
		t.Fatalf("refused bodies changed the org:\nbefore %s\nafter  %s", before, after)
	}
	if s.mail.count() != mails {
		t.Fatalf("a refused auth/start sent mail")
	}
	if _, err := o.owner.Me(context.Background()); err != nil {
		t.Fatalf("service after the bodies: %v", err)
	}
}
