// Package ops proves the operator controls of docs/server.md end to end,
// with the real binaries: a capyd started with --allow-email-domain
// refuses another address at login start with a clear problem, one with
// --org-creation none refuses `capy init` of a new organisation, and
// `capyd admin disable-user` keeps a user out of a running capyd. Both
// binaries are built from this tree in TestMain. The package holds tests
// only.
package ops

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var capyBin, capydBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "capy-e2e-ops-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	capyBin, capydBin = filepath.Join(dir, "capy"), filepath.Join(dir, "capyd")
	for bin, pkg := range map[string]string{capyBin: "./cmd/capy", capydBin: "./cmd/capyd"} {
		// No -race: the binaries are the system under test; CGO_ENABLED=0
		// as `make build`.
		cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", bin, "github.com/capy-oss/capy/"+strings.TrimPrefix(pkg, "./"))
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n%s", pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

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

var startupAddr = regexp.MustCompile(`msg="capyd started" addr=(\S+)`)

// capyd is one running capyd binary.
type capyd struct {
	url, dataDir string
	cmd          *exec.Cmd
	log          *syncBuffer
	exited       chan struct{}
}

// startCapyd runs `capyd serve` on dataDir with args and waits for its
// startup line; it is stopped when the test ends.
func startCapyd(t *testing.T, dataDir string, args ...string) *capyd {
	t.Helper()
	d := &capyd{dataDir: dataDir, log: &syncBuffer{}, exited: make(chan struct{})}
	d.cmd = exec.Command(capydBin, append([]string{"serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--ops-listen", ""}, args...)...)
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TZ=UTC"}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			fmt.Fprintln(d.log, sc.Text())
			if m := startupAddr.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		_, _ = io.Copy(d.log, stderr)
		_ = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("capyd log:\n%s", d.log.String())
		}
	})
	select {
	case a := <-addr:
		d.url = "http://" + a
	case <-d.exited:
		t.Fatalf("capyd exited at start:\n%s", d.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("capyd logged no startup line within 60 s:\n%s", d.log.String())
	}
	return d
}

