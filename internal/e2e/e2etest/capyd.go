package e2etest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// CapydOptions say how to start a capyd process.
type CapydOptions struct {
	// Name names the process in messages ("replica2"); "capyd" if empty.
	Name string
	// Database is a PostgreSQL URL, given through CAPYD_DATABASE (never
	// argv, which ps shows); empty: SQLite in the data directory.
	Database string
	// Args are more flags, after the harness's own: serve --data-dir D
	// --listen 127.0.0.1:0 --ops-listen "".
	Args []string
	// Env are more NAME=VALUE pairs. The environment is built from
	// scratch (PATH, HOME, TZ=UTC): no CAPYD_* setting of the caller's
	// leaks in.
	Env []string
	// FailureLog is what the test shows of the log when it failed; the
	// last 40 lines when nil.
	FailureLog func(*Capyd) string
}

// Capyd is one running capyd process.
type Capyd struct {
	Name    string
	URL     string     // http://127.0.0.1:port, from its startup line
	DataDir string     // <temp>/data
	MailLog string     // the development mailer's file in DataDir
	Log     *LogBuffer // stdout and stderr, line by line

	cmd    *exec.Cmd
	exited chan struct{} // closed when the process is reaped and its log read to the end
	state  *os.ProcessState
}

// startupAddr finds the public address in capyd's startup line, in text
// or JSON form.
var startupAddr = regexp.MustCompile(`msg="capyd started".*? addr=(\S+)`)

func startedAt(line string) string {
	var j struct{ Msg, Addr string }
	if json.Unmarshal([]byte(line), &j) == nil {
		if j.Msg == "capyd started" {
			return j.Addr
		}
		return ""
	}
	if m := startupAddr.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
}

// StartCapyd starts the real capyd on a free loopback port with a fresh
// data directory and waits for its startup line. When the test ends the
// process is killed (its data is thrown away; a test that wants a
// graceful stop signals it and waits) and, if the test failed, its log
// shown.
func StartCapyd(t testing.TB, o CapydOptions) *Capyd {
	t.Helper()
	d, err := StartCapydErr(t, o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// startWithin bounds the wait for the startup line (a migration on a busy
// machine can take a while).
const startWithin = 60 * time.Second

// StartCapydErr is StartCapyd returning the error instead of failing the
// test, for starting several at once from other goroutines.
func StartCapydErr(t testing.TB, o CapydOptions) (*Capyd, error) {
	bin, err := binaryErr("capyd")
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "capyd"
	}
	dir := t.TempDir()
	d := &Capyd{Name: o.Name, DataDir: filepath.Join(dir, "data"), Log: &LogBuffer{}, exited: make(chan struct{})}
	d.MailLog = filepath.Join(d.DataDir, "mail.log")
	args := append([]string{"serve", "--data-dir", d.DataDir, "--listen", "127.0.0.1:0", "--ops-listen", ""}, o.Args...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC"}, o.Env...)
	if o.Database != "" {
		d.cmd.Env = append(d.cmd.Env, "CAPYD_DATABASE="+o.Database)
	}
	d.cmd.SysProcAttr = procAttr()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout, d.cmd.Stderr = w, w
	if err := d.cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("start %s: %w", o.Name, err)
	}
	w.Close()
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		defer r.Close()
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				_, _ = io.WriteString(d.Log, line)
				if a := startedAt(strings.TrimSuffix(line, "\n")); a != "" {
					select {
					case addr <- a:
					default:
					}
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		_ = d.cmd.Wait()
		<-scanned
		d.state = d.cmd.ProcessState
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			show := o.FailureLog
			if show == nil {
				show = func(d *Capyd) string { return d.Log.Tail(40) }
			}
			t.Logf("%s log:\n%s", d.Name, show(d))
		}
	})
	timeout := time.NewTimer(startWithin)
	defer timeout.Stop()
	select {
	case a := <-addr:
		d.URL = "http://" + a
		return d, nil
	case <-d.exited:
		return nil, fmt.Errorf("%s exited before serving (%v):\n%s", d.Name, d.state, d.Log.Tail(40))
	case <-timeout.C:
		d.Kill()
		return nil, fmt.Errorf("%s logged no startup line within %v:\n%s", d.Name, startWithin, d.Log.Tail(40))
	}
}

// Pid is the process id.
func (d *Capyd) Pid() int { return d.cmd.Process.Pid }

// Signal sends sig to the process if it still runs.
func (d *Capyd) Signal(sig os.Signal) {
	select {
	case <-d.exited:
	default:
		_ = d.cmd.Process.Signal(sig)
	}
}

// State is how the process ended; nil while it runs.
func (d *Capyd) State() *os.ProcessState {
	select {
	case <-d.exited:
		return d.state
	default:
		return nil
	}
}

// Wait waits (at most within) for the process to end and returns how.
func (d *Capyd) Wait(within time.Duration) (*os.ProcessState, error) {
	timeout := time.NewTimer(within)
	defer timeout.Stop()
	select {
	case <-d.exited:
		return d.state, nil
	case <-timeout.C:
		return nil, fmt.Errorf("%s did not exit within %v", d.Name, within)
	}
}

// Kill sends SIGKILL and waits until the process is reaped.
func (d *Capyd) Kill() {
	d.Signal(syscall.SIGKILL)
	<-d.exited
}

// KilledBy waits for the process to end and reports whether signal sig
// ended it.
func (d *Capyd) KilledBy(sig syscall.Signal) bool {
	<-d.exited
	ws, ok := d.state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// Stopped reports whether the process is stopped (a SIGSTOP has taken
// effect): from /proc where there is one, else from ps.
func (d *Capyd) Stopped() bool {
	pid := d.Pid()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
		return err == nil && bytes.HasPrefix(bytes.TrimSpace(out), []byte("T"))
	}
	// pid (comm) state …; comm may hold spaces, so cut at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}
