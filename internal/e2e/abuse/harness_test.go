// Package abuse holds the abuse tests of docs/security.md: what an attacker
// tries against capy and capyd, end to end. The CLI under test is the real
// capy binary, built once per test process (e2etest); capyd is the real
// internal/server handler over a real store on a loopback listener
// (e2etest.Service), usually behind a reverse proxy that plays the
// malicious service (it can rewrite any answer). The package has only
// tests.
package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/pgtest"
)

func TestMain(m *testing.M) { e2etest.MainPostgres(m) }

// mailbox records login mails (the test double of mail delivery).
type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// codeAfter returns the newest code mailed to addr among messages after
// the first skip, or "".
func (m *mailbox) codeAfter(addr string, skip int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= skip; i-- {
		if m.msgs[i].To == addr {
			return strings.ReplaceAll(m.msgs[i].Code, " ", "")
		}
	}
	return ""
}

// modifier rewrites an answer of capyd on its way to the client: it gets
// the request and the status and body capyd sent, and returns the body the
// client gets.
type modifier func(r *http.Request, status int, body []byte) []byte

// service is one capyd (real handler, real store) with a malicious proxy
// in front. CLI users talk to url (the proxy); API tests may talk to
// direct.
type service struct {
	t      *testing.T
	kind   string
	st     store.Store
	dbPath string // SQLite file, or PostgreSQL URL
	mail   *mailbox
	kr     *kekring.Ring
	logs   *e2etest.LogBuffer // capyd's log
	direct string             // capyd itself
	url    string             // the proxy: what project.json and codes name

	mu         sync.Mutex
	modify     modifier
	rewriteReq func(*http.Request) // changes a request before capyd sees it (after it is logged)
	requests   []string            // "METHOD path?query" of everything that reached capyd
	bodies     map[string][]byte   // the last request body capyd got per "METHOD path"
}

// newService starts capyd over a fresh store of kind ("sqlite" or
// "postgres") with its rate limits off, and the proxy in front.
func newService(t *testing.T, kind string) *service {
	t.Helper()
	s := &service{t: t, kind: kind, mail: &mailbox{}, bodies: map[string][]byte{}}
	o := e2etest.ServiceOptions{Mailer: s.mail, Wrap: s.record}
	switch kind {
	case "sqlite":
	case "postgres":
		o.Database = pgtest.NewDatabase(t)
	default:
		t.Fatalf("unknown store %q", kind)
	}
	capyd := e2etest.StartService(t, o)
	s.st, s.dbPath, s.kr, s.logs = capyd.Store, capyd.DBPath, capyd.Keyring, capyd.Log
	s.direct = capyd.URL
	target, _ := url.Parse(capyd.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = nil
	rp.ModifyResponse = func(resp *http.Response) error {
		s.mu.Lock()
		mod := s.modify
		s.mu.Unlock()
		if mod == nil {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		body = mod(resp.Request, resp.StatusCode, body)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
		return nil
	}
	proxy := httptest.NewServer(rp)
	t.Cleanup(proxy.Close)
	s.url = proxy.URL
	return s
}

// record is the wrapper around capyd's handler that keeps what reached
// it (requestLog, requestBody) and applies rewriteReq.
func (s *service) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Small bodies of a declared length are kept for requestBody;
		// capyd reads the same bytes (and the same error), and the
		// tests of oversized and chunked bodies reach it untouched.
		var body []byte
		if r.ContentLength > 0 && r.ContentLength <= 64<<10 {
			var err error
			body, err = io.ReadAll(r.Body)
			rest := io.Reader(bytes.NewReader(body))
			if err != nil {
				rest = io.MultiReader(rest, iotest.ErrReader(err))
			}
			r.Body = io.NopCloser(rest)
		}
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI())
		s.bodies[r.Method+" "+r.URL.Path] = body
		rewrite := s.rewriteReq
		s.mu.Unlock()
		if rewrite != nil {
			rewrite(r)
		}
		h.ServeHTTP(w, r)
	})
}

