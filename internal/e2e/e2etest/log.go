package e2etest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
)

// LogBuffer collects a log (a capyd's stdout and stderr, or an in-process
// server's slog output). It is safe for concurrent use, and a test can
// wait for something to appear in it (WaitFor) instead of sleeping.
type LogBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed (and replaced) by every Write
}

// Write appends p and wakes every waiter.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.b.Write(p)
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return n, err
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Lines are the complete lines written so far, without their newlines.
func (l *LogBuffer) Lines() []string {
	s := l.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// Tail is the last n lines (fewer if there are fewer).
func (l *LogBuffer) Tail(n int) string {
	lines := l.Lines()
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// snapshot returns the text so far and a channel closed at the next Write.
func (l *LogBuffer) snapshot() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.b.String(), l.changed
}

// WaitFor waits until ok holds for the log's text, or within has passed
// (an error that shows the end of the log). It looks again at every
// Write: no polling, no sleep.
func (l *LogBuffer) WaitFor(within time.Duration, what string, ok func(log string) bool) error {
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	for {
		text, changed := l.snapshot()
		if ok(text) {
			return nil
		}
		select {
		case <-changed:
		case <-timeout.C:
			return fmt.Errorf("no %s in the log within %v; its end:\n%s", what, within, l.Tail(40))
		}
	}
}

// WaitCount waits until the log holds s at least n times in all.
func (l *LogBuffer) WaitCount(within time.Duration, s string, n int) error {
	return l.WaitFor(within, fmt.Sprintf("%q (%d times)", s, n), func(log string) bool { return strings.Count(log, s) >= n })
}
