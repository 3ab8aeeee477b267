package replicas

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer collects a process's log; safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// secrets are what every replica of one service shares: the KEK keyring
// and the login-code pepper (docs/server.md), and the database.
type secrets struct {
	db, kek, pepper string
}

func newSecrets(db string) secrets {
	k := make([]byte, 32)
	p := make([]byte, 32)
	_, _ = rand.Read(k)
	_, _ = rand.Read(p)
	return secrets{db: db, kek: "capyd-kek 1 1 " + hex.EncodeToString(k), pepper: hex.EncodeToString(p)}
}

// replica is one running capyd process.
type replica struct {
	name    string
	dataDir string // holds only the development mail.log (keys come from the environment)
	url     string // http://127.0.0.1:port
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{} // closed when the process has been reaped
	state   *os.ProcessState
}

// startupAddr finds the public address in capyd's startup line.
var startupAddr = regexp.MustCompile(`msg="capyd started" addr=(127\.0\.0\.1:\d+) `)

// startReplicas starts n capyd processes on loopback ports against the
// shared database, concurrently (so they also race for the migration
// lock), and waits until each has logged its startup line.
func startReplicas(t *testing.T, s secrets, n int) []*replica {
	t.Helper()
	reps := make([]*replica, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reps[i], errs[i] = startReplica(t, s, fmt.Sprintf("replica%d", i+1))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reps
}

// startReplica starts one capyd. Its process is killed (if still running)
// and its log shown (if the test failed) when the test ends.
func startReplica(t *testing.T, s secrets, name string) (*replica, error) {
	dir := t.TempDir()
	r := &replica{name: name, dataDir: filepath.Join(dir, "data"), log: &syncBuffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(capydBin, "serve", "--data-dir", r.dataDir, "--listen", "127.0.0.1:0", "--ops-listen", "",
		"--log-format", "text", "--shutdown-timeout", "5s")
	// The database URL and the keys go through the environment, never
	// argv; nothing else of ours leaks in.
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TZ=UTC",
		"CAPYD_DATABASE=" + s.db, "CAPYD_KEK=" + s.kek, "CAPYD_PEPPER=" + s.pepper}
	r.cmd.SysProcAttr = procAttr()
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	r.cmd.Stdout = r.log
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("%s log (all but the access log lines of successes, at most 12000 bytes):\n%s", r.name, tailString(r.interesting(), 12000))
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(r.log, line)
			if m := startupAddr.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		_, _ = io.Copy(r.log, stderr)
		_ = r.cmd.Wait()
		r.state = r.cmd.ProcessState
		close(r.exited)
	}()
	select {
	case a := <-addr:
		r.url = "http://" + a
		return r, nil
	case <-r.exited:
		return nil, fmt.Errorf("%s exited at start (%v):\n%s", name, r.state, tailString(r.log.String(), 4000))
	case <-time.After(60 * time.Second):
		r.kill()
		return nil, fmt.Errorf("%s logged no startup line within 60 s:\n%s", name, tailString(r.log.String(), 4000))
	}
}

// signal sends sig to the process (if it still runs).
func (r *replica) signal(sig syscall.Signal) {
	select {
	case <-r.exited:
	default:
		_ = r.cmd.Process.Signal(sig)
	}
}

// stopped reports whether the process is stopped (SIGSTOP has taken
// effect): from /proc where there is one, else from ps.
func (r *replica) stopped() bool {
	pid := r.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
		return err == nil && bytes.HasPrefix(bytes.TrimSpace(out), []byte("T"))
	}
	// pid (comm) state …; comm may hold spaces, so cut at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'T' || b[i+2] == 't')
}

// kill sends SIGKILL and waits until the process is reaped.
func (r *replica) kill() {
	r.signal(syscall.SIGKILL)
	<-r.exited
}

// killedBy reports whether the process ended from signal sig.
func (r *replica) killedBy(sig syscall.Signal) bool {
	<-r.exited
	ws, ok := r.state.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// interesting returns the log without the access log lines of successes
// and of 503s (and their warnings, which come by the hundred in an
// outage): start-up, errors and other refusals.
func (r *replica) interesting() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(r.log.String(), "\n") {
		if strings.Contains(l, " msg=request ") && (!strings.Contains(l, " problem=") || strings.Contains(l, " problem=unavailable")) ||
			strings.Contains(l, `msg="service unavailable"`) {
			continue
		}
		b.WriteString(l)
	}
	return b.String()
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// mailCode waits for the newest login code the development mailer of r
// wrote for email into <data-dir>/mail.log after line skip.
func (r *replica) mailCode(email string, skip int) (string, error) {
	path := filepath.Join(r.dataDir, "mail.log")
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		lines := mailLines(path)
		code := ""
		for i, l := range lines {
			if i >= skip && l.To == email && l.Code != "" {
				code = strings.ReplaceAll(l.Code, " ", "")
			}
		}
		if code != "" {
			return code, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no login code for %s in %s", email, path)
}

// mailLine is one JSON line of the development mail.log.
type mailLine struct {
	To   string `json:"to"`
	Code string `json:"code"`
}
