package browser

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/e2e/browser/browsertest"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/testvectors"
	"github.com/capy-oss/capy/internal/web"
)

// team is an org set up with the real capy CLI against a real capyd:
// alice (owner) with a project pushed twice, bob (a member who redeemed
// his invite), an open invite for carol and one for dan, a deploy token
// and a second session of alice's.
type team struct {
	t    *testing.T
	d    *e2etest.Capyd
	capy string
	root string
	org  string
}

func (w *team) run(home, dir, stdin string, args ...string) string {
	w.t.Helper()
	cmd := exec.Command(w.capy, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CAPY_HOME="+home, "CAPY_SERVICE="+w.d.URL, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		w.t.Fatalf("capy %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func (w *team) login(home, email string) {
	w.t.Helper()
	skip := len(e2etest.MailLines(w.d.MailLog))
	cmd := exec.Command(w.capy, "login", email)
	cmd.Env = append(os.Environ(), "CAPY_HOME="+home, "CAPY_SERVICE="+w.d.URL, "NO_COLOR=1")
	stdin, _ := cmd.StdinPipe()
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	code, err := e2etest.WaitCode(w.d.MailLog, email, skip, 30*time.Second)
	if err != nil {
		w.t.Fatal(err)
	}
	fmt.Fprintln(stdin, code)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		w.t.Fatalf("login %s: %v\n%s", email, err, errb.String())
	}
}

func (w *team) home(name string) string { return filepath.Join(w.root, "home-"+name) }

func setUpTeam(t *testing.T) *team {
	w := &team{t: t, d: e2etest.StartCapyd(t, e2etest.CapydOptions{}), capy: e2etest.CapyBin(t), root: t.TempDir()}
	repoA, repoB := filepath.Join(w.root, "a"), filepath.Join(w.root, "b")
	for _, d := range []string{repoA, filepath.Join(repoB, ".capy")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(repoA, ".env"), []byte("DATABASE_URL=postgres://app:pw-Zq8vK2@db/app\nAPI_KEY=sk-live-Hn4Wx7Pq\n"), 0o600)
	w.login(w.home("alice"), "alice@example.com")
	w.run(w.home("alice"), repoA, "", "init", "--yes", "--new-org", "Acme", "--project", "web")
	w.run(w.home("alice"), repoA, "", "set", "FEATURE_FLAG=on")
	code := strings.TrimSpace(w.run(w.home("alice"), repoA, "", "invite", "bob@example.com"))
	data, _ := os.ReadFile(filepath.Join(repoA, ".capy", "project.json"))
	os.WriteFile(filepath.Join(repoB, ".capy", "project.json"), data, 0o644)
	w.login(w.home("bob"), "bob@example.com")
	w.run(w.home("bob"), repoB, "", "redeem", "--yes", code)
	w.run(w.home("alice"), repoA, "", "invite", "carol@example.com")
	w.run(w.home("alice"), repoA, "", "invite", "dan@example.com", "--role", "admin")
	w.run(w.home("alice"), repoA, "", "deploy", "--name", "prod-ci")
	w.login(w.home("alice2"), "alice@example.com")
	var orgs []struct{ ID string }
	if err := json.Unmarshal([]byte(w.run(w.home("alice"), repoA, "", "orgs", "--json")), &orgs); err != nil || len(orgs) != 1 {
		t.Fatalf("orgs: %v %v", orgs, err)
	}
	w.org = orgs[0].ID
	return w
}

// responses records every response the console's page received, to scan
// them afterwards.
type responses struct {
	mu  sync.Mutex
	ids map[network.RequestID]string // request → URL
}

func (r *responses) listen(ev any) {
	if e, ok := ev.(*network.EventResponseReceived); ok {
		r.mu.Lock()
		r.ids[e.RequestID] = e.Response.URL
		r.mu.Unlock()
	}
}

// keyFields are the JSON fields that carry a key, a wrapped key, a value
// or a secret token in the API (docs/api.md §2, §4): none may reach the
// console.
var keyFields = []string{"inner", "outer", "rewrapped", "text", "token", "auth_key", "code", "key_enc", "blob"}

// scan fetches every recorded response body from the browser and fails on
// any key field, session token or secret value in it.
func (r *responses) scan(t *testing.T, ctx context.Context, secrets []string) int {
	t.Helper()
	r.mu.Lock()
	ids := make(map[network.RequestID]string, len(r.ids))
	for k, v := range r.ids {
		ids[k] = v
	}
	r.mu.Unlock()
	apiSeen := 0
	for id, url := range ids {
		body, err := chromedp.Run(ctx, chromedp.Action[[]byte](func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
			res, err := cdp.Call(ctx, tg, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
			return res.Body, err
		}))
		if err != nil {
			continue // a body the browser no longer holds (a 204, a navigation's)
		}
		if !strings.Contains(url, "/v1/") {
			continue
		}
		apiSeen++
		var v any
		if len(body) > 0 {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Errorf("%s: not JSON: %.100s", url, body)
				continue
			}
		}
		walkJSON(v, func(key string) {
			for _, f := range keyFields {
				if key == f {
					t.Errorf("%s: the console received a %q field", url, key)
				}
			}
		})
		for _, s := range secrets {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("%s: the console received a secret value", url)
			}
		}
		if regexp.MustCompile(`capy[sc]_[A-Za-z0-9_-]{43}`).Match(body) {
			t.Errorf("%s: the console received a session token", url)
		}
	}
	return apiSeen
}

