package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// The web console (docs/api.md §1.3 "Console session") signs in with the
// same e-mail code as the CLI but holds its session in an HttpOnly cookie
// that JavaScript cannot read, and that cookie opens only the routes the
// route table marks console: metadata lists and the revocations, role
// changes and kicks an admin makes. The key routes (wrap, co-decrypt, a
// version's blob, the head, push, rotate, deploy decrypt, redeem) refuse
// any request that carries it, so the console cannot receive a key or a
// value even if its script asked.
//
// Nothing is stored beyond an ordinary session row: the cookie holds a
// random secret R; the session's token hash is SHA-256(HMAC(R, "session"))
// and the CSRF token is HMAC(R, "csrf"). A console secret used as a bearer
// token hashes to SHA-256(R), which is no session, and a bearer token put
// in the cookie hashes to no session either: the two kinds cannot stand in
// for each other, and the CSRF token, which the page's script does hold,
// opens nothing by itself.

// consoleTokenPrefix starts the console cookie's value.
const consoleTokenPrefix = "capyc_"

// consoleCookieName is the cookie's name over plain HTTP (loopback);
// over HTTPS it carries the __Secure- prefix, which browsers accept only
// with the Secure attribute from a secure origin.
const consoleCookieName = "capy_console"

// consoleCookiePath scopes the cookie to the API: the pages, their assets
// and the share pages never receive it.
const consoleCookiePath = "/v1/"

// consoleLabel is the label of every console session (capy sessions
// shows it).
const consoleLabel = "web console"

// csrfHeader carries the CSRF token on every console request that changes
// state.
const csrfHeader = "Capy-Csrf-Token"

// secure reports whether the service is reached over HTTPS (its public
// URL says so, or this connection is TLS): then the cookie is Secure and
// __Secure- prefixed.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.cfg.PublicURL, "https://")
}

func (s *Server) cookieName(r *http.Request) string {
	if s.secure(r) {
		return "__Secure-" + consoleCookieName
	}
	return consoleCookieName
}

// consoleDerive is HMAC-SHA256 keyed with the cookie's secret.
func consoleDerive(raw []byte, purpose string) []byte {
	m := hmac.New(sha256.New, raw)
	m.Write([]byte("capy console " + purpose + " v1"))
	return m.Sum(nil)
}

// consoleTokenHash is the session token hash of a console secret.
func consoleTokenHash(raw []byte) store.TokenHash {
	return store.HashToken(consoleDerive(raw, "session"))
}

// consoleCSRF is the CSRF token of a console secret.
func consoleCSRF(raw []byte) string {
	return wrap.B64.EncodeToString(consoleDerive(raw, "csrf"))
}

// parseConsoleToken checks a cookie value's form and returns its raw
// 32 bytes.
func parseConsoleToken(v string) ([]byte, bool) {
	if len(v) != len(consoleTokenPrefix)+43 || !strings.HasPrefix(v, consoleTokenPrefix) {
		return nil, false
	}
	raw, err := wrap.DecodeB64(v[len(consoleTokenPrefix):])
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	return raw, true
}

// consoleCookies returns the request's console cookies under either
// name (any of them closes the key routes) and those under the name this
// connection uses (only they can be a session).
func (s *Server) consoleCookies(r *http.Request) (seen, own []*http.Cookie) {
	name := s.cookieName(r)
	for _, ck := range r.Cookies() {
		if ck.Name == consoleCookieName || ck.Name == "__Secure-"+consoleCookieName {
			seen = append(seen, ck)
			if ck.Name == name {
				own = append(own, ck)
			}
		}
	}
	return seen, own
}

var (
	errConsoleRoute = problem(api.PForbidden,
		"the web console's session reaches metadata routes only; do this with the capy CLI")
	errConsoleOrigin = problem(api.PForbidden,
		"a console request must come from the console's own page (origin and CSRF token checked)")
)

// sameOrigin checks where a browser request comes from: Sec-Fetch-Site,
// when sent, must be same-origin, and Origin, when sent (required for a
// state change), must be the service's own origin: its public URL's or,
// behind no proxy, this request's host.
func (s *Server) sameOrigin(r *http.Request, needOrigin bool) error {
	if v := r.Header.Values("Sec-Fetch-Site"); len(v) > 1 || len(v) == 1 && v[0] != "same-origin" {
		return errConsoleOrigin
	}
	origins := r.Header.Values("Origin")
	if len(origins) == 0 {
		if needOrigin {
			return errConsoleOrigin
		}
		return nil
	}
	if len(origins) > 1 {
		return errConsoleOrigin
	}
	o := origins[0]
	if pu, err := url.Parse(s.cfg.PublicURL); err == nil && o == pu.Scheme+"://"+pu.Host {
		return nil
	}
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	if o == scheme+"://"+r.Host {
		return nil
	}
	return errConsoleOrigin
}

