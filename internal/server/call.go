package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// Body limits (docs/api.md §1.8).
const (
	limitNone  = 0
	limitSmall = 4 << 10  // auth and deploy decrypt
	limitBlob  = 9 << 20  // push and rotate
	limitOther = 64 << 10 // everything else with a body
)

// authKind says how a route authenticates.
type authKind int

const (
	authNone    authKind = iota // no session (an Authorization header is ignored)
	authSession                 // a session token
)

// route is one entry of the route table (docs/api.md §3) with everything
// the generic part of a request needs, in the order of §1.7.
type route struct {
	method  string
	pattern string
	ids     map[string]ident.Kind // path parameters and their id kinds
	query   params                // query parameters; nil = none (any is invalid-field)
	limit   int64                 // body limit in bytes; 0 = no body
	auth    authKind
	org     bool       // /v1/orgs/{org}/…: the caller's membership is checked
	role    store.Role // minimum role ("" = any active member)
	// gated: the handler has the store check session and membership
	// inside its own transaction (co-decrypt's gate), so run only reads
	// the bearer token; the handler keeps §1.7's order of checks.
	gated bool
	// console: the web console's cookie session may call the route
	// (console.go); every other route refuses a request carrying the
	// cookie. Only metadata routes and the console's own changes are.
	console bool
	ipLimit *bucket // per-IP bucket, or nil
	share   bool    // {share} is a share id (ident.CheckShareID)
	h       func(*call) error
}

// call is one request on its way through a route.
type call struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rt     *route
	tok    store.TokenHash
	sess   store.Session
	org    store.Org
	member store.Member
	body   []byte
	q      map[string]string // the query parameters, checked against rt.query
	// queryErr is a refused query string that a gated route reports
	// itself, after its gate (see run).
	queryErr error
	// consoleRaw is the console cookie's secret when the web console's
	// session authenticates this request (consoleGate).
	consoleRaw []byte
}

// wrap turns a route into an http.Handler running the generic checks of
// docs/api.md §1.7 — (1) path ids, (2) declared body size, (3) per-IP rate
// limit, (4) session, (5) membership and role, (7) an empty body where
// none is allowed and the query parameters — before the route's own
// handler.
func (s *Server) handler(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.route = rt.pattern
		}
		c := &call{s: s, w: w, r: r, rt: &rt}
		if err := c.run(); err != nil {
			s.writeProblem(w, r, err)
		}
	})
}

func (c *call) run() error {
	rt, r := c.rt, c.r
	if err := c.consoleRefuse(); err != nil {
		return err
	}
	for name, kind := range rt.ids {
		if ident.CheckID(kind, chi.URLParam(r, name)) != nil {
			return problem(api.PNotFound, "")
		}
	}
	if rt.share && ident.CheckShareID(chi.URLParam(r, "share")) != nil {
		return problem(api.PNotFound, "")
	}
	if r.ContentLength > rt.limit {
		return c.tooLarge()
	}
	if rt.ipLimit != nil {
		if err := c.s.limitIP(r, rt.ipLimit); err != nil {
			return err
		}
	}
	if err := c.consoleGate(); err != nil {
		return err
	}
	switch {
	case rt.auth == authSession && rt.org && rt.gated:
		if rt.role != "" {
			return errors.New("route " + rt.pattern + " is gated but needs a role, which only authenticateMember checks")
		}
		if err := c.bearer(); err != nil {
			return err
		}
	case rt.auth == authSession && rt.org:
		// Session and membership in one read (steps 4 and 5).
		if err := c.authenticateMember(); err != nil {
			return err
		}
	case rt.auth == authSession:
		if err := c.authenticate(); err != nil {
			return err
		}
	case rt.org:
		return errors.New("route " + rt.pattern + " checks membership without a session")
	}
	if rt.limit == limitNone {
		if err := c.noBody(); err != nil {
			return err
		}
	}
	// One check of the query string for every route, against the
	// parameters its table entry lists: a route that lists none refuses
	// any, rather than each handler having to remember to look. A gated
	// route has not checked the session yet, so it reports a bad query
	// after its gate, keeping step 4 before step 7.
	c.q, c.queryErr = c.query(rt.query...)
	if c.queryErr != nil && !rt.gated {
		return c.queryErr
	}
	return rt.h(c)
}

func (c *call) tooLarge() error {
	l := c.rt.limit
	return &problemError{slug: api.PBodyTooLarge, detail: "the body is larger than this route accepts", limit: &l}
}

// noBody requires an empty body (limit 0), whatever the transfer encoding.
func (c *call) noBody() error {
	var b [1]byte
	n, _ := io.ReadFull(c.r.Body, b[:])
	if n > 0 {
		return c.tooLarge()
	}
	return nil
}

// tokenPrefix starts every session token (docs/api.md §1.3).
const tokenPrefix = "capys_"

// parseToken checks a bearer token's form and returns its raw 32 bytes.
func parseToken(tok string) ([]byte, bool) {
	if len(tok) != len(tokenPrefix)+43 || !strings.HasPrefix(tok, tokenPrefix) {
		return nil, false
	}
	raw, err := wrap.DecodeB64(tok[len(tokenPrefix):])
	if err != nil || len(raw) != 32 {
		return nil, false
	}
	return raw, true
}

