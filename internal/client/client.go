// Package client is a typed Go client for capyd's /v1 API (docs/api.md).
// It sets timeouts, retries only requests that are safe to repeat, checks
// every id it puts into a path, and turns problem documents into
// *api.Problem errors that callers match by type.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

// maxResponse bounds what the client reads from the service (a head blob
// is at most 8 MiB of text, a little more as JSON).
const maxResponse = 16 << 20

// DefaultAttemptTimeout bounds one attempt of a request unless
// WithAttemptTimeout says otherwise.
const DefaultAttemptTimeout = 30 * time.Second

// Client talks to one capyd service.
type Client struct {
	base           string
	http           *http.Client
	token          string
	userAgent      string
	attempts       int
	backoff        time.Duration
	attemptTimeout time.Duration
	// onRefused runs when the service answers 401 or 403 (OnRefused).
	onRefused func()
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (tests, custom TLS roots).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithToken sets the session token sent as a bearer token.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithRetry sets how many attempts a retryable request gets (≥ 1) and the
// base backoff between them.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(c *Client) {
		if attempts >= 1 {
			c.attempts = attempts
		}
		c.backoff = backoff
	}
}

// WithAttemptTimeout bounds each attempt of a request, from dialling to
// the last byte of the answer (default DefaultAttemptTimeout; 0: no bound
// of its own). A deadline on the caller's context bounds the whole
// request, retries and backoff included: an attempt never outlives it,
// and no retry starts after it.
func WithAttemptTimeout(d time.Duration) Option { return func(c *Client) { c.attemptTimeout = d } }

// New returns a client for the service at baseURL, which must be https or
// loopback http (DESIGN §5).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := ident.CheckServiceURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base: u,
		// No http.Client.Timeout: each attempt's context carries the
		// bound (attemptTimeout, and the caller's deadline), so that the
		// caller's deadline also cuts an attempt short.
		http:           &http.Client{CheckRedirect: noRedirects},
		userAgent:      "capy",
		attempts:       3,
		backoff:        200 * time.Millisecond,
		attemptTimeout: DefaultAttemptTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// noRedirects stops the HTTP client from following a redirect: it would
// re-send the bearer token (Go keeps it for the same host, https → http
// included) and, on 307/308, the request body (a key.enc) to wherever the
// answer points, past the URL rules every service URL is checked against.
// The 3xx answer comes back as a *RedirectError.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RedirectError is a redirect answer, which capy never follows.
type RedirectError struct {
	Status   int
	Location string
}

// Error says where the service pointed and what to do.
func (e *RedirectError) Error() string {
	loc := e.Location
	if len(loc) > 200 {
		loc = loc[:200] + "…"
	}
	return fmt.Sprintf("the service answered HTTP %d, a redirect to %q; capy does not follow redirects (if the service moved, use its new URL)", e.Status, loc)
}

// BaseURL returns the canonical service URL.
func (c *Client) BaseURL() string { return c.base }

// WithSession returns a copy of c that sends token.
func (c *Client) WithSession(token string) *Client {
	cp := *c
	cp.token = token
	return &cp
}

// OnRefused returns a copy of the client that calls fn whenever the
// service answers 401 or 403, before the error is returned: what a
// machine keeps on the strength of its session (the keys of the offline
// grace) goes at the first refusal, whichever request met it.
func (c *Client) OnRefused(fn func()) *Client {
	cp := *c
	cp.onRefused = fn
	return &cp
}

// HTTPError is a non-problem error answer (a proxy's error page, say).
type HTTPError struct {
	Status int
}

// Error describes the status without the body (which may be a proxy page).
func (e *HTTPError) Error() string {
	return fmt.Sprintf("service answered HTTP %d without a problem document", e.Status)
}

// UnreachableError is a service that could not be reached at all: no
// connection (refused, no route, a name that does not resolve). The
// request was not sent, so nothing changed on the service.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the service at %s, it is down or unreachable from here (%v)", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// isUnreachable says whether err is a failure to connect: a dial error or
// a name lookup, before any byte of the request left.
func isUnreachable(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// TimeoutError is a request the service did not answer in time: the
// caller's context reached its deadline, or every attempt ran out its own
// timeout. Path is the request path without its query (ids only, never a
// token or a code).
type TimeoutError struct {
	Method string
	Path   string
	// Waited is how long the client waited for this request, every
	// attempt and backoff included.
	Waited time.Duration
	// Err is context.DeadlineExceeded.
	Err error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the service did not answer %s %s within %v", e.Method, e.Path, roundWait(e.Waited))
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// roundWait rounds a waiting time for a message: tenths of a second below
// ten seconds, whole seconds above.
func roundWait(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// ProblemOf returns the problem in err's chain, or nil.
func ProblemOf(err error) *api.Problem {
	var p *api.Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// Is reports whether err carries the problem type slug.
func Is(err error, slug api.ProblemType) bool {
	p := ProblemOf(err)
	return p != nil && p.Slug() == slug
}

// retryable says whether a request may be sent again after a transient
// failure: reads, and the actions docs/api.md §1.10 calls safe to retry.
type retryable bool

const (
	once  retryable = false
	retry retryable = true
)

// do sends one request and decodes a success body into out (if non-nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any, r retryable) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	attempts := 1
	if r == retry {
		attempts = c.attempts
	}
	start := time.Now()
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			// Jittered exponential backoff; give up at once when the
			// caller's deadline comes before the wait would end, and as
			// soon as the caller's context ends.
			d := c.backoff << (i - 1)
			d += time.Duration(rand.Int64N(int64(d/2) + 1))
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
				return lastErr
			}
			select {
			case <-ctx.Done():
				return lastErr
			case <-time.After(d):
			}
		}
		err, transient := c.attempt(ctx, method, path, body, out)
		var te *TimeoutError
		if errors.As(err, &te) {
			te.Waited = time.Since(start)
		}
		if err == nil || !transient {
			return err
		}
		lastErr = err
	}
	return lastErr
}

