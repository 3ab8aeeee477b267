package server

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

// consoleUser is a person signed in to the web console: the cookie the
// service set, and the CSRF token it answered.
type consoleUser struct {
	cookie *http.Cookie
	csrf   string
	id     string
}

// consoleLogin signs email in the way the console's page does: a login
// code, then POST /v1/console/session from the service's own origin.
func (e *env) consoleLogin(email string) consoleUser {
	e.t.Helper()
	if _, err := e.anon.AuthStart(e.ctx, email); err != nil {
		e.t.Fatalf("AuthStart: %v", err)
	}
	body, _ := json.Marshal(api.ConsoleLoginRequest{Email: email, Code: e.mail.code(e.t, email)})
	resp, b := e.raw("POST", "/v1/console/session", body, map[string]string{
		"Content-Type": "application/json", "Origin": publicURL, "Sec-Fetch-Site": "same-origin",
	})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("console login: %d %s", resp.StatusCode, b)
	}
	var out api.ConsoleSessionResponse
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	cks := resp.Cookies()
	if len(cks) != 1 {
		e.t.Fatalf("console login set %d cookies", len(cks))
	}
	return consoleUser{cookie: cks[0], csrf: out.CSRFToken, id: out.User.ID}
}

// as sends a request with the console's cookie; change adds the CSRF
// token and the browser's same-origin headers a state change carries.
func (e *env) asConsole(u consoleUser, method, path string, body []byte, change bool) (*http.Response, []byte) {
	e.t.Helper()
	h := map[string]string{"Cookie": u.cookie.Name + "=" + u.cookie.Value}
	if body != nil {
		h["Content-Type"] = "application/json"
	}
	if change {
		h["Origin"], h["Sec-Fetch-Site"], h[csrfHeader] = publicURL, "same-origin", u.csrf
	}
	return e.raw(method, path, body, h)
}

// TestConsoleCookie: the console's sign-in sets an HttpOnly, Secure (the
// public URL is https), SameSite=Strict cookie scoped to /v1/, whose
// secret is no bearer token and whose session lists and ends like any.
func TestConsoleCookie(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		u := e.consoleLogin(w.admin.Email)
		ck := u.cookie
		if ck.Name != "__Secure-capy_console" || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode ||
			ck.Path != "/v1/" || ck.MaxAge <= 0 || !strings.HasPrefix(ck.Value, consoleTokenPrefix) {
			t.Fatalf("cookie %+v", ck)
		}
		if u.csrf == "" || strings.Contains(u.csrf, ck.Value[len(consoleTokenPrefix):]) {
			t.Fatalf("CSRF token %q", u.csrf)
		}
		resp, b := e.asConsole(u, "GET", "/v1/console/session", nil, false)
		var me api.ConsoleSessionResponse
		if resp.StatusCode != 200 || json.Unmarshal(b, &me) != nil || me.CSRFToken != u.csrf || me.Session.Label != consoleLabel {
			t.Fatalf("console session: %d %s", resp.StatusCode, b)
		}
		if resp, b := e.asConsole(u, "GET", "/v1/orgs/"+w.org+"/members", nil, false); resp.StatusCode != 200 {
			t.Fatalf("members through the cookie: %d %s", resp.StatusCode, b)
		}
		// The cookie's secret as a bearer token, and a bearer token in the
		// cookie, are no session.
		bearer := "capys_" + ck.Value[len(consoleTokenPrefix):]
		resp, b = e.raw("GET", "/v1/auth/me", nil, map[string]string{"Authorization": "Bearer " + bearer})
		rawProblem(t, resp, b, api.PUnauthenticated)
		swapped := consoleUser{cookie: &http.Cookie{Name: ck.Name, Value: "capyc_" + w.admin.Token[len("capys_"):]}}
		resp, b = e.asConsole(swapped, "GET", "/v1/orgs", nil, false)
		rawProblem(t, resp, b, api.PUnauthenticated)
		// Cookie and bearer together are refused.
		resp, b = e.raw("GET", "/v1/orgs", nil, map[string]string{
			"Cookie": ck.Name + "=" + ck.Value, "Authorization": "Bearer " + w.admin.Token,
		})
		rawProblem(t, resp, b, api.PUnauthenticated)
		// The CLI sees the console's session and its own.
		list := must(w.admin.Sessions(e.ctx, "", 0))
		found := false
		for _, s := range list.Items {
			found = found || s.ID == me.Session.ID && s.Label == consoleLabel
		}
		if !found {
			t.Fatalf("the console's session is not in the list: %+v", list.Items)
		}
		// Sign-out ends the session and clears the cookie.
		resp, b = e.asConsole(u, "DELETE", "/v1/console/session", nil, true)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d %s", resp.StatusCode, b)
		}
		if cks := resp.Cookies(); len(cks) != 1 || cks[0].MaxAge >= 0 || cks[0].Value != "" {
			t.Fatalf("logout left the cookie: %+v", cks)
		}
		resp, b = e.asConsole(u, "GET", "/v1/console/session", nil, false)
		rawProblem(t, resp, b, api.PUnauthenticated)
	})
}

