package server

import (
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/capy-oss/capy/internal/api"
)

// bucket is a token bucket of docs/api.md §1.8: capacity tokens, refilled
// continuously over per. Buckets are these values, not names: a handler
// names one by its variable, so a misspelt bucket does not compile (a
// string would have limited nothing, or everything).
type bucket struct {
	name     string // the metric label and the key prefix
	capacity int
	per      time.Duration
}

// limit is the bucket's refill rate in tokens per second.
func (b *bucket) limit() rate.Limit {
	return rate.Limit(float64(b.capacity) / b.per.Seconds())
}

// The in-memory buckets of docs/api.md §1.8. Per-IP and per-user buckets
// live in each replica's memory; the per-e-mail start limits, which bound
// code guessing, are in the database (see authStart).
var (
	bucketAuthStartIP  = &bucket{"auth-start-ip", 30, time.Hour}
	bucketAuthVerifyIP = &bucket{"auth-verify-ip", 60, time.Hour}
	bucketKeysIP       = &bucket{"keys-ip", 600, time.Minute} // co-decrypt and wrap
	// Every member read is a co-decrypt: 300 at once (a Makefile or a
	// watcher calling `capy get` in a loop), then 2 a second sustained
	// (decision 66). A stolen session still gets no more than that, each
	// one audited, and the per-IP bucket bounds a host.
	bucketKeysUser    = &bucket{"keys-user", 300, 150 * time.Second}
	bucketRedeemIP    = &bucket{"redeem-ip", 60, time.Minute}
	bucketRedeemUser  = &bucket{"redeem-user", 10, time.Minute}
	bucketDeployIP    = &bucket{"deploy-ip", 60, time.Minute}
	bucketDeployToken = &bucket{"deploy-token", 120, time.Minute}
	// Shares (docs/decisions.md #73): a page registers a request without
	// an account (a few an hour), polls for its answer every few
	// seconds, and a link is opened a handful of times; members read
	// requests and seal shares by the dozen at most. Guessing a share id
	// (50 bits) at these rates is hopeless.
	bucketShareRequestIP = &bucket{"share-request-ip", 30, time.Hour}
	bucketShareOpenIP    = &bucket{"share-open-ip", 120, time.Minute}
	bucketShareIP        = &bucket{"share-ip", 120, time.Hour}
	bucketShareUser      = &bucket{"share-user", 60, time.Hour}
)

// buckets lists every bucket (for the tests).
var buckets = []*bucket{bucketAuthStartIP, bucketAuthVerifyIP, bucketKeysIP, bucketKeysUser,
	bucketRedeemIP, bucketRedeemUser, bucketDeployIP, bucketDeployToken,
	bucketShareRequestIP, bucketShareOpenIP, bucketShareIP, bucketShareUser}

// The database buckets (per e-mail address, shared by replicas).
const (
	startPerHour = 5
	startPerDay  = 20
)

// limiter holds token buckets (x/time/rate limiters, started full) by
// bucket name and key. Every call passes the server's clock, never the
// limiters' own time.Now.
type limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	sweep   time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: map[string]*rate.Limiter{}}
}

// take removes one token from the bucket, or says how long until one is
// there (a refusal takes nothing).
func (l *limiter) take(spec *bucket, key string) (ok bool, wait time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute && len(l.buckets) > 10000 {
		l.gc(now)
	}
	id := spec.name + "\x00" + key
	b, found := l.buckets[id]
	if !found {
		b = rate.NewLimiter(spec.limit(), spec.capacity)
		l.buckets[id] = b
	}
	// Under l.mu no other take reaches b between AllowN and TokensAt, so
	// the wait is for the same count that refused.
	if b.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - b.TokensAt(now)
	return false, time.Duration(missing / float64(spec.limit()) * float64(time.Second))
}

// gc drops the buckets that have refilled completely: a full bucket is
// what a new one would be, so it holds no state worth keeping.
func (l *limiter) gc(now time.Time) {
	l.sweep = now
	for id, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, id)
		}
	}
}

// limitKey applies bucket b to key.
func (s *Server) limitKey(b *bucket, key string) error {
	if s.cfg.DisableRateLimits {
		return nil
	}
	ok, wait := s.limits.take(b, key)
	if ok {
		return nil
	}
	s.m.rateLimited.WithLabelValues(b.name).Inc()
	return &problemError{slug: api.PRateLimited, retry: retryAfter(wait)}
}

// limitIP applies bucket b to the request's client IP.
func (s *Server) limitIP(r *http.Request, b *bucket) error {
	return s.limitKey(b, s.clientIP(r).String())
}