// attempt sends the request once, bounded by attemptTimeout and by ctx.
// When the bound ends it, the error is a *TimeoutError (transient only
// when it was this attempt's own timeout, so a retry may follow), or
// ctx's error when ctx was cancelled (an interrupt).
func (c *Client) attempt(ctx context.Context, method, path string, body []byte, out any) (error, bool) {
	actx := ctx
	if c.attemptTimeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, c.attemptTimeout)
		// The answer's body is read under actx too, so cancel only after.
		defer cancel()
	}
	err, transient := c.once(actx, method, path, body, out)
	if err == nil || actx.Err() == nil {
		return err, transient
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(cerr, context.DeadlineExceeded) {
		return cerr, false
	}
	p, _, _ := strings.Cut(path, "?")
	return &TimeoutError{Method: method, Path: p, Err: context.DeadlineExceeded}, ctx.Err() == nil
}

func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (err error, transient bool) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err), false
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil && isUnreachable(err) {
			return &UnreachableError{URL: c.base, Err: scrub(err)}, isTransient(err)
		}
		return fmt.Errorf("contact %s: %w", c.base, scrub(err)), isTransient(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.base, err), true
	}
	if len(data) > maxResponse {
		return fmt.Errorf("answer from %s is larger than %d bytes", c.base, maxResponse), false
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil, false
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer from %s: %w", c.base, err), false
		}
		return nil, false
	}
	if (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) && c.onRefused != nil {
		c.onRefused()
	}
	transient = resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusGatewayTimeout
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		p := &api.Problem{}
		if json.Unmarshal(data, p) == nil && p.Type != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			p.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
			return p, transient
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return &RedirectError{Status: resp.StatusCode, Location: resp.Header.Get("Location")}, false
	}
	return &HTTPError{Status: resp.StatusCode}, transient
}

// maxRetryAfter bounds the wait a service can ask for: a longer one is
// shown as this (a hostile or broken answer cannot print a silly number).
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header in its delay-seconds form
// (RFC 9110 §10.2.3); the HTTP-date form, which capyd never sends, and
// anything malformed read as 0 (unknown).
func parseRetryAfter(h string) time.Duration {
	if h == "" || len(h) > 64 {
		return 0
	}
	for _, c := range h {
		if c < '0' || c > '9' {
			return 0
		}
	}
	if len(h) > 9 {
		return maxRetryAfter
	}
	n, _ := strconv.Atoi(h)
	return min(time.Duration(n)*time.Second, maxRetryAfter)
}

// scrub removes the URL (which never holds a secret, but may be long)
// from *url.Error so messages stay short; the cause stays wrapped.
func scrub(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func isTransient(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// segment checks an id before it goes into a path: a service or a file
// that hands us "../x" must not steer a request elsewhere.
func segment(kind ident.Kind, id string) (string, error) {
	if err := ident.CheckID(kind, id); err != nil {
		return "", fmt.Errorf("refusing to use %q in a request path: %w", id, err)
	}
	return id, nil
}

func orgPath(org string) (string, error) {
	o, err := segment(ident.Org, org)
	if err != nil {
		return "", err
	}
	return "/v1/orgs/" + o, nil
}

func envPath(org, prj, env string) (string, error) {
	op, err := orgPath(org)
	if err != nil {
		return "", err
	}
	p, err := segment(ident.Project, prj)
	if err != nil {
		return "", err
	}
	e, err := segment(ident.Env, env)
	if err != nil {
		return "", err
	}
	return op + "/projects/" + p + "/envs/" + e, nil
}

func pageQuery(cursor string, limit int, extra ...string) string {
	q := []string{}
	if limit > 0 {
		q = append(q, "limit="+strconv.Itoa(limit))
	}
	if cursor != "" {
		q = append(q, "cursor="+urlEscape(cursor))
	}
	q = append(q, extra...)
	if len(q) == 0 {
		return ""
	}
	return "?" + strings.Join(q, "&")
}