// stop ends the capyd this test started (by its process, SIGTERM then
// SIGKILL) and waits for it.
func (d *capyd) stop() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(os.Interrupt)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
	}
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// capy runs the capy binary in dir with home as its capy home; stdin
// feeds its prompts.
func capy(t *testing.T, dir, home string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, capyBin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CAPY_HOME=" + home, "NO_COLOR=1", "TZ=UTC"}
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("capy %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// capydCmd runs a one-off capyd command (admin, backup, …).
func capydCmd(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(capydBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TZ=UTC"}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("capyd %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

// mailedCodes counts the codes in the development mailer's log.
func mailedCodes(t *testing.T, dataDir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "mail.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m struct{ To, Code string }
		if json.Unmarshal([]byte(l), &m) == nil && m.Code != "" {
			codes = append(codes, m.To+" "+strings.ReplaceAll(m.Code, " ", ""))
		}
	}
	return codes
}

// login runs `capy login` for email, typing the code capyd mailed.
func login(t *testing.T, d *capyd, home, email string) result {
	t.Helper()
	before := len(mailedCodes(t, d.dataDir))
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() { done <- capy(t, t.TempDir(), home, pr, "login", "--service", d.url, email) }()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case r := <-done:
			pw.Close()
			return r // it stopped before asking for a code
		case <-deadline:
			pw.Close()
			t.Fatalf("no code mailed to %s", email)
		case <-time.After(20 * time.Millisecond):
		}
		if codes := mailedCodes(t, d.dataDir); len(codes) > before {
			to, code, _ := strings.Cut(codes[len(codes)-1], " ")
			if to != email {
				t.Fatalf("a code for %s, want %s", to, email)
			}
			fmt.Fprintln(pw, code)
			pw.Close()
			return <-done
		}
	}
}

// repo makes a git work tree with a .env.
func repo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("git", "-C", dir, "init", "-q").CombinedOutput(); err != nil {
		t.Skipf("git init: %v %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("API_TOKEN=abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAllowListAndOrgCreation is the acceptance of issue #19's operator
// controls, with the real binaries.
func TestAllowListAndOrgCreation(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startCapyd(t, dataDir, "--allow-email-domain", "example.com", "--org-creation", "none")
	home := t.TempDir()
	if err := os.Chmod(home, 0o700); err != nil { // capy refuses a home others can read
		t.Fatal(err)
	}

	// eve@evil.test: refused at login start, with the rule named; no code
	// was mailed, nothing stored for her.
	r := capy(t, t.TempDir(), home, strings.NewReader(""), "login", "--service", d.url, "eve@evil.test")
	if r.code != 4 || !strings.Contains(r.stderr, "capy: error: this service does not let this e-mail address sign in: its operator allows only some addresses") ||
		!strings.Contains(r.stderr, "capy: hint: sign in with your organisation's address") {
		t.Fatalf("capy login eve@evil.test: exit %d\n%s\n%s", r.code, r.stderr, r.stdout)
	}
	if codes := mailedCodes(t, dataDir); len(codes) != 0 {
		t.Fatalf("codes mailed for a refused address: %v", codes)
	}

	// alice@example.com signs in, but may not create an organisation:
	// capy init stops before the phrase, and nothing is created.
	if r := login(t, d, home, "alice@example.com"); r.code != 0 {
		t.Fatalf("capy login alice@example.com: exit %d\n%s", r.code, r.stderr)
	}
	dir := repo(t)
	r = capy(t, dir, home, strings.NewReader(""), "init", "--yes", "--new-org", "Acme", "--service", d.url)
	if r.code != 4 || !strings.Contains(r.stderr, "capy: error: the operator of this service does not let this account create organisations; nothing was created") ||
		strings.Contains(r.stderr, "recovery phrase") {
		t.Fatalf("capy init under --org-creation none: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".capy", "project.json")); err == nil {
		t.Fatal("capy init wrote project.json after the refusal")
	}
	if env, _ := os.ReadFile(filepath.Join(dir, ".env")); string(env) != "API_TOKEN=abc123\n" {
		t.Fatalf(".env was changed: %q", env)
	}
	if r := capydCmd(t, "admin", "orgs", "--json", "--data-dir", dataDir); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("capyd admin orgs: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	d.stop()

	// The same data under the default rules: the same init succeeds, so
	// the refusal above was the rule's.
	d = startCapyd(t, dataDir) // on another port: another service URL, so sign in again
	if r := login(t, d, home, "alice@example.com"); r.code != 0 {
		t.Fatalf("capy login alice@example.com: exit %d\n%s", r.code, r.stderr)
	}
	r = capy(t, dir, home, strings.NewReader(""), "init", "--yes", "--new-org", "Acme", "--service", d.url)
	if r.code != 0 {
		t.Fatalf("capy init under the default rules: exit %d\n%s", r.code, r.stderr)
	}

	// disable-user on the running capyd: alice's session ends at once,
	// and her next login is refused after the right code.
	if r := capydCmd(t, "admin", "disable-user", "--data-dir", dataDir, "alice@example.com"); r.code != 0 || !strings.Contains(r.stdout, "disabled alice@example.com") {
		t.Fatalf("capyd admin disable-user: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := capy(t, dir, home, strings.NewReader(""), "whoami"); r.code == 0 || !strings.Contains(r.stderr, "run `capy login`") {
		t.Fatalf("capy whoami of a disabled user: exit %d\n%s", r.code, r.stderr)
	}
	if r := login(t, d, home, "alice@example.com"); r.code != 4 || !strings.Contains(r.stderr, "capy: error: the operator of this service has disabled this account") {
		t.Fatalf("capy login of a disabled user: exit %d\n%s", r.code, r.stderr)
	}
	r = capydCmd(t, "admin", "users", "--json", "--data-dir", dataDir)
	var users []struct {
		Email      string  `json:"email"`
		DisabledAt *string `json:"disabled_at"`
		Sessions   int     `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || len(users) != 1 || users[0].DisabledAt == nil || users[0].Sessions != 0 {
		t.Fatalf("capyd admin users --json: %v %s", err, r.stdout)
	}
}