func walkJSON(v any, key func(string)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			key(k)
			walkJSON(e, key)
		}
	case []any:
		for _, e := range x {
			walkJSON(e, key)
		}
	}
}

// js runs an expression in the page (awaiting a promise) and returns its
// value.
func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return browsertest.Get(t, ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// until waits for expr to be truthy in the page.
func until(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage:\n%s", what, err, text)
	}
}

// click clicks the element selector names, in the page.
func click(t *testing.T, ctx context.Context, selector string) {
	t.Helper()
	if !js[bool](t, ctx, fmt.Sprintf(`(() => { const b = document.querySelector(%q); if (!b) return false; b.click(); return true; })()`, selector)) {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("no %s on the page:\n%s", selector, text)
	}
}

func tab(t *testing.T, ctx context.Context, name, ready string) {
	t.Helper()
	click(t, ctx, `nav.tabs button[data-tab="`+name+`"]`)
	until(t, ctx, name, fmt.Sprintf(`document.getElementById('view').dataset.tab === %q && !!document.querySelector(%q)`, name, ready))
}

// TestConsole drives the console in headless Chromium against a real
// capyd whose org the real CLI set up: sign-in with the code from
// mail.log, every list, a role change, a kick, revoking an invite, a
// deploy token and a session, the audit chain verified in the browser and
// found broken once a row is edited in the database, CSRF refusals, the
// key routes refused to the cookie, sign-out; and no response the page
// received holds a key field or a value.
func TestConsole(t *testing.T) {
	ctx := browsertest.New(t)
	w := setUpTeam(t)
	rec := &responses{ids: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, rec.listen); err != nil {
		t.Fatal(err)
	}

	// Sign in.
	browsertest.Do(t, ctx, chromedp.Navigate(w.d.URL+"/console"))
	until(t, ctx, "the sign-in form", `!document.getElementById('login').classList.contains('hidden')`)
	browsertest.Screenshots(t, ctx, "console-signin")
	skip := len(e2etest.MailLines(w.d.MailLog))
	js[bool](t, ctx, `(() => { document.getElementById('email').value = 'alice@example.com'; document.getElementById('start-form').requestSubmit(); return true; })()`)
	until(t, ctx, "the code form", `!document.getElementById('verify-form').classList.contains('hidden')`)
	code, err := e2etest.WaitCode(w.d.MailLog, "alice@example.com", skip, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshots(t, ctx, "console-code")
	js[bool](t, ctx, fmt.Sprintf(`(() => { document.getElementById('code').value = %q; document.getElementById('verify-form').requestSubmit(); return true; })()`, code))
	until(t, ctx, "the projects", `!!document.querySelector('.project[data-project="web"] tr[data-env]')`)
	if who := js[string](t, ctx, `document.getElementById('who').textContent`); who != "alice@example.com" {
		t.Fatalf("signed in as %q", who)
	}
	// The session's secret is HttpOnly: the page's script cannot read it.
	if c := js[string](t, ctx, `document.cookie`); strings.Contains(c, "capy") {
		t.Fatalf("the page's script reads the session cookie: %q", c)
	}

	// Projects, environments and versions.
	click(t, ctx, `.project[data-project="web"] tr[data-env] button`)
	until(t, ctx, "the versions", `!!document.querySelector('tr[data-version="2"]')`)
	if txt := js[string](t, ctx, `document.querySelector('tr[data-version="2"]').innerText`); !strings.Contains(txt, "alice@example.com") {
		t.Fatalf("version 2 row: %q", txt)
	}
	browsertest.Screenshots(t, ctx, "console-projects")

	// Members and roles: alice (owner) makes bob an admin.
	tab(t, ctx, "members", `tr[data-member="bob@example.com"]`)
	browsertest.Screenshots(t, ctx, "console-members")
	js[bool](t, ctx, `(() => { document.querySelector('tr[data-member="bob@example.com"] select').value = 'admin'; return true; })()`)
	click(t, ctx, `tr[data-member="bob@example.com"] td[data-label="Role"] button`)
	until(t, ctx, "the role change", `document.getElementById('flash').textContent.includes('is now admin')`)
	if role := js[string](t, ctx, `document.querySelector('tr[data-member="bob@example.com"] select').value`); role != "admin" {
		t.Fatalf("bob's role after the change: %q", role)
	}

	// CSRF: a change without the token, from the console's own page, is
	// refused, and nothing changes.
	bobID := js[string](t, ctx, fmt.Sprintf(`fetch('/v1/orgs/%s/members').then(r => r.json()).then(j => j.items.find(m => m.email === 'bob@example.com').id)`, w.org))
	if st := js[int](t, ctx, fmt.Sprintf(`fetch('/v1/orgs/%s/members/%s/kick', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)`, w.org, bobID)); st != 403 {
		t.Fatalf("a kick without the CSRF token answered %d", st)
	}
	// From another origin (another port of the same host: same-site, so
	// SameSite=Strict lets the cookie go): refused by the origin check.
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprint(rw, `<!doctype html><title>another site</title><p>hello`)
	}))
	defer evil.Close()
	browsertest.Do(t, ctx, chromedp.Navigate(evil.URL+"/"))
	js[bool](t, ctx, fmt.Sprintf(`fetch(%q, {method: 'POST', credentials: 'include', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body: '{}'}).then(() => true, () => true)`,
		w.d.URL+"/v1/orgs/"+w.org+"/members/"+bobID+"/kick"))
	// Two refused kicks in capyd's access log: the one without the token,
	// and this one.
	refusedKicks := func(log string) int {
		n := 0
		for _, l := range strings.Split(log, "\n") {
			if strings.Contains(l, "members/{user}/kick") && strings.Contains(l, "403") {
				n++
			}
		}
		return n
	}
	if err := w.d.Log.WaitFor(10*time.Second, "a second refused kick", func(log string) bool { return refusedKicks(log) >= 2 }); err != nil {
		t.Fatalf("the cross-origin kick was not refused: %v", err)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(w.d.URL+"/console#/"+w.org+"/members"))
	until(t, ctx, "the members again", `!!document.querySelector('tr[data-member="bob@example.com"]')`)
	if txt := js[string](t, ctx, `document.querySelector('tr[data-member="bob@example.com"]').innerText`); !strings.Contains(txt, "active") {
		t.Fatalf("bob after the refused requests: %q", txt)
	}

	// Kick bob.
	click(t, ctx, `tr[data-member="bob@example.com"] button.danger`)
	click(t, ctx, `tr[data-member="bob@example.com"] button.danger`)
	until(t, ctx, "the kick", `(document.querySelector('tr[data-member="bob@example.com"]') || {innerText: ''}).innerText.includes('revoked')`)

	// Invites: revoke carol's.
	tab(t, ctx, "invites", `tr[data-invite="carol@example.com"]`)
	browsertest.Screenshots(t, ctx, "console-invites")
	click(t, ctx, `tr[data-invite="carol@example.com"] button.danger`)
	click(t, ctx, `tr[data-invite="carol@example.com"] button.danger`)
	until(t, ctx, "the invite revoked", `(document.querySelector('tr[data-invite="carol@example.com"]') || {innerText: ''}).innerText.includes('revoked')`)
	if !js[bool](t, ctx, `document.querySelector('tr[data-invite="dan@example.com"]').innerText.includes('pending')`) {
		t.Fatal("dan's invite changed too")
	}

	// Deploy tokens: revoke prod-ci.
	tab(t, ctx, "deploys", `tr[data-deploy="prod-ci"]`)
	browsertest.Screenshots(t, ctx, "console-deploys")
	click(t, ctx, `tr[data-deploy="prod-ci"] button.danger`)
	click(t, ctx, `tr[data-deploy="prod-ci"] button.danger`)
	until(t, ctx, "the token revoked", `(document.querySelector('tr[data-deploy="prod-ci"]') || {innerText: ''}).innerText.includes('revoked')`)

	// Sessions: end alice's second CLI session.
	var mine []struct {
		ID      string
		Current bool
	}
	if err := json.Unmarshal([]byte(w.run(w.home("alice2"), w.root, "", "sessions", "--json")), &mine); err != nil {
		t.Fatal(err)
	}
	second := ""
	for _, s := range mine {
		if s.Current {
			second = s.ID
		}
	}
	tab(t, ctx, "sessions", `tr[data-session="`+second+`"]`)
	browsertest.Screenshots(t, ctx, "console-sessions")
	click(t, ctx, `tr[data-session="`+second+`"] button.danger`)
	click(t, ctx, `tr[data-session="`+second+`"] button.danger`)
	until(t, ctx, "the session ended", `!document.querySelector('tr[data-session="`+second+`"]') && document.getElementById('flash').textContent.includes('ended')`)
	cmd := exec.Command(w.capy, "sessions")
	cmd.Env = append(os.Environ(), "CAPY_HOME="+w.home("alice2"), "CAPY_SERVICE="+w.d.URL, "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("the revoked session still works:\n%s", out)
	}

	// The audit log, verified in the browser.
	tab(t, ctx, "audit", `#verify-result:not(.pending)`)
	if cls := js[string](t, ctx, `document.getElementById('verify-result').className`); cls != "verify good" {
		t.Fatalf("the untouched chain: %s", js[string](t, ctx, `document.getElementById('verify-result').innerText`))
	}
	for _, action := range []string{"kick", "role", "invite-revoke", "deploy-revoke"} {
		if !js[bool](t, ctx, fmt.Sprintf(`[...document.querySelectorAll('.audit-table code')].some(c => c.textContent === %q)`, action)) {
			t.Errorf("the audit log shows no %s", action)
		}
	}
	browsertest.Screenshots(t, ctx, "console-audit")

	// The key routes refuse the cookie, even with the CSRF token and from
	// the console's own page.
	csrf := js[string](t, ctx, `fetch('/v1/console/session').then(r => r.json()).then(j => j.csrf_token)`)
	prjID := js[string](t, ctx, fmt.Sprintf(`fetch('/v1/orgs/%s/projects').then(r => r.json()).then(j => j.items[0].id)`, w.org))
	envID := js[string](t, ctx, fmt.Sprintf(`fetch('/v1/orgs/%s/projects/%s/envs').then(r => r.json()).then(j => j.items[0].id)`, w.org, prjID))
	envBase := "/v1/orgs/" + w.org + "/projects/" + prjID + "/envs/" + envID
	for _, kr := range [][2]string{
		{"POST", "/v1/orgs/" + w.org + "/wrap"},
		{"POST", "/v1/orgs/" + w.org + "/co-decrypt"},
		{"GET", envBase + "/head"},
		{"GET", envBase + "/versions/1"},
		{"POST", envBase + "/versions"},
		{"POST", envBase + "/rotate"},
		{"POST", "/v1/orgs/" + w.org + "/deploys"},
		{"POST", "/v1/deploys/dep_aaaaaaaaaaaaaaaaaaaaaaaaaa/decrypt"},
		{"POST", "/v1/orgs/" + w.org + "/invites"},
		{"POST", "/v1/invites/inv_aaaaaaaaaaaaaaaaaaaaaaaaaa/redeem"},
		{"POST", "/v1/auth/verify"},
		{"GET", "/v1/auth/me"},
	} {
		body := `undefined`
		if kr[0] != "GET" {
			body = `'{}'`
		}
		st := js[int](t, ctx, fmt.Sprintf(`fetch(%q, {method: %q, headers: {'Content-Type': 'application/json', 'Capy-Csrf-Token': %q}, body: %s}).then(r => r.status)`,
			kr[1], kr[0], csrf, body))
		if st != 403 {
			t.Errorf("%s %s with the console's cookie answered %d, want 403", kr[0], kr[1], st)
		}
	}

	// A row edited in the database breaks the chain on the page.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(w.d.DataDir, "capyd.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TRIGGER audit_events_no_update`); err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE audit_events SET target = target || ' env=forged' WHERE org_id = ? AND seq = 3`, w.org)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tamper: %v (%d rows)", err, n)
	}
	click(t, ctx, `#verify-again`)
	until(t, ctx, "the verdict on the edited chain", `document.getElementById('verify-result') && document.getElementById('verify-result').className === 'verify bad'`)
	if txt := js[string](t, ctx, `document.getElementById('verify-result').innerText`); !strings.Contains(txt, "broken at entry #3") {
		t.Fatalf("the verdict: %q", txt)
	}
	browsertest.Screenshots(t, ctx, "console-audit-broken")

	// Nothing the page received carries a key, a value or a token.
	if n := rec.scan(t, ctx, []string{"pw-Zq8vK2", "sk-live-Hn4Wx7Pq", code}); n < 20 {
		t.Fatalf("only %d API responses scanned", n)
	}

	// Sign-out ends the session and the cookie.
	click(t, ctx, `#logout`)
	until(t, ctx, "the sign-in form", `!document.getElementById('login').classList.contains('hidden')`)
	if st := js[int](t, ctx, `fetch('/v1/console/session').then(r => r.status)`); st != 401 {
		t.Fatalf("after sign-out the console session answers %d", st)
	}
	var left []struct{ Label string }
	if err := json.Unmarshal([]byte(w.run(w.home("alice"), w.root, "", "sessions", "--json")), &left); err != nil {
		t.Fatal(err)
	}
	for _, s := range left {
		if s.Label == "web console" {
			t.Fatal("the console's session outlived the sign-out")
		}
	}
}