// bearer reads the bearer token into c.tok (or, for the web console,
// the token hash of its cookie: consoleGate).
func (c *call) bearer() error {
	if c.consoleRaw != nil {
		c.tok = consoleTokenHash(c.consoleRaw)
		return nil
	}
	vals := c.r.Header.Values("Authorization")
	if len(vals) != 1 {
		return problem(api.PUnauthenticated, "")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || scheme != "Bearer" {
		return problem(api.PUnauthenticated, "")
	}
	raw, ok := parseToken(tok)
	if !ok {
		return problem(api.PUnauthenticated, "")
	}
	c.tok = store.HashToken(raw)
	return nil
}

// authenticate reads the bearer token and checks the session.
func (c *call) authenticate() error {
	if err := c.bearer(); err != nil {
		return err
	}
	sess, err := c.s.st.LookupSession(c.r.Context(), c.tok)
	if err != nil {
		return err
	}
	c.setSession(sess)
	return nil
}

func (c *call) setSession(sess store.Session) {
	c.sess = sess
	if rec, ok := c.w.(*recorder); ok {
		rec.actor = sess.UserID
	}
}

// authenticateMember checks the session and the caller's membership of
// {org} in one read, then the route's minimum role.
func (c *call) authenticateMember() error {
	if err := c.bearer(); err != nil {
		return err
	}
	sess, org, m, err := c.s.st.AuthorizeOrg(c.r.Context(), c.tok, chi.URLParam(c.r, "org"))
	if sess.UserID != "" {
		c.setSession(sess)
	}
	if err != nil {
		return err
	}
	c.org, c.member = org, m
	if c.rt.role != "" && !m.Role.AtLeast(c.rt.role) {
		return problem(api.PForbidden, roleNeeded(c.rt.role, m.Role))
	}
	return nil
}

// decode reads the body (Content-Type and size checked) and decodes it
// strictly into v, returning the members present.
func (c *call) decode(v any) (map[string]bool, error) {
	// Exactly one Content-Type header. With two, whatever sits in front
	// of the service (a proxy, a filter) may judge the body by the other
	// one, so the request means different things to each: refuse it.
	cts := c.r.Header.Values("Content-Type")
	if len(cts) != 1 {
		return nil, problem(api.PUnsupportedMediaType, "")
	}
	mt, mparams, err := mime.ParseMediaType(cts[0])
	if cts[0] == "" || err != nil || mt != "application/json" {
		return nil, problem(api.PUnsupportedMediaType, "")
	}
	for k, val := range mparams {
		if k != "charset" || !strings.EqualFold(val, "utf-8") {
			return nil, problem(api.PUnsupportedMediaType, "")
		}
	}
	if ce := c.r.Header.Values("Content-Encoding"); len(ce) > 1 || (len(ce) == 1 && !strings.EqualFold(ce[0], "identity")) {
		return nil, problem(api.PUnsupportedMediaType, "")
	}
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, c.rt.limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, c.tooLarge()
		}
		return nil, malformed("the body could not be read")
	}
	c.body = data
	return decodeStrict(data, v)
}

// query returns the query parameters, refusing any not in allowed and
// repeated ones (invalid-field naming the parameter). An empty query
// string ("?" alone) has no parameters.
func (c *call) query(allowed ...string) (map[string]string, error) {
	if c.r.URL.RawQuery == "" {
		// Most requests (every co-decrypt and push) have none: no map.
		// Readers get "" from a nil map as from an empty one.
		return nil, nil
	}
	vals, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil || vals.Has("") {
		return nil, invalidField("query", "the query string is malformed")
	}
	// Sorted, so that of several bad parameters the same one is named
	// every time.
	out := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if !slices.Contains(allowed, k) {
			return nil, invalidField(k, "the route does not define this parameter")
		}
		v := vals[k]
		if len(v) != 1 {
			return nil, invalidField(k, "the parameter is repeated")
		}
		out[k] = v[0]
	}
	return out, nil
}

// json writes a success answer.
func (c *call) json(status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
	return nil
}

// noContent writes 204.
func (c *call) noContent() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// param returns a path parameter (already checked against its kind).
func (c *call) param(name string) string { return chi.URLParam(c.r, name) }

// ctx is the request's context.
func (c *call) ctx() context.Context { return c.r.Context() }

// limitUser applies a per-account bucket (step 8 of §1.7).
func (c *call) limitUser(b *bucket, key string) error {
	return c.s.limitKey(b, key)
}

// ts is a time as the API shows it: UTC, whole seconds.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// tsp is ts for an optional time: nil when zero.
func tsp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}

// checkInner checks an inner sealed box: 61 bytes (a 32-byte key sealed),
// first byte 0x01 (docs/api.md §1.4).
func checkInner(field string, b []byte) error {
	if len(b) != innerSize || b[0] != wrap.SealVersion {
		return invalidField(field, "must be a 61-byte sealed box starting with 0x01")
	}
	return nil
}

// Sizes fixed by protocol.md.
const (
	innerSize = 1 + wrap.NonceSize + 32 + wrap.TagSize // 61
	outerSize = 1 + 4 + innerSize + wrap.SealOverhead  // 95
)

// hashAuthKey is the deploy verifier of an auth key.
func hashAuthKey(k []byte) []byte {
	sum := sha256.Sum256(k)
	return sum[:]
}

// roleNeeded is a forbidden answer's detail: which role the action needs
// and which the caller has, so that they know whom to ask.
func roleNeeded(need, have store.Role) string {
	if need == store.RoleOwner {
		return "this needs the owner role; you are " + string(have)
	}
	return "this needs the " + string(need) + " role or higher; you are " + string(have)
}
