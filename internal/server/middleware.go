package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID returns the request id put into ctx by outer.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// requestKind is the id prefix of request ids.
const requestKind ident.Kind = "req"

// recorder captures what the access log and the metrics need.
type recorder struct {
	http.ResponseWriter
	status  int
	route   string          // the route pattern, set by wrap
	actor   string          // user or deploy id, when known
	problem api.ProblemType // problem slug, if the answer was one
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// outer wraps every request: a fresh request id (a client's is ignored),
// the headers every response carries, the access log line and the HTTP
// metrics. The log line names the route pattern, never the path (ids) or
// the query string, and never a token, code, body or e-mail address.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := ident.NewID(requestKind)
		h := w.Header()
		h.Set("Capy-Request-Id", rid)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, rid))
		abort := s.serveRecovering(next, rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := rec.route
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.m.request(route, r.Method, rec.status, d)
		attrs := []any{
			"request_id", rid, "method", r.Method, "route", route, "status", rec.status,
			"duration_ms", float64(d.Microseconds()) / 1000, "client_ip", s.clientIP(r).String(),
		}
		if rec.actor != "" {
			attrs = append(attrs, "actor", rec.actor)
		}
		if rec.problem != "" {
			attrs = append(attrs, "problem", rec.problem)
		}
		s.log.Info("request", attrs...)
		if abort {
			// The answer had begun before the panic: cut the connection
			// so the client cannot take a partial answer for a whole one.
			panic(http.ErrAbortHandler)
		}
	})
}

// serveRecovering runs next and recovers a panic in it, so that one bad
// request costs one answer and not the process (net/http would recover it
// too, but answer nothing and log the panic without the request id). The
// panic is logged with the request id, the route and the stack (function
// names and addresses; never the body, the headers or the query). If
// nothing was answered yet, the answer is 500 internal; if the answer had
// begun, abort is true and the caller cuts the connection once its access
// log line is written. A handler that aborts on purpose
// (http.ErrAbortHandler) aborts without an error line.
func (s *Server) serveRecovering(next http.Handler, rec *recorder, r *http.Request) (abort bool) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v != http.ErrAbortHandler {
			route := rec.route
			if route == "" {
				route = "unmatched"
			}
			s.log.Error("panic while serving a request", "request_id", requestID(r.Context()),
				"method", r.Method, "route", route, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
		if rec.status != 0 || v == http.ErrAbortHandler {
			if rec.status == 0 {
				rec.status = http.StatusInternalServerError
			}
			abort = true
			return
		}
		// Headers the handler set before it panicked (a Content-Type, an
		// Allow) do not belong to the problem: keep only outer's.
		h := rec.Header()
		for k := range h {
			if k != "Capy-Request-Id" && k != "Cache-Control" && k != "X-Content-Type-Options" {
				delete(h, k)
			}
		}
		s.writeProblem(rec, r, &problemError{slug: api.PInternal, logged: true})
	}()
	next.ServeHTTP(rec, r)
	return false
}

// clientIP is the connection's peer address, or — when the peer is a
// configured trusted proxy — the nearest address in X-Forwarded-For that
// is not itself a trusted proxy. Never chi's RealIP: a client could name
// any address it likes.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv4Unspecified()
	}
	peer = peer.Unmap()
	if !s.trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, p := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(p))
		}
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			return addr // a garbled hop: stop at the last one we trust
		}
		addr = a.Unmap()
		if !s.trusted(addr) {
			return addr
		}
	}
	return addr
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// retryAfter rounds a wait up to whole seconds, at least 1.
func retryAfter(d time.Duration) int {
	secs := int((d + time.Second - 1) / time.Second)
	return max(secs, 1)
}
