package e2etest

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// The binaries under test are built with the Makefile's tags.
func TestBuildTagsAreTheMakefiles(t *testing.T) {
	mk, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^GOTAGS\s*\?=\s*(.*?)\s*$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no GOTAGS in the Makefile")
	}
	if string(m[1]) != BuildTags {
		t.Fatalf("the Makefile builds with tags %q, e2etest with %q", m[1], BuildTags)
	}
}

// capy is built once per process, as `make build` builds it.
func TestCapyBuiltOnceAsShipped(t *testing.T) {
	first := CapyBin(t)
	n := builds
	if again := CapyBin(t); again != first || builds != n {
		t.Fatalf("second CapyBin: %s after %s, %d builds after %d", again, first, builds, n)
	}
	out, err := exec.Command("go", "version", "-m", first).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\tbuild\t-tags=" + BuildTags + "\n", "\tbuild\tCGO_ENABLED=0\n", "\tpath\tgithub.com/capy-oss/capy/cmd/capy\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("go version -m capy lacks %q:\n%s", want, out)
		}
	}
}

func TestStartupLine(t *testing.T) {
	for line, want := range map[string]string{
		`time=2026-01-01T00:00:00Z level=INFO msg="capyd started" addr=127.0.0.1:4242 ops_addr=off version=dev`:         "127.0.0.1:4242",
		`{"time":"2026-01-01T00:00:00Z","level":"INFO","msg":"capyd started","addr":"127.0.0.1:4243","ops_addr":"off"}`: "127.0.0.1:4243",
		`time=2026-01-01T00:00:00Z level=INFO msg="capyd stopped" addr=127.0.0.1:1`:                                     "",
		`{"msg":"request","addr":"127.0.0.1:2"}`:                                                                        "",
		`time=2026-01-01T00:00:00Z level=INFO msg="capyd started" ops_addr=127.0.0.1:9`:                                 "",
	} {
		if got := startedAt(line); got != want {
			t.Errorf("startedAt(%s) = %q, want %q", line, got, want)
		}
	}
}

func TestLogBufferWaitFor(t *testing.T) {
	var l LogBuffer
	go func() {
		for _, s := range []string{"one\n", "two\nthr", "ee\n"} {
			_, _ = io.WriteString(&l, s)
		}
	}()
	if err := l.WaitCount(30*time.Second, "three", 1); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.Lines(), "|"); got != "one|two|three" {
		t.Fatalf("lines %q", got)
	}
	if got := l.Tail(2); got != "two\nthree" {
		t.Fatalf("tail %q", got)
	}
	// Nothing more is written: the wait ends at its deadline, with the
	// log's end in the error.
	err := l.WaitCount(20*time.Millisecond, "four", 1)
	if err == nil || !strings.Contains(err.Error(), "three") {
		t.Fatalf("waiting for what never comes: %v", err)
	}
}

func TestClockAdvance(t *testing.T) {
	var c Clock
	before := time.Now()
	c.Advance(time.Hour)
	c.Advance(time.Minute)
	got := c.Now()
	if got.Before(before.Add(time.Hour+time.Minute)) || got.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Fatalf("Now %v after advancing 61 minutes from %v", got, before)
	}
}

func TestNewestCode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	if NewestCode(path, "a@example.com", 0) != "" || len(MailLines(path)) != 0 {
		t.Fatal("a missing mail.log has codes")
	}
	log := `{"to":"a@example.com","code":"1111 1111"}
not json
{"to":"b@example.com","code":"2222 2222"}
{"to":"a@example.com","code":"3333 3333"}
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		email string
		skip  int
		want  string
	}{
		{"a@example.com", 0, "3333 3333"},
		{"a@example.com", 4, ""},
		{"b@example.com", 2, "2222 2222"},
		{"b@example.com", 3, ""},
		{"c@example.com", 0, ""},
	} {
		if got := NewestCode(path, c.email, c.skip); got != c.want {
			t.Errorf("NewestCode(%s, %d) = %q, want %q", c.email, c.skip, got, c.want)
		}
	}
	if n := len(MailLines(path)); n != 4 {
		t.Errorf("%d lines, want 4", n)
	}
	if code, err := WaitCode(path, "a@example.com", 0, time.Second); err != nil || code != "3333 3333" {
		t.Errorf("WaitCode: %q %v", code, err)
	}
}

// The in-process service answers, logs its requests and mails codes to
// its mail.log.
func TestService(t *testing.T) {
	s := StartService(t, ServiceOptions{})
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
	if err := s.Log.WaitCount(10*time.Second, `"msg":"request"`, 1); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", s.URL+"/v1/auth/start", strings.NewReader(`{"email":"a@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, err := WaitCode(s.MailLog, "a@example.com", 0, 10*time.Second); err != nil || len(strings.ReplaceAll(code, " ", "")) != 8 {
		t.Fatalf("login code %q: %v (auth start answered %d)", code, err, resp.StatusCode)
	}
}
