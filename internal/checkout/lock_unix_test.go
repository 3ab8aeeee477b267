//go:build unix

package checkout

import (
	"errors"
	"testing"
	"time"
)

// TestLockDir: one holder at a time; a second waits (and says so once),
// gets the lock when the first lets go, and gives up with errLocked after
// its wait.
func TestLockDir(t *testing.T) {
	dir := t.TempDir()
	release, err := lockDir(dir, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockDir(dir, 100*time.Millisecond, nil); !errors.Is(err, errLocked) {
		t.Fatalf("second lock while held: %v, want errLocked", err)
	}

	waited := 0
	got := make(chan error, 1)
	go func() {
		r, err := lockDir(dir, 10*time.Second, func() { waited++ })
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("lock taken while held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the lock was not handed over after release")
	}
	if waited != 1 {
		t.Errorf("waiting called %d times, want once", waited)
	}
	// Released by the last holder: free again.
	r, err := lockDir(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	r()
}
