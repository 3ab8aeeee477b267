// Package server is the HTTP API of capyd (docs/api.md): routing, strict
// request decoding, authentication, the outer wrap, rate limits, metrics
// and the access log. Every rule about who may do what, and every audit
// row, lives in the store (internal/store), whose operations are whole
// transactions; this package checks the shape of what comes in, calls
// them in the order docs/api.md §1.7 gives, adds and strips the outer
// wrap, and turns every error into a problem document in one place
// (problemFor).
//
// The server never derives a client key: it must not import
// internal/keys, internal/envsync or internal/envfile (internal/arch checks).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/capy-oss/capy/internal/buildinfo"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/store"

	"github.com/capy-oss/capy/internal/api"
)

// Config configures a Server. The zero value of each field means its
// default.
type Config struct {
	// PublicURL is the canonical service URL named in login mails.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-For header is
	// honoured for the client IP; default none (the connection's peer
	// address is the client).
	TrustedProxies []netip.Prefix
	// LoginCodeTTL is a login code's lifetime; default 10 minutes.
	LoginCodeTTL time.Duration
	// Logger receives the access log and errors; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Registry receives the service's metrics; nil means a new one.
	Registry *prometheus.Registry
	// DisableRateLimits turns every rate limit off: tests, and capyd's
	// --unsafe-disable-rate-limits for load tests (docs/server.md).
	DisableRateLimits bool
	// Access is who may sign in and create organisations; the zero value
	// lets everyone (docs/server.md "Operator controls").
	Access Access
}

// DefaultLoginCodeTTL is Config.LoginCodeTTL's default.
const DefaultLoginCodeTTL = 10 * time.Minute

// Server serves the capy API over a store, a KEK keyring and a mailer.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	st       store.Store
	kr       atomic.Pointer[kekring.Ring] // swapped whole by SetKeyring
	mailer   mail.Sender
	reg      *prometheus.Registry
	m        *metrics
	limits   *limiter
	draining atomic.Bool
	api      http.Handler
	ops      http.Handler
}

// New returns a Server. st, kr and mailer are required.
func New(cfg Config, st store.Store, kr *kekring.Ring, mailer mail.Sender) (*Server, error) {
	if st == nil || kr == nil || mailer == nil {
		return nil, errors.New("server: a store, a keyring and a mailer are required")
	}
	u, err := ident.CheckServiceURL(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: the public URL (named in login mails): %w", err)
	}
	cfg.PublicURL = u
	if err := cfg.Access.check(); err != nil {
		return nil, err
	}
	if cfg.LoginCodeTTL <= 0 {
		cfg.LoginCodeTTL = DefaultLoginCodeTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, now: cfg.Now, st: st, mailer: mailer, reg: cfg.Registry,
	}
	s.kr.Store(kr)
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s.m = m
	s.limits = newLimiter(cfg.Now)
	s.api = s.router(true)
	s.ops = s.router(false)
	return s, nil
}

// Handler returns the public API: /v1/…, /healthz and /readyz.
func (s *Server) Handler() http.Handler { return s.api }

// OpsHandler returns the operations listener's handler: /metrics,
// /healthz and /readyz. Serve it on its own (loopback) address only.
func (s *Server) OpsHandler() http.Handler { return s.ops }

// SetDraining makes /readyz answer 503 from now on, so load balancers
// stop sending traffic before a graceful shutdown.
func (s *Server) SetDraining() { s.draining.Store(true) }

// SetKeyring replaces the KEK keyring (capyd reloads its key file on
// SIGHUP). Requests that already hold the old keyring finish with it; a
// nil keyring is ignored.
func (s *Server) SetKeyring(kr *kekring.Ring) {
	if kr != nil {
		s.kr.Store(kr)
	}
}

// keyring is the KEK keyring in use.
func (s *Server) keks() *kekring.Ring { return s.kr.Load() }

// router builds the chi router of the public API (public) or of the
// operations listener.
func (s *Server) router(public bool) http.Handler {
	r := chi.NewRouter()
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		s.writeProblem(w, req, problem(api.PNotFound, ""))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Allow", allowed(r, req.URL.Path))
		s.writeProblem(w, req, problem(api.PMethodNotAllowed, ""))
	})
	for _, rt := range s.routes(public) {
		r.Method(rt.method, rt.pattern, s.handler(rt))
	}
	if public {
		mountPages(r)
	}
	return s.outer(r)
}

// allowed lists the methods that a path has routes for.
func allowed(r chi.Routes, path string) string {
	out := ""
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if r.Match(chi.NewRouteContext(), m, path) {
			if out != "" {
				out += ", "
			}
			out += m
		}
	}
	return out
}

// readyTimeout bounds /readyz's database ping.
const readyTimeout = 2 * time.Second

// healthz is the public listener's liveness answer. It carries no version
// (api.md §4.10): anyone on the internet can ask it, and a version tells
// an attacker which known bugs to try.
func (s *Server) healthz(c *call) error {
	return c.json(http.StatusOK, map[string]string{"status": "ok"})
}

// opsHealthz is the ops listener's liveness answer, with the build
// (version and commit): the operator's probes and `capyd healthcheck` ask
// it there.
func (s *Server) opsHealthz(c *call) error {
	in := buildinfo.Read("capyd")
	return c.json(http.StatusOK, map[string]string{"status": "ok", "version": in.Version, "commit": in.Commit})
}

func (s *Server) readyz(c *call) error {
	if s.draining.Load() {
		return problem(api.PUnavailable, "the service is shutting down")
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), readyTimeout)
	defer cancel()
	if err := s.st.Ping(ctx); err != nil {
		return &problemError{slug: api.PUnavailable, detail: "the database is not ready", cause: err}
	}
	return c.json(http.StatusOK, map[string]string{"status": "ok"})
}
