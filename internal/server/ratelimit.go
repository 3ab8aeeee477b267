package server

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/api"
)

// bucketSpec is a token bucket: capacity tokens, refilled continuously
// over per.
type bucketSpec struct {
	capacity float64
	per      time.Duration
}

// The in-memory buckets of docs/api.md §1.8. Per-IP and per-user buckets
// live in each replica's memory; the per-e-mail start limits, which bound
// code guessing, are in the database (see authStart).
var bucketSpecs = map[string]bucketSpec{
	"auth-start-ip":  {30, time.Hour},
	"auth-verify-ip": {60, time.Hour},
	"keys-ip":        {600, time.Minute}, // co-decrypt and wrap
	"keys-user":      {60, time.Minute},
	"redeem-ip":      {60, time.Minute},
	"redeem-user":    {10, time.Minute},
	"deploy-ip":      {60, time.Minute},
	"deploy-token":   {120, time.Minute},
}

// The database buckets (per e-mail address, shared by replicas).
const (
	startPerHour = 5
	startPerDay  = 20
)

type bucket struct {
	tokens float64
	at     time.Time
}

// limiter holds token buckets by bucket name and key.
type limiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, buckets: map[string]*bucket{}}
}

// take removes one token from the bucket, or says how long until one is
// there.
func (l *limiter) take(name, key string) (ok bool, wait time.Duration) {
	spec := bucketSpecs[name]
	rate := spec.capacity / spec.per.Seconds() // tokens per second
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.sweep) > time.Minute && len(l.buckets) > 10000 {
		l.gc(now)
	}
	id := name + "\x00" + key
	b, found := l.buckets[id]
	if !found {
		b = &bucket{tokens: spec.capacity, at: now}
		l.buckets[id] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(spec.capacity, b.tokens+el*rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
}

// gc drops the buckets that have refilled completely (they hold no state
// worth keeping).
func (l *limiter) gc(now time.Time) {
	l.sweep = now
	for id, b := range l.buckets {
		name := id[:indexNul(id)]
		spec := bucketSpecs[name]
		if now.Sub(b.at) >= spec.per {
			delete(l.buckets, id)
		}
	}
}

func indexNul(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return i
		}
	}
	return len(s)
}

// limitKey applies bucket name to key.
func (s *Server) limitKey(name, key string) error {
	if s.cfg.DisableRateLimits {
		return nil
	}
	ok, wait := s.limits.take(name, key)
	if ok {
		return nil
	}
	s.m.rateLimited.WithLabelValues(name).Inc()
	return &problemError{slug: api.PRateLimited, retry: retryAfter(wait)}
}

// limitIP applies bucket name to the request's client IP.
func (s *Server) limitIP(r *http.Request, name string) error {
	return s.limitKey(name, s.clientIP(r).String())
}