// stateChanging is every method but GET.
func stateChanging(r *http.Request) bool { return r.Method != http.MethodGet }

// consoleRefuse runs first on every route, before any other check: a
// request carrying a console cookie is refused unless the route is a
// console route, whatever else it carries.
func (c *call) consoleRefuse() error {
	if all, _ := c.s.consoleCookies(c.r); len(all) > 0 && !c.rt.console {
		return errConsoleRoute
	}
	return nil
}

// consoleGate runs before the session check (step 4 of docs/api.md §1.7).
// A request without a console cookie passes untouched. On a console route
// that takes a session, a request with it must not also carry a bearer
// token, its origin is checked, a state change must carry the session's
// CSRF token, and the cookie's session then stands in for the bearer
// token.
func (c *call) consoleGate() error {
	all, cks := c.s.consoleCookies(c.r)
	if len(all) == 0 || !c.rt.console {
		return nil
	}
	if c.rt.auth != authSession {
		return nil // sign-in routes: a stale cookie is ignored
	}
	if len(cks) != 1 || len(c.r.Header.Values("Authorization")) != 0 {
		return problem(api.PUnauthenticated, "")
	}
	raw, ok := parseConsoleToken(cks[0].Value)
	if !ok {
		return problem(api.PUnauthenticated, "")
	}
	if err := c.s.sameOrigin(c.r, stateChanging(c.r)); err != nil {
		return err
	}
	if stateChanging(c.r) {
		got := c.r.Header.Values(csrfHeader)
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(consoleCSRF(raw))) != 1 {
			return errConsoleOrigin
		}
	}
	c.consoleRaw = raw
	return nil
}

// setConsoleCookie sets (or, with an empty value, clears) the cookie.
func (s *Server) setConsoleCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(r), Value: value, Path: consoleCookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// consoleLogin is POST /v1/console/session: the login code checked as
// /v1/auth/verify checks it, and a console session in a cookie.
func (s *Server) consoleLogin(c *call) error {
	if err := s.sameOrigin(c.r, true); err != nil {
		return err
	}
	var req api.ConsoleLoginRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "email", "code"); err != nil {
		return err
	}
	if err := checkEmail("email", req.Email); err != nil {
		return err
	}
	if !isCode(req.Code) {
		return invalidField("code", "must be 8 digits")
	}
	u, err := s.checkLoginCode(c, req.Email, req.Code)
	if err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	sess, err := s.st.CreateSession(c.ctx(), u.ID, consoleTokenHash(raw), consoleLabel)
	if err != nil {
		return err
	}
	if rec, ok := c.w.(*recorder); ok {
		rec.actor = u.ID
	}
	maxAge := int(sess.ExpiresAt.Sub(s.now()).Seconds())
	s.setConsoleCookie(c.w, c.r, consoleTokenPrefix+wrap.B64.EncodeToString(raw), max(maxAge, 1))
	return c.json(http.StatusOK, api.ConsoleSessionResponse{
		User: apiUser(u.ID, u.Email, u.CreatedAt), Session: apiSession(sess, true), CSRFToken: consoleCSRF(raw),
	})
}

// consoleSession is GET /v1/console/session: who is signed in, and the
// CSRF token the page's script sends with every change.
func (s *Server) consoleSession(c *call) error {
	if c.consoleRaw == nil {
		return problem(api.PUnauthenticated, "this route is for the web console's cookie session")
	}
	return c.json(http.StatusOK, api.ConsoleSessionResponse{
		User:      apiUser(c.sess.UserID, c.sess.Email, c.sess.UserCreatedAt),
		Session:   apiSession(c.sess, true),
		CSRFToken: consoleCSRF(c.consoleRaw),
	})
}

// consoleLogout is DELETE /v1/console/session: the session ends and the
// cookie is cleared.
func (s *Server) consoleLogout(c *call) error {
	if c.consoleRaw == nil {
		return problem(api.PUnauthenticated, "this route is for the web console's cookie session")
	}
	if err := s.st.RevokeSession(c.ctx(), c.tok, ""); err != nil {
		return err
	}
	s.setConsoleCookie(c.w, c.r, "", -1)
	return c.noContent()
}
