//go:build linux

package abuse

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// openPTY opens a pseudo-terminal pair with the Linux ioctls (no cgo, no
// extra module): capy sees a terminal on the slave side.
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		return nil, nil, e
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		return nil, nil, e
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	return m, s, nil
}

// ttySession is capy running on a terminal.
type ttySession struct {
	cmd    *exec.Cmd
	master *os.File
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan struct{}
}

// capyTTY starts capy with stdin, stdout and stderr on a terminal.
func (p *person) capyTTY(t *testing.T, args ...string) *ttySession {
	t.Helper()
	m, s, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal here (%v): the terminal prompt is not tested", err)
	}
	cmd := exec.Command(p.bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(p.baseEnv(), "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ts := &ttySession{cmd: cmd, master: m, done: make(chan struct{})}
	go func() {
		defer close(ts.done)
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			ts.mu.Lock()
			ts.screen.Write(buf[:n])
			ts.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		m.Close()
	})
	return ts
}

func (ts *ttySession) text() string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.screen.String()
}

// waitFor waits until the screen shows s.
func (ts *ttySession) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(ts.text(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %q; it shows:\n%s", s, ts.text())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (ts *ttySession) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := ts.master.Write([]byte(s + "\n")); err != nil {
		t.Fatal(err)
	}
}

// wait returns capy's exit status.
func (ts *ttySession) wait(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- ts.cmd.Wait() }()
	select {
	case err := <-errc:
		// The terminal's last words: the reader ends when the slave side
		// is closed (capy exited).
		select {
		case <-ts.done:
		case <-time.After(5 * time.Second):
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-ctx.Done():
		t.Fatalf("capy did not finish; the terminal shows:\n%s", ts.text())
		return -1
	}
}

// TestRedeemCodeForAnotherHostOnATerminal: on a terminal, `capy redeem`
// shows the host a code names and asks; "no" sends nothing anywhere, "yes"
// contacts that host (and only then).
func TestRedeemCodeForAnotherHostOnATerminal(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	evil := newEvilHost(t)
	code := evil.redeemCode(t)
	mallory := s.person("victim@example.com")

	ts := mallory.capyTTY(t, "redeem", code)
	ts.waitFor(t, "Contact it? [y/N]")
	if !strings.Contains(ts.text(), "This code is for the capy service at "+evil.url) {
		t.Fatalf("the prompt does not name the host:\n%s", ts.text())
	}
	ts.typeLine(t, "n")
	if st := ts.wait(t); st != 1 || !strings.Contains(ts.text(), "nothing was sent") {
		t.Fatalf("declining: exit %d\n%s", st, ts.text())
	}
	if n := evil.count(); n != 0 {
		t.Fatalf("declining still sent %d request(s) to the code's host", n)
	}

	// Yes: capy contacts the host the person was shown, and nothing else.
	mark := s.mark()
	ts = mallory.capyTTY(t, "redeem", "--email", mallory.email, code)
	ts.waitFor(t, "Contact it? [y/N]")
	ts.typeLine(t, "y")
	ts.waitFor(t, "Code:")
	if got := evil.requests(); len(got) != 1 || got[0] != "POST /v1/auth/start" {
		t.Fatalf("after yes the code's host got %v", got)
	}
	if got := s.requestLog(mark); len(got) != 0 {
		t.Fatalf("the real service was contacted: %v", got)
	}
	ts.cmd.Process.Kill()
}
