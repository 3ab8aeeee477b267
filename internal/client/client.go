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

// Client talks to one capyd service.
type Client struct {
	base      string
	http      *http.Client
	token     string
	userAgent string
	attempts  int
	backoff   time.Duration
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

// New returns a client for the service at baseURL, which must be https or
// loopback http (DESIGN §5).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := ident.CheckServiceURL(baseURL)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base:      u,
		http:      &http.Client{Timeout: 30 * time.Second},
		userAgent: "capy",
		attempts:  3,
		backoff:   200 * time.Millisecond,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL returns the canonical service URL.
func (c *Client) BaseURL() string { return c.base }

// WithSession returns a copy of c that sends token.
func (c *Client) WithSession(token string) *Client {
	cp := *c
	cp.token = token
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

// ProblemOf returns the problem in err's chain, or nil.
func ProblemOf(err error) *api.Problem {
	var p *api.Problem
	if errors.As(err, &p) {
		return p
	}
	return nil
}

// Is reports whether err carries the problem type slug.
func Is(err error, slug string) bool {
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
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			// Jittered exponential backoff; give up early if the caller's
			// context ends first.
			d := c.backoff << (i - 1)
			d += time.Duration(rand.Int64N(int64(d/2) + 1))
			select {
			case <-ctx.Done():
				return lastErr
			case <-time.After(d):
			}
		}
		err, transient := c.once(ctx, method, path, body, out)
		if err == nil || !transient {
			return err
		}
		lastErr = err
	}
	return lastErr
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
		if ctx.Err() != nil {
			return ctx.Err(), false
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
	transient = resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusGatewayTimeout
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		p := &api.Problem{}
		if json.Unmarshal(data, p) == nil && p.Type != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			return p, transient
		}
	}
	return &HTTPError{Status: resp.StatusCode}, transient
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