// TestConsoleAuditVerifier checks the console's in-browser verifier
// (WebCrypto) against the independent audit-chain vectors
// (internal/testvectors, from a Python implementation) and against each
// rule of auditchain.Verifier and member.VerifyAudit: a changed hash or
// previous hash, a gap, a time not in the canonical form, a newline in a
// field, a head seen before that the chain lost or changed.
func TestConsoleAuditVerifier(t *testing.T) {
	ctx := browsertest.New(t)
	mux := http.NewServeMux()
	mux.Handle("/console", web.Page("console.html"))
	mux.Handle("/assets/", web.Assets("/assets/"))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	browsertest.Do(t, ctx, chromedp.Navigate(srv.URL+"/console"))
	until(t, ctx, "the verifier", `!!window.capyAudit`)

	v, err := testvectors.Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Audit) != 2 {
		t.Fatalf("%d audit vectors", len(v.Audit))
	}
	rows, _ := json.Marshal(v.Audit)
	type verdict struct {
		OK   bool `json:"ok"`
		At   int  `json:"at"`
		Head *struct {
			Seq  int    `json:"seq"`
			Hash string `json:"hash"`
		} `json:"head"`
	}
	check := func(name, mutate, seen string, wantOK bool, wantAt int) {
		t.Helper()
		expr := fmt.Sprintf(`(() => { const rows = %s; %s; return capyAudit.verifyChain(rows, %s); })()`, rows, mutate, seen)
		got := js[verdict](t, ctx, expr)
		if got.OK != wantOK || !wantOK && got.At != wantAt {
			t.Errorf("%s: %+v, want ok=%v at=%d", name, got, wantOK, wantAt)
		}
		if wantOK && (got.Head == nil || got.Head.Seq != 2 || got.Head.Hash != v.Audit[1].Hash) {
			t.Errorf("%s: head %+v", name, got.Head)
		}
	}
	check("the vectors", ``, `[]`, true, 0)
	check("a head seen before, still there", ``, fmt.Sprintf(`[{seq: 1, hash: %q}]`, v.Audit[0].Hash), true, 0)
	check("a changed hash", `rows[1].hash = rows[1].hash.replace(/^./, c => c === 'a' ? 'b' : 'a')`, `[]`, false, 2)
	check("a changed previous hash", `rows[1].prev_hash = rows[0].prev_hash`, `[]`, false, 2)
	check("a changed field", `rows[0].target += 'x'`, `[]`, false, 1)
	check("a newline in a field", `rows[1].actor += '\n'`, `[]`, false, 2)
	check("a gap", `rows.shift()`, `[]`, false, 1)
	check("a repeated row", `rows.splice(1, 0, rows[0])`, `[]`, false, 2)
	check("six fractional digits", `rows[0].time = rows[0].time.replace(/(\.\d{6})\d{3}Z$/, '$1Z')`, `[]`, false, 1)
	check("an offset instead of Z", `rows[0].time = rows[0].time.replace(/Z$/, '+00:00')`, `[]`, false, 1)
	check("the log cut short of a head seen before", `rows.pop()`, fmt.Sprintf(`[{seq: 2, hash: %q}]`, v.Audit[1].Hash), false, 2)
	check("a head seen before with another hash", ``, fmt.Sprintf(`[{seq: 1, hash: %q}]`, v.Audit[1].Hash), false, 1)
	for s, want := range map[string]bool{
		"2031-01-02T03:04:05.000006000Z":      true,
		"2031-01-02T03:04:05.000006Z":         false,
		"2031-01-02T03:04:05.000006000+00:00": false,
		"2031-01-02 03:04:05.000006000Z":      false,
		"":                                    false,
		"2031-02-30T03:04:05.000000000Z":      false,
		"2031-01-02T24:00:00.000000000Z":      false,
		"2031-01-02T23:59:60.000000000Z":      false,
		"2032-02-29T00:00:00.000000000Z":      true,
		"2031-1-02T03:04:05.000006000Z":       false,
		"2031-01-02T03:04:05.000006000Z\n":    false,
		"２031-01-02T03:04:05.000006000Z":      false,
	} {
		if got := js[bool](t, ctx, fmt.Sprintf(`capyAudit.canonicalTime(%q)`, s)); got != want {
			t.Errorf("canonicalTime(%q) = %v, want %v (auditchain.ParseTime's answer)", s, got, want)
		}
		if _, err := auditchain.ParseTime(s); (err == nil) != want {
			t.Errorf("auditchain.ParseTime(%q) disagrees with this table", s)
		}
	}
}
