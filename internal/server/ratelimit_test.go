package server

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// near says whether got is want give or take a millisecond (the buckets
// count in floating point; Retry-After is whole seconds anyway).
func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Millisecond && d < time.Millisecond
}

// TestLimiterBuckets: every bucket of docs/api.md §1.8 lets its capacity
// through at once, then one request per capacity-th of its period, says
// how long until the next token, and keeps keys and buckets apart.
func TestLimiterBuckets(t *testing.T) {
	t.Parallel()
	for _, spec := range buckets {
		name := spec
		t.Run(spec.name, func(t *testing.T) {
			t.Parallel()
			c := &clock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
			l := newLimiter(c.Now)
			drain := func(key string, want int) {
				t.Helper()
				for i := range want {
					if ok, _ := l.take(name, key); !ok {
						t.Fatalf("%s: request %d of %d refused", key, i+1, want)
					}
				}
			}
			refused := func(key string, wantWait time.Duration) {
				t.Helper()
				ok, wait := l.take(name, key)
				if ok {
					t.Fatalf("%s: allowed past the limit", key)
				}
				if !near(wait, wantWait) {
					t.Fatalf("%s: wait %v, want %v", key, wait, wantWait)
				}
			}
			interval := spec.per / time.Duration(spec.capacity) // one token
			drain("a", int(spec.capacity))
			refused("a", interval)
			refused("a", interval) // a refusal takes nothing

			// Another key of the bucket, and the same key in another
			// bucket, have their own tokens.
			drain("b", int(spec.capacity))
			other := bucketKeysUser
			if name == other {
				other = bucketRedeemUser
			}
			if ok, _ := l.take(other, "a"); !ok {
				t.Fatalf("bucket %s of key a refused after %s was drained", other.name, name.name)
			}

			// Half a token later: the wait is what is left.
			c.Advance(interval / 2)
			refused("a", interval-interval/2)
			// One token later, exactly one request.
			c.Advance(interval - interval/2 + time.Millisecond)
			drain("a", 1)
			refused("a", interval-time.Millisecond)

			// Idle for a long time: the bucket holds its capacity, no more.
			c.Advance(10 * spec.per)
			drain("a", int(spec.capacity))
			refused("a", interval)
		})
	}
}

// TestLimiterSweep: past 10,000 buckets, a take at most once a minute drops
// the buckets that have refilled completely, and only those: a bucket
// still refilling keeps its state.
func TestLimiterSweep(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	l := newLimiter(c.Now)
	size := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.buckets)
	}
	take := func(name *bucket, key string) bool {
		ok, _ := l.take(name, key)
		return ok
	}
	const n = 10001
	for i := range n {
		if !take(bucketKeysUser, fmt.Sprint("idle-", i)) {
			t.Fatal("refused")
		}
	}
	// 30 an hour: drained now, still short of a token 90 s later. Its
	// first take sweeps (the first sweep ever) and drops nothing: every
	// bucket was just used.
	for range 30 {
		if !take(bucketAuthStartIP, "hot") {
			t.Fatal("hot refused early")
		}
	}
	if got := size(); got != n+1 {
		t.Fatalf("%d buckets, want %d", got, n+1)
	}
	// 90 s later the idle buckets (60 a minute) are full again; the next
	// take sweeps them away and keeps the drained one.
	c.Advance(90 * time.Second)
	take(bucketKeysUser, "trigger")
	if got := size(); got != 2 {
		t.Fatalf("%d buckets after the sweep, want 2 (hot, trigger)", got)
	}
	if take(bucketAuthStartIP, "hot") {
		t.Fatal("the sweep dropped a bucket that was still refilling")
	}
	// No second sweep within the minute, even past 10,000 again.
	for i := range n {
		take(bucketKeysUser, fmt.Sprint("again-", i))
	}
	c.Advance(30 * time.Second)
	take(bucketKeysUser, "trigger")
	if got := size(); got != n+2 {
		t.Fatalf("%d buckets, want %d: swept twice within a minute", got, n+2)
	}
	// Below 10,000 buckets nothing is swept.
	small := newLimiter(c.Now)
	small.take(bucketKeysUser, "x")
	c.Advance(time.Hour)
	small.take(bucketKeysUser, "y")
	if len(small.buckets) != 2 {
		t.Fatalf("%d buckets, want 2", len(small.buckets))
	}
}

// TestLimiterConcurrent: simultaneous takes on one key let exactly the
// capacity through.
func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	l := newLimiter(c.Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.take(bucketKeysIP, "1.2.3.4"); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got, want := allowed.Load(), int64(bucketKeysIP.capacity); got != want {
		t.Fatalf("%d allowed, want %d", got, want)
	}
}
