package abuse

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stallAnswers makes the proxy hold every answer that match selects (all,
// when nil) until the client gives up or the test ends: a service that
// accepts connections and never answers. capyd has done the work by then;
// the client just never hears of it.
func (s *service) stallAnswers(t *testing.T, match func(r *http.Request) bool) {
	s.setModify(func(r *http.Request, status int, body []byte) []byte {
		if match != nil && !match(r) {
			return body
		}
		select {
		case <-r.Context().Done(): // capy closed the connection
		case <-t.Context().Done(): // so that the proxy can close
		}
		return body
	})
}

// A stalled service ends each command after CAPY_TIMEOUT for the whole
// command (not 30 s × 3 attempts per request), with code `timeout`, exit
// 1, a message that names the request, and no file changed.
func TestStalledServiceTimesOut(t *testing.T) {
	w := newWorld(t)
	a := w.alice
	files := []string{".env", ".env.production", ".capy/project.json", ".capy/state.json"}
	token := a.token()
	named := regexp.MustCompile(`the service did not answer (GET|POST) /v1/orgs/` + w.proj.Org + `/\S+ within 2s \(CAPY_TIMEOUT\)`)

	// timesOut runs capy with CAPY_TIMEOUT=2s and checks the refusal. The
	// test kills capy after 15 s: before the bound, a stall held each
	// command for about 91 s.
	timesOut := func(t *testing.T, wantPath string, args ...string) {
		t.Helper()
		before := a.snapshotFiles(files...)
		start := time.Now()
		r := a.capyKilledAfter(15*time.Second, a.dir, []string{"CAPY_TIMEOUT=2s"}, "", args...)
		took := time.Since(start)
		if r.exit != 1 || r.code() != "timeout" {
			t.Fatalf("after %v: want exit 1 and code timeout\n%s", took, r)
		}
		// Generous bounds: the point is the budget, not its precision.
		if took < 2*time.Second || took > 10*time.Second {
			t.Fatalf("capy gave up after %v, want about 2s", took)
		}
		m := named.FindString(r.stderr)
		if m == "" || !strings.Contains(m, wantPath) || !strings.Contains(r.stdout, m) {
			t.Fatalf("the message does not name the request (%s) and the 2s in stderr and --json:\n%s", wantPath, r)
		}
		if !strings.Contains(r.stderr, "capy: hint:") || !strings.Contains(r.stderr, "CAPY_TIMEOUT") {
			t.Fatalf("no hint naming CAPY_TIMEOUT:\n%s", r)
		}
		if strings.Contains(r.stdout+r.stderr, token) || strings.Contains(r.stdout+r.stderr, "capys_") {
			t.Fatalf("the message shows the session token:\n%s", r)
		}
		a.unchangedFiles(before, strings.Join(args, " "))
	}

	t.Run("everything stalls", func(t *testing.T) {
		w.s.stallAnswers(t, nil)
		defer w.s.setModify(nil)
		// The first answer capy waits for is the co-decrypt's (the head is
		// fetched alongside it).
		for _, args := range [][]string{
			{"--json", "sync"},
			{"--json", "get", "--pull", "A"},
			{"--json", "run", "--pull", "--", "true"},
		} {
			t.Run(strings.Join(args[1:], " "), func(t *testing.T) { timesOut(t, "/v1/orgs/", args...) })
		}
	})

	// The bound is on the whole command: the pull's round trips answer, the
	// push does not, and the push is the request named.
	t.Run("push stalls", func(t *testing.T) {
		a.write(".env", a.read(".env")+"E=echo\n")
		w.s.stallAnswers(t, func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/versions")
		})
		timesOut(t, "/envs/"+w.envID("development")+"/versions", "--json", "sync")
		// capyd stored the push; the next sync finds its own value there.
		w.s.setModify(nil)
		a.ok("sync")
		if got := strings.TrimSpace(a.ok("get", "E").stdout); got != "echo" {
			t.Fatalf("E = %q after the next sync", got)
		}
	})
}

// CAPY_TIMEOUT bounds capy's work, not the person at a prompt nor the
// command `capy run` becomes.
func TestTimeoutSparesPromptsAndChild(t *testing.T) {
	s := newService(t, "sqlite")
	a := s.person("alice@example.com")

	// The code is typed 3 s after it was mailed, under a 2 s budget.
	if r := a.loginSlowly(s.url, []string{"CAPY_TIMEOUT=2s"}, 3*time.Second); r.exit != 0 {
		t.Fatalf("a slow typist was timed out: %s", r)
	}

	a.write(".env", "A=alpha\n")
	a.ok("init", "--yes", "--service", s.url, "--new-org", "Acme", "--project", "web")
	r := a.capyIn(a.dir, []string{"CAPY_TIMEOUT=1s"}, "", "run", "--", "sh", "-c", `sleep 2; test "$A" = alpha && exit 7`)
	if r.exit != 7 {
		t.Fatalf("the command was cut short or lost its status (want 7): %s", r)
	}
}
