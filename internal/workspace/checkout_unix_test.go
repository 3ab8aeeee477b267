//go:build unix

package workspace

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckoutRefusesFIFO: a FIFO where .env should be is refused without
// opening it for a read that would wait for a writer forever.
func TestCheckoutRefusesFIFO(t *testing.T) {
	c := newCheckout(t)
	if err := syscall.Mkfifo(c.path(".env"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.repo.EnvFile(EnvPin{File: ".env"}).ReadFile()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), ".env is a named pipe (FIFO)") {
			t.Fatalf("FIFO: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO .env hangs")
	}
	if err := c.repo.WriteFile(".env", []byte("A=1\n"), nil); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("write over a FIFO: %v", err)
	}
	// The open itself does not block either (a FIFO put there after the
	// check): readRegular refuses it once open.
	go func() {
		_, err := readRegular(c.path(".env"), MaxEnvFile)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnsafePath) {
			t.Fatalf("FIFO opened: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("opening a FIFO hangs")
	}
}
