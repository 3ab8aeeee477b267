package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/client"
)

// defaultTimeout bounds a command when CAPY_TIMEOUT is unset: a stalled
// service used to hold every command for 30 s × 3 attempts.
const defaultTimeout = 30 * time.Second

// timeoutVar names the variable in messages and docs/cli.md §1.4.
const timeoutVar = "CAPY_TIMEOUT"

// parseTimeout reads CAPY_TIMEOUT: unset or empty is defaultTimeout; a Go
// duration ("45s", "2m") is the bound; "0" (or "0s") or "off" is no bound
// for the command (each attempt of a request still has the client's own
// 30 s). Anything else, a negative duration or a bare number included, is
// a usage error, not a silent default: a typo must not leave a CI job
// unbounded or cut short.
func parseTimeout(v string) (time.Duration, error) {
	t := strings.TrimSpace(v)
	switch {
	case t == "":
		return defaultTimeout, nil
	case t == "0", strings.EqualFold(t, "off"):
		return 0, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, &cliError{code: "usage", exit: exitUsage,
			msg:  fmt.Sprintf("%s=%q is not a duration", timeoutVar, v),
			hint: fmt.Sprintf("write it with a unit, e.g. %s=45s or %s=2m; 0 or off for no limit", timeoutVar, timeoutVar)}
	}
	return d, nil
}

// budget is a command's time budget (CAPY_TIMEOUT) and the context its work
// runs under: Done closes, and Err is context.DeadlineExceeded, once the
// command has run for limit, not counting the time it waits for a person
// at a prompt or for another capy's checkout lock (pause). Deadline
// reports none, since pausing moves it.
//
// A nil *budget, or one with a zero limit, never ends; its methods do
// nothing.
type budget struct {
	limit time.Duration
	done  chan struct{}

	mu      sync.Mutex
	left    time.Duration // of the budget, as of since
	since   time.Time     // when the clock last started
	paused  int           // nested pauses
	stopped bool          // by stop, for good
	gen     int           // of the running timer; an older one's expiry is ignored
	timer   *time.Timer
	err     error
	after   map[int]func() // AfterFunc's, by registration
	nextFn  int
}

var _ context.Context = (*budget)(nil)

// startBudget starts a budget of limit (0: none).
func startBudget(limit time.Duration) *budget {
	b := &budget{limit: limit, left: limit, done: make(chan struct{})}
	if limit > 0 {
		b.mu.Lock()
		b.runLocked()
		b.mu.Unlock()
	}
	return b
}

// context is the context a command runs under: the budget, or, without a
// limit, the background context (no watcher goroutines for a context that
// never ends).
func (b *budget) context() context.Context {
	if b == nil || b.limit <= 0 {
		return context.Background()
	}
	return b
}

func (b *budget) runLocked() {
	b.since = time.Now()
	b.gen++
	gen := b.gen
	b.timer = time.AfterFunc(b.left, func() { b.expire(gen) })
}

func (b *budget) expire(gen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// A timer stopped too late (it fired while pause or stop waited for
	// the lock) is not an expiry.
	if gen != b.gen || b.paused > 0 || b.stopped || b.err != nil {
		return
	}
	b.endLocked()
}

// endLocked ends the budget: Err becomes DeadlineExceeded, Done closes and
// what AfterFunc registered starts, each in its own goroutine.
func (b *budget) endLocked() {
	b.err = context.DeadlineExceeded
	close(b.done)
	for _, f := range b.after {
		go f()
	}
	b.after = nil
}

// AfterFunc arranges for f to run, in its own goroutine, when the budget
// runs out, as context.AfterFunc does; stop unregisters it. The context
// package finds this method on a parent and uses it instead of starting a
// goroutine that waits on Done for every context derived from the budget
// (each request attempt's timeout is one).
func (b *budget) AfterFunc(f func()) (stop func() bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		go f()
		return func() bool { return false }
	}
	if b.after == nil {
		b.after = map[int]func(){}
	}
	id := b.nextFn
	b.nextFn++
	b.after[id] = f
	return func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		_, registered := b.after[id]
		delete(b.after, id)
		return registered
	}
}

// pause stops the clock until resume is called: capy waits for a person
// (or another capy), not for the service. Pauses nest.
func (b *budget) pause() (resume func()) {
	if b == nil || b.limit <= 0 {
		return func() {}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.paused == 0 && b.running() {
		b.timer.Stop()
		b.gen++
		b.left -= time.Since(b.since)
	}
	b.paused++
	var once sync.Once
	return func() { once.Do(b.resume) }
}

func (b *budget) resume() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.paused--
	if b.paused > 0 || !b.running() {
		return
	}
	if b.left <= 0 {
		b.endLocked()
		return
	}
	b.runLocked()
}

func (b *budget) running() bool { return !b.stopped && b.err == nil }

// stop ends the budget for good without ending the context: `capy run`
// calls it before it becomes (or, on Windows, starts and waits for) its
// command, which the bound does not cover.
func (b *budget) stop() {
	if b == nil || b.limit <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running() && b.paused == 0 {
		b.timer.Stop()
	}
	b.gen++
	b.stopped = true
}

// expired reports whether the budget ran out.
func (b *budget) expired() bool {
	return b != nil && b.limit > 0 && b.Err() != nil
}

func (b *budget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *budget) Done() <-chan struct{}       { return b.done }
func (b *budget) Value(any) any               { return nil }

func (b *budget) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// budgetError is an error that ended a command because its budget ran
// out; classify turns it into the `timeout` message with the limit.
type budgetError struct {
	limit time.Duration
	err   error
}

func (e *budgetError) Error() string { return e.err.Error() }
func (e *budgetError) Unwrap() error { return e.err }

// explain marks err when it is the budget running out (rather than a
// deadline of the command's own, such as doctor's), so that the message
// names CAPY_TIMEOUT and the limit.
func (b *budget) explain(err error) error {
	if err == nil || !b.expired() || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &budgetError{limit: b.limit, err: err}
}

// timeoutError is classify's entry for a timeout: which request the
// service did not answer (when the client knows) and how long capy waited
// — the whole budget when CAPY_TIMEOUT ran out. Paths hold only ids.
func timeoutError(err error) *cliError {
	ce := &cliError{code: "timeout", exit: exitError, err: err,
		hint: fmt.Sprintf("check that the service URL is right and the service is up; on a slow link raise %s (e.g. %s=2m)", timeoutVar, timeoutVar)}
	what := "capy did not finish"
	var te *client.TimeoutError
	if errors.As(err, &te) {
		what = fmt.Sprintf("the service did not answer %s %s", te.Method, te.Path)
	}
	var to *budgetError
	switch {
	case errors.As(err, &to):
		ce.msg = fmt.Sprintf("%s within %v (%s)", what, to.limit, timeoutVar)
	case te != nil:
		ce.msg = te.Error()
	default:
		ce.msg = what + " in time"
	}
	return ce
}