// TestConsoleReachesNoKeyRoute walks the route table: every route not
// marked console (wrap, co-decrypt, the head, a version, push, rotate,
// invite create, redeem, deploy mint and decrypt, the CLI's sign-in…)
// refuses a request carrying the console's cookie, before its handler,
// whatever else the request carries; a console route answers it.
func TestConsoleReachesNoKeyRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{}, false)
	w := e.world()
	u := e.consoleLogin(w.owner.Email)
	fill := strings.NewReplacer("{org}", w.org, "{prj}", w.project, "{env}", w.env, "{n}", "1",
		"{invite}", ident.NewID(ident.Invite), "{user}", w.member.ID, "{session}", ident.NewID(ident.Session),
		"{dep}", ident.NewID(ident.Deploy))
	keyRoutes := 0
	for _, rt := range e.srv.routes(true) {
		if rt.console || !strings.HasPrefix(rt.pattern, "/v1/") {
			continue
		}
		keyRoutes++
		path := fill.Replace(rt.pattern)
		for _, withBearer := range []bool{false, true} {
			h := map[string]string{"Cookie": u.cookie.Name + "=" + u.cookie.Value, "Content-Type": "application/json",
				"Origin": publicURL, "Sec-Fetch-Site": "same-origin", csrfHeader: u.csrf}
			if withBearer {
				h["Authorization"] = "Bearer " + w.owner.Token
			}
			before := e.snapshot(w)
			var body []byte
			if rt.limit > 0 {
				body = []byte(`{}`)
			}
			resp, b := e.raw(rt.method, path, body, h)
			p := rawProblem(t, resp, b, api.PForbidden)
			if !strings.Contains(p["detail"].(string), "metadata routes only") {
				t.Errorf("%s %s: %v", rt.method, rt.pattern, p["detail"])
			}
			e.unchanged(w, before, rt.method+" "+rt.pattern+" with the console cookie")
		}
	}
	if keyRoutes < 15 {
		t.Fatalf("only %d routes refuse the console", keyRoutes)
	}
	// The unprefixed name is refused there too (over https only the
	// __Secure- cookie is a session, but any console cookie closes the
	// key routes).
	resp, b := e.raw("POST", "/v1/orgs/"+w.org+"/co-decrypt", []byte(`{}`), map[string]string{
		"Cookie": "capy_console=x", "Authorization": "Bearer " + w.owner.Token, "Content-Type": "application/json"})
	rawProblem(t, resp, b, api.PForbidden)
	// The console reaches what it lists.
	for _, path := range []string{"/v1/orgs", "/v1/orgs/" + w.org + "/projects/" + w.project + "/envs/" + w.env + "/versions",
		"/v1/orgs/" + w.org + "/audit", "/v1/orgs/" + w.org + "/deploys", "/v1/auth/sessions"} {
		if resp, b := e.asConsole(u, "GET", path, nil, false); resp.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
		}
	}
}