// setModify installs (or, with nil, removes) the proxy's rewrite.
func (s *service) setModify(m modifier) {
	s.mu.Lock()
	s.modify = m
	s.mu.Unlock()
}

// requestBody returns the body of the last request to r's method and
// path that reached capyd: a modifier sees the request its answer is for
// (the proxy has passed the body on by then).
func (s *service) requestBody(r *http.Request) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[r.Method+" "+r.URL.Path]
}

// requestLog returns what reached capyd since mark (see mark).
func (s *service) requestLog(mark int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests[mark:]...)
}

func (s *service) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// apiClient returns a client of capyd itself with a session token.
func (s *service) apiClient(token string) *client.Client {
	s.t.Helper()
	c, err := client.New(s.direct, client.WithRetry(1, 0), client.WithToken(token))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// apiUser is someone signed in through the API (no CLI).
type apiUser struct {
	*client.Client
	ID, Email, Token string
}

// apiLogin signs email in through the API with the mailed code.
func (s *service) apiLogin(email string) *apiUser {
	s.t.Helper()
	anon := s.apiClient("")
	ctx := context.Background()
	before := s.mail.count()
	if _, err := anon.AuthStart(ctx, email); err != nil {
		s.t.Fatalf("AuthStart %s: %v", email, err)
	}
	code := s.mail.codeAfter(email, before)
	res, err := anon.AuthVerify(ctx, email, code, "laptop")
	if err != nil {
		s.t.Fatalf("AuthVerify %s: %v", email, err)
	}
	return &apiUser{Client: s.apiClient(res.Token), ID: res.User.ID, Email: email, Token: res.Token}
}

// raw sends one request to capyd directly and returns status, headers
// and body.
func (s *service) raw(method, path string, body io.Reader, contentLength int64, hdr map[string]string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.direct+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if contentLength != 0 {
		req.ContentLength = contentLength
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// problemSlug decodes a problem document and returns its slug; it fails
// the test when the answer is not a well-formed problem of the given
// status, or when its detail leaks anything internal.
func problemSlug(t *testing.T, resp *http.Response, body []byte) api.ProblemType {
	t.Helper()
	var p api.Problem
	if resp.Header.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Status != resp.StatusCode {
		t.Fatalf("not a problem document: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	noLeak(t, string(body))
	return p.Slug()
}

// leakWords are what an error must never show: driver and SQL text, Go
// internals, stack traces.
var (
	leakWords = regexp.MustCompile(`(?i)\b(sqlite3?|postgres(ql)?|pgx|pq|sql|syntax error|constraint|sqlstate|drop table|goroutine|panic|runtime error)\b|\.go:\d+`)
	requestID = regexp.MustCompile(`req_[a-z2-7]{26}`)
)

func noLeak(t *testing.T, text string) {
	t.Helper()
	if m := leakWords.FindString(requestID.ReplaceAllString(text, "req_")); m != "" {
		t.Fatalf("an error shows internals (%q): %s", m, text)
	}
}

// person is someone at a machine running the real capy binary: a capy
// home of their own and a working directory.
type person struct {
	t     *testing.T
	s     *service
	bin   string // capy
	email string
	home  string // CAPY_HOME
	dir   string // where capy runs
	env   []string
}

func (s *service) person(email string) *person {
	s.t.Helper()
	root := s.t.TempDir()
	p := &person{t: s.t, s: s, bin: e2etest.CapyBin(s.t), email: email, home: filepath.Join(root, "home"), dir: filepath.Join(root, "repo"),
		env: []string{"CAPY_SERVICE=" + s.url}}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// result is one run of capy.
type result struct {
	args   []string
	stdout string
	stderr string
	exit   int
}

func (r result) String() string {
	return fmt.Sprintf("capy %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.exit, r.stdout, r.stderr)
}

// code is the stable error code of a run made with --json.
func (r result) code() string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &e) != nil {
		return ""
	}
	return e.Error
}

// baseEnv is the environment of every capy run: nothing of the test
// process's CAPY_* variables, HOME in the test's directory.
func (p *person) baseEnv() []string {
	env := []string{
		"CAPY_HOME=" + p.home,
		"HOME=" + filepath.Dir(p.home),
		"NO_COLOR=1",
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + os.TempDir(),
	}
	return append(env, p.env...)
}

// capyIn runs capy in dir with extra environment and stdin.
func (p *person) capyIn(dir string, extra []string, stdin string, args ...string) result {
	p.t.Helper()
	return p.capyKilledAfter(60*time.Second, dir, extra, stdin, args...)
}

// capyKilledAfter is capyIn with the time after which the test kills capy
// (exit -1).
func (p *person) capyKilledAfter(kill time.Duration, dir string, extra []string, stdin string, args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kill)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(p.baseEnv(), extra...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			p.t.Fatalf("run capy %v: %v", args, err)
		}
		r.exit = ee.ExitCode()
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		p.t.Fatalf("capy panicked:\n%s", r)
	}
	return r
}

func (p *person) capy(args ...string) result {
	p.t.Helper()
	return p.capyIn(p.dir, nil, "", args...)
}

func (p *person) capyStdin(stdin string, args ...string) result {
	p.t.Helper()
	return p.capyIn(p.dir, nil, stdin, args...)
}

// ok runs capy and fails the test unless it exits 0.
func (p *person) ok(args ...string) result {
	p.t.Helper()
	r := p.capy(args...)
	if r.exit != 0 {
		p.t.Fatalf("%s", r)
	}
	return r
}

func (p *person) okStdin(stdin string, args ...string) result {
	p.t.Helper()
	r := p.capyStdin(stdin, args...)
	if r.exit != 0 {
		p.t.Fatalf("%s", r)
	}
	return r
}

// login signs the person in with the real `capy login`, typing the code
// from the mail as it arrives.
func (p *person) login() {
	p.t.Helper()
	if r := p.loginWith(p.s.url); r.exit != 0 {
		p.t.Fatalf("login: %s", r)
	}
}

func (p *person) loginWith(service string) result {
	p.t.Helper()
	return p.loginSlowly(service, nil, 0)
}

// loginSlowly is loginWith with extra environment; the person types the
// code think after it arrived.
func (p *person) loginSlowly(service string, extra []string, think time.Duration) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{"login", "--service", service, p.email}
	cmd := exec.CommandContext(ctx, p.bin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(p.baseEnv(), extra...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		p.t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	before := p.s.mail.count()
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	code := ""
	for i := 0; i < 1000 && code == ""; i++ {
		if code = p.s.mail.codeAfter(p.email, before); code == "" {
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(think)
	fmt.Fprintln(stdin, code)
	stdin.Close()
	err = cmd.Wait()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return r
}

func (p *person) path(rel string) string { return filepath.Join(p.dir, rel) }

func (p *person) read(rel string) string {
	p.t.Helper()
	b, err := os.ReadFile(p.path(rel))
	if err != nil {
		p.t.Fatal(err)
	}
	return string(b)
}

func (p *person) write(rel, content string) {
	p.t.Helper()
	if err := os.MkdirAll(filepath.Dir(p.path(rel)), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(p.path(rel), []byte(content), 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// token returns the person's stored session token for the service.
func (p *person) token() string {
	p.t.Helper()
	var c struct {
		Sessions map[string]struct {
			Token  string `json:"token"`
			UserID string `json:"user_id"`
		} `json:"sessions"`
	}
	b, err := os.ReadFile(filepath.Join(p.home, "credentials"))
	if err != nil {
		p.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		p.t.Fatal(err)
	}
	return c.Sessions[p.s.url].Token
}

// snapshotFiles reads files (relative to the person's directory) so that a
// refused command can be checked to have changed none of them.
func (p *person) snapshotFiles(rels ...string) map[string]string {
	p.t.Helper()
	out := map[string]string{}
	for _, rel := range rels {
		b, err := os.ReadFile(p.path(rel))
		if err != nil {
			out[rel] = "<" + err.Error() + ">"
			continue
		}
		out[rel] = string(b)
	}
	return out
}

func (p *person) unchangedFiles(before map[string]string, what string) {
	p.t.Helper()
	for rel, content := range before {
		b, err := os.ReadFile(p.path(rel))
		got := string(b)
		if err != nil {
			got = "<" + err.Error() + ">"
		}
		if got != content {
			p.t.Fatalf("%s changed %s:\nbefore %q\nafter  %q", what, rel, content, got)
		}
	}
}

// world is an organisation made with the real CLI: alice ran `capy init`
// in her repository (through the proxy) and knows the recovery phrase, so
// a test can derive what a member could sign.
type world struct {
	s      *service
	alice  *person
	phrase string
	proj   projectFile
}

type projectFile struct {
	Service      string `json:"service"`
	Org          string `json:"org"`
	Project      string `json:"project"`
	Environments map[string]struct {
		ID    string `json:"id"`
		File  string `json:"file"`
		Epoch uint32 `json:"epoch"`
	} `json:"environments"`
}

var phraseWord = regexp.MustCompile(`(?m)\b\d{1,2}\. ([a-z]+)`)

// newWorld: alice inits "web" with A, B and C in .env (development v1),
// then sets D (v2); production gets P (v1).
func newWorld(t *testing.T) *world {
	t.Helper()
	s := newService(t, "sqlite")
	w := &world{s: s, alice: s.person("alice@example.com")}
	a := w.alice
	a.login()
	a.write(".env", "# team values\nA=alpha\nB=bravo\nC=charlie\n")
	r := a.ok("init", "--yes", "--service", s.url, "--new-org", "Acme", "--project", "web")
	var words []string
	for _, m := range phraseWord.FindAllStringSubmatch(r.stderr, -1) {
		words = append(words, m[1])
	}
	if len(words) != 24 {
		t.Fatalf("recovery phrase not found in init's output:\n%s", r.stderr)
	}
	w.phrase = strings.Join(words, " ")
	a.okStdin("delta", "set", "D")
	a.ok("env", "create", "production")
	a.okStdin("papa", "set", "--env", "production", "P")
	w.loadProject()
	return w
}

func (w *world) loadProject() {
	b, err := os.ReadFile(w.alice.path(".capy/project.json"))
	if err != nil {
		w.s.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &w.proj); err != nil {
		w.s.t.Fatal(err)
	}
}

func (w *world) envID(name string) string { return w.proj.Environments[name].ID }

// projectKey derives PK from the phrase, as any member can.
func (w *world) projectKey() keys.ProjectKey {
	w.s.t.Helper()
	canon, err := keys.ParsePhrase(w.phrase)
	if err != nil {
		w.s.t.Fatal(err)
	}
	m, err := keys.MasterKeyFromPhrase(canon)
	if err != nil {
		w.s.t.Fatal(err)
	}
	return m.ProjectKey(w.proj.Org, w.proj.Project)
}

// clone makes a checkout of alice's repository for p (project.json only,
// as git would give it).
func (w *world) clone(p *person) {
	p.t.Helper()
	p.write(".capy/project.json", w.alice.read(".capy/project.json"))
}

// join invites p (by alice) and has p redeem the code with the CLI.
func (w *world) join(p *person, role string) {
	p.t.Helper()
	code := strings.TrimSpace(w.alice.ok("invite", "--role", role, p.email).stdout)
	p.login()
	p.okStdin(code+"\n", "redeem", "--yes", "-")
}
