package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/client"
)

func TestParseTimeout(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", defaultTimeout, false},
		{"45s", 45 * time.Second, false},
		{"2m", 2 * time.Minute, false},
		{"1m30s", 90 * time.Second, false},
		{" 10s ", 10 * time.Second, false},
		{"0", 0, false},
		{"off", 0, false},
		{"0s", 0, false},
		{"45", 0, true}, // no unit: seconds or minutes? refused, not guessed
		{"-5s", 0, true},
		{"forever", 0, true},
		{"OFF", 0, false},
		{"30 s", 0, true},
	}
	for _, c := range cases {
		got, err := parseTimeout(c.in)
		if c.bad {
			ce := classify(err)
			if err == nil || ce.code != "usage" || ce.exit != exitUsage || !strings.Contains(ce.msg, "CAPY_TIMEOUT") {
				t.Errorf("parseTimeout(%q) = %v, %v; want a usage error naming CAPY_TIMEOUT", c.in, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseTimeout(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

// ends reports whether ctx ends within d.
func ends(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(d):
		return false
	}
}

func TestBudgetEnds(t *testing.T) {
	b := startBudget(50 * time.Millisecond)
	defer b.stop()
	ctx := b.context()
	if !ends(ctx, 5*time.Second) {
		t.Fatal("the budget did not end")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) || !b.expired() {
		t.Fatalf("Err = %v, expired %v; want DeadlineExceeded", ctx.Err(), b.expired())
	}
	// A context derived from it (the interrupt watcher's) ends the same way.
	child, cancel := context.WithCancel(startBudget(time.Millisecond).context())
	defer cancel()
	if !ends(child, 5*time.Second) || !errors.Is(child.Err(), context.DeadlineExceeded) {
		t.Fatalf("child Err = %v", child.Err())
	}
}

// A prompt pauses the budget: the time a person takes is not the
// command's.
func TestBudgetPausesAtPrompt(t *testing.T) {
	b := startBudget(300 * time.Millisecond)
	defer b.stop()
	resume := b.pause()
	inner := b.pause() // pauses nest (secret → line)
	if ends(b.context(), 600*time.Millisecond) {
		t.Fatal("the budget ran while paused")
	}
	inner()
	if ends(b.context(), 100*time.Millisecond) {
		t.Fatal("the budget ran while still paused once")
	}
	resume()
	resume() // a second call does nothing
	if !ends(b.context(), 5*time.Second) {
		t.Fatal("the budget did not end after resume")
	}
}

// `capy run` stops the budget before its command: it never ends after.
func TestBudgetStop(t *testing.T) {
	b := startBudget(50 * time.Millisecond)
	b.stop()
	if ends(b.context(), 300*time.Millisecond) || b.expired() {
		t.Fatal("a stopped budget ended")
	}
	b.pause()() // nothing to resume
	if ends(b.context(), 100*time.Millisecond) {
		t.Fatal("a stopped budget ended after a pause")
	}
}

func TestNoBudget(t *testing.T) {
	var nilBudget *budget
	for _, b := range []*budget{startBudget(0), nilBudget} {
		if b.context().Done() != nil {
			t.Fatal("no limit, but a context that can end")
		}
		b.pause()()
		b.stop()
		if b.expired() {
			t.Fatal("no limit, but expired")
		}
	}
}

// The timeout message names the request and the whole wait, and only
// when the budget ran out does it name CAPY_TIMEOUT; an interrupt stays
// an interrupt.
func TestTimeoutMessages(t *testing.T) {
	path := "/v1/orgs/org_abcdefghijklmnopqrstuvwxyz/codecrypt"
	te := &client.TimeoutError{Method: "POST", Path: path, Waited: 1700 * time.Millisecond, Err: context.DeadlineExceeded}

	b := startBudget(time.Millisecond)
	defer b.stop()
	ends(b.context(), 5*time.Second)
	ce := classify(b.explain(fmt.Errorf("unlock: %w", te)))
	want := "the service did not answer POST " + path + " within 1ms (CAPY_TIMEOUT)"
	if ce.code != "timeout" || ce.exit != exitError || ce.msg != want || !strings.Contains(ce.hint, "CAPY_TIMEOUT") {
		t.Fatalf("budget ran out: %+v, want code timeout, exit 1, %q", ce, want)
	}
	if ce := classify(b.explain(context.DeadlineExceeded)); ce.code != "timeout" || ce.msg != "capy did not finish within 1ms (CAPY_TIMEOUT)" {
		t.Fatalf("budget ran out between requests: %+v", ce)
	}

	// A deadline of the command's own (doctor's 5 s), or every attempt's
	// timeout with CAPY_TIMEOUT=off: how long this request waited.
	fresh := startBudget(time.Minute)
	defer fresh.stop()
	if ce := classify(fresh.explain(te)); ce.code != "timeout" || ce.msg != "the service did not answer POST "+path+" within 1.7s" {
		t.Fatalf("own deadline: %+v", ce)
	}
	if ce := classify(b.explain(context.Canceled)); ce.code != "interrupted" {
		t.Fatalf("interrupt: %+v", ce)
	}
}

// A context derived from the budget needs no watcher goroutine (the
// budget's AfterFunc), still ends with it, with its error, and a derived
// context cancelled first leaves nothing registered.
func TestBudgetDerivedContexts(t *testing.T) {
	b := startBudget(80 * time.Millisecond)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(b, time.Hour)
	defer cancel()
	short, cancelShort := context.WithCancel(b)
	if n := runtime.NumGoroutine(); n != before {
		t.Fatalf("%d goroutines after deriving two contexts, %d before", n, before)
	}
	cancelShort()
	if short.Err() == nil {
		t.Fatal("cancel did not end the derived context")
	}
	b.mu.Lock()
	left := len(b.after)
	b.mu.Unlock()
	if left != 1 {
		t.Fatalf("%d functions registered after one derived context was cancelled, want 1", left)
	}
	if !ends(ctx, 5*time.Second) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("derived context after the budget ran out: %v", ctx.Err())
	}
	// Derived after the end: done at once.
	late, cancelLate := context.WithCancel(b)
	defer cancelLate()
	if !ends(late, 5*time.Second) {
		t.Fatal("a context derived from a spent budget did not end")
	}
}
