package e2etest

import (
	"sync"
	"time"
)

// Clock is a service's clock that a test moves forward (login codes and
// sessions expiring, rate windows passing) without waiting.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the wall clock plus every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