// TestConsoleCSRF: a change through the cookie needs the session's CSRF
// token and the service's own origin; a read from another site is
// refused too. The login itself checks the origin (login CSRF).
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{}, false)
	w := e.world()
	owner := e.consoleLogin(w.owner.Email)
	other := e.consoleLogin(w.admin.Email)
	role := []byte(`{"role":"admin"}`)
	path := "/v1/orgs/" + w.org + "/members/" + w.member.ID + "/role"
	ck := "Cookie"
	base := func() map[string]string {
		return map[string]string{ck: owner.cookie.Name + "=" + owner.cookie.Value, "Content-Type": "application/json",
			"Origin": publicURL, "Sec-Fetch-Site": "same-origin", csrfHeader: owner.csrf}
	}
	for name, change := range map[string]func(h map[string]string){
		"no token":             func(h map[string]string) { delete(h, csrfHeader) },
		"another's token":      func(h map[string]string) { h[csrfHeader] = other.csrf },
		"empty token":          func(h map[string]string) { h[csrfHeader] = "" },
		"another origin":       func(h map[string]string) { h["Origin"] = "https://evil.example" },
		"no origin":            func(h map[string]string) { delete(h, "Origin") },
		"cross-site fetch":     func(h map[string]string) { h["Sec-Fetch-Site"] = "cross-site" },
		"same-site subdomain":  func(h map[string]string) { h["Sec-Fetch-Site"] = "same-site" },
		"origin null":          func(h map[string]string) { h["Origin"] = "null" },
		"http origin of https": func(h map[string]string) { h["Origin"] = "http://capy.example.com" },
	} {
		before := e.snapshot(w)
		h := base()
		change(h)
		resp, b := e.raw("PUT", path, role, h)
		p := rawProblem(t, resp, b, api.PForbidden)
		if !strings.Contains(p["detail"].(string), "CSRF") {
			t.Errorf("%s: %v", name, p["detail"])
		}
		e.unchanged(w, before, name)
	}
	resp, b := e.raw("PUT", path, role, base())
	if resp.StatusCode != 200 {
		t.Fatalf("role change with the token: %d %s", resp.StatusCode, b)
	}
	// A cross-site read is refused as well.
	resp, b = e.raw("GET", "/v1/orgs", nil, map[string]string{ck: owner.cookie.Name + "=" + owner.cookie.Value, "Sec-Fetch-Site": "cross-site"})
	rawProblem(t, resp, b, api.PForbidden)
	// Sign-in from another origin: refused before the code is looked at.
	if _, err := e.anon.AuthStart(e.ctx, w.member.Email); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(api.ConsoleLoginRequest{Email: w.member.Email, Code: e.mail.code(t, w.member.Email)})
	resp, b = e.raw("POST", "/v1/console/session", body, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"})
	rawProblem(t, resp, b, api.PForbidden)
	if len(resp.Cookies()) != 0 {
		t.Fatal("a refused sign-in set a cookie")
	}
}

// TestConsoleSamePermissions: the console's changes go through the API's
// own checks: an admin's console session cannot change a role (owner
// only), a member's cannot kick or list deploy tokens.
func TestConsoleSamePermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{}, false)
	w := e.world()
	admin := e.consoleLogin(w.admin.Email)
	member := e.consoleLogin(w.member.Email)
	resp, b := e.asConsole(admin, "PUT", "/v1/orgs/"+w.org+"/members/"+w.member.ID+"/role", []byte(`{"role":"admin"}`), true)
	rawProblem(t, resp, b, api.PForbidden)
	resp, b = e.asConsole(member, "POST", "/v1/orgs/"+w.org+"/members/"+w.admin.ID+"/kick", []byte(`{}`), true)
	rawProblem(t, resp, b, api.PForbidden)
	resp, b = e.asConsole(member, "GET", "/v1/orgs/"+w.org+"/deploys", nil, false)
	rawProblem(t, resp, b, api.PForbidden)
	resp, b = e.asConsole(admin, "POST", "/v1/orgs/"+w.org+"/members/"+w.member.ID+"/kick", []byte(`{}`), true)
	if resp.StatusCode != 200 {
		t.Fatalf("admin kick: %d %s", resp.StatusCode, b)
	}
}

// TestConsoleRoutesAreDocumented: the routes the console's cookie may
// reach are exactly those docs/api.md §3 marks C in its console column.
func TestConsoleRoutesAreDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, _ := strings.Cut(string(doc), "\n## 3. Route table\n")
	table, _, _ = strings.Cut(table, "\n## 4.")
	row := regexp.MustCompile("(?m)^\\| (GET|POST|PUT|DELETE) \\| `(/v1/[^`]*)` \\|.*\\| (C?) \\|$")
	var documented, served []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		if m[3] == "C" {
			documented = append(documented, m[1]+" "+m[2])
		}
	}
	e := newEnv(t, "sqlite", Config{}, false)
	for _, rt := range e.srv.routes(true) {
		if rt.console {
			served = append(served, rt.method+" "+rt.pattern)
		}
	}
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(served, documented) {
		t.Fatalf("console routes differ from docs/api.md §3:\nserved     %q\ndocumented %q", served, documented)
	}
}

// TestConsoleQuery: the console's own session routes, like every route,
// refuse a query parameter they do not define, and before acting.
func TestConsoleQuery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", Config{}, false)
	w := e.world()
	u := e.consoleLogin(w.owner.Email)
	for _, method := range []string{"GET", "DELETE"} {
		resp, b := e.asConsole(u, method, "/v1/console/session?capy_unknown=1", nil, method != "GET")
		if p := rawProblem(t, resp, b, api.PInvalidField); p["field"] != "capy_unknown" {
			t.Fatalf("%s: %v", method, p)
		}
	}
	if resp, b := e.asConsole(u, "GET", "/v1/console/session?", nil, false); resp.StatusCode != 200 {
		t.Fatalf("GET with an empty query: %d %s", resp.StatusCode, b)
	}
}
