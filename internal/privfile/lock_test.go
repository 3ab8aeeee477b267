//go:build unix

package privfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAcquireWithin: one holder at a time; a second waits (and says so
// once), gets the lock when the first lets go, and gives up with ErrLocked
// after its wait. A directory can be locked (capy locks .capy).
func TestAcquireWithin(t *testing.T) {
	dir := t.TempDir()
	l, err := AcquireWithin(dir, time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AcquireWithin(dir, 100*time.Millisecond, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock while held: %v, want ErrLocked", err)
	}
	if _, err := TryAcquire(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("TryAcquire while held: %v, want ErrLocked", err)
	}

	waited := 0
	got := make(chan error, 1)
	go func() {
		l, err := AcquireWithin(dir, 10*time.Second, func() { waited++ })
		l.Release()
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("lock taken while held: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	l.Release()
	l.Release() // a second release does nothing
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
	l, err = AcquireWithin(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()

	if _, err := TryAcquire(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock on a missing file: %v", err)
	}
}

// TestAcquireFollowsReplacement: a file replaced by rename while a waiter
// waits for its lock: the waiter ends up holding the lock on the file now
// at the path (where the next waiter looks), not on the old one.
func TestAcquireFollowsReplacement(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kek")
	if err := os.WriteFile(path, []byte("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Acquire(path)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Lock, 1)
	go func() {
		l2, err := Acquire(path)
		if err != nil {
			t.Error(err)
		}
		got <- l2
	}()
	time.Sleep(100 * time.Millisecond)
	// The holder replaces the file, then lets go.
	if err := WriteAtomic(path, []byte("v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Release()
	l2 := <-got
	defer l2.Release()
	held, _ := l2.f.Stat()
	now, _ := os.Stat(path)
	if !os.SameFile(held, now) {
		t.Fatal("the waiter holds the lock of the replaced file")
	}
	if _, err := TryAcquire(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("the file at the path is not locked: %v", err)
	}
}
