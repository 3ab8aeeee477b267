package server

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/capy-oss/capy/internal/buildinfo"
)

// metrics are the service's Prometheus metrics (docs/api.md §4.10). Labels
// carry route patterns, methods, statuses, actions, outcomes and bucket
// names: never ids or e-mail addresses.
type metrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	auditRows     *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	loginCodes    *prometheus.CounterVec
	deployDecrypt *prometheus.CounterVec
	unwraps       *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_http_requests_total", Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "capyd_http_request_duration_seconds", Help: "HTTP request duration by route pattern and method.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method"}),
		auditRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_audit_rows_total", Help: "Audited actions by action and result (denied refusals are counted even when their row is throttled).",
		}, []string{"action", "result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_rate_limited_total", Help: "Requests refused by a rate limit, by bucket.",
		}, []string{"bucket"}),
		loginCodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_login_codes_total", Help: "Login codes sent and verification outcomes; refused: an address the operator does not let in, or a disabled account.",
		}, []string{"outcome"}),
		deployDecrypt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_deploy_decrypt_total", Help: "Deploy decrypts by outcome.",
		}, []string{"outcome"}),
		unwraps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "capyd_outer_unwraps_total", Help: "Outer blobs opened, by purpose (key, invite, deploy) and the id of the KEK they were made under.",
		}, []string{"purpose", "kek"}),
	}
	// capyd_build_info is 1, its labels say which build runs (the usual
	// Prometheus idiom: join on it to tell replicas' versions apart).
	in := buildinfo.Read("capyd")
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "capyd_build_info", Help: "Always 1; the labels name the running build (version, commit, Go version).",
	}, []string{"version", "commit", "go_version"})
	build.WithLabelValues(in.Version, in.Commit, in.GoVersion).Set(1)
	for _, c := range []prometheus.Collector{
		build, m.requests, m.duration, m.auditRows, m.rateLimited, m.loginCodes, m.deployDecrypt, m.unwraps,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue // the Go and process collectors may be there already
			}
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) audit(action, result string) {
	m.auditRows.WithLabelValues(action, result).Inc()
}
