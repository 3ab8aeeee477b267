package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/pgtest"
	"github.com/capy-oss/capy/internal/store/postgres"
	"github.com/capy-oss/capy/internal/store/sqlite"
	"github.com/capy-oss/capy/internal/wrap"
)

// One PostgreSQL cluster for the whole package (pgtest); every test gets
// its own database, and every test runs against SQLite and PostgreSQL.
func TestMain(m *testing.M) { pgtest.Main(m) }

const publicURL = "https://capy.example.com"

// clock is a settable clock shared by the server and the store.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mailbox is a mail.Sender that records messages: the test double for
// mail delivery (the SMTP path is tested in internal/mail).
type mailbox struct {
	mu   sync.Mutex
	msgs []mail.Message
	fail atomic.Bool
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	if m.fail.Load() {
		return fmt.Errorf("relay refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// code returns the newest code mailed to addr, as a person would type it.
func (m *mailbox) code(t testing.TB, addr string) string {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.msgs) - 1; i >= 0; i-- {
		if m.msgs[i].To == addr {
			return strings.ReplaceAll(m.msgs[i].Code, " ", "")
		}
	}
	t.Fatalf("no mail to %s", addr)
	return ""
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
}

// syncBuffer is a log sink safe for concurrent handlers.
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

// env is one test's running service: the real handler on a real loopback
// listener over a real store.
type env struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	kr     *kekring.Ring
	srv    *Server
	http   *httptest.Server
	mail   *mailbox
	clock  *clock
	logs   *syncBuffer
	reg    *prometheus.Registry
	anon   *client.Client
	dbKind string
}

// stores runs fn once per store driver, each as a parallel subtest.
func stores(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			defer guard(t)
			fn(t, newEnv(t, kind, Config{}, false))
		})
	}
}

// pepper is the login-code pepper the tests configure on the store.
var pepper = []byte("server tests pepper, 32 bytes!!!")

func openStore(t *testing.T, kind string, c *clock) store.Store {
	t.Helper()
	cfg := store.Config{Now: c.Now, CodePepper: pepper, AutoMigrate: true}
	ctx := context.Background()
	var (
		st  store.Store
		err error
	)
	switch kind {
	case "sqlite":
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "capy.db"), cfg)
	case "postgres":
		st, err = postgres.Open(ctx, pgtest.NewDatabase(t), cfg)
	}
	if err != nil {
		t.Fatalf("open %s store: %v", kind, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newEnv starts a service on a fresh store of kind; rate limits are off
// unless limits.
func newEnv(t *testing.T, kind string, cfg Config, limits bool) *env {
	t.Helper()
	c := &clock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	st := openStore(t, kind, c)
	kr, err := kekring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, kind, st, kr, c, cfg, limits)
}

func startEnv(t *testing.T, kind string, st store.Store, kr *kekring.Ring, c *clock, cfg Config, limits bool) *env {
	t.Helper()
	e := &env{t: t, st: st, kr: kr, clock: c, mail: &mailbox{}, logs: &syncBuffer{}, dbKind: kind}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	if cfg.PublicURL == "" {
		cfg.PublicURL = publicURL
	}
	cfg.Now = c.Now
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, nil))
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	e.reg = cfg.Registry
	cfg.DisableRateLimits = !limits
	srv, err := New(cfg, st, kr, e.mail)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.srv = srv
	e.http = httptest.NewServer(srv.Handler())
	t.Cleanup(e.http.Close)
	e.anon = e.client("")
	return e
}

func (e *env) client(token string) *client.Client {
	c, err := client.New(e.http.URL, client.WithHTTPClient(e.http.Client()), client.WithRetry(1, 0), client.WithToken(token))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

var counter atomic.Int64

// addr returns a fresh canonical e-mail address.
func addr(prefix string) string {
	return fmt.Sprintf("%s%d@example.com", prefix, counter.Add(1))
}

// user is a logged-in person.
type user struct {
	*client.Client
	ID    string
	Email string
	Token string
}

// login signs addr in through the API (mail code) and returns a client
// with the session.
func (e *env) login(email string) *user {
	e.t.Helper()
	if _, err := e.anon.AuthStart(e.ctx, email); err != nil {
		e.t.Fatalf("AuthStart: %v", err)
	}
	res, err := e.anon.AuthVerify(e.ctx, email, e.mail.code(e.t, email), "laptop")
	if err != nil {
		e.t.Fatalf("AuthVerify: %v", err)
	}
	return &user{Client: e.client(res.Token), ID: res.User.ID, Email: email, Token: res.Token}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sealed returns a 61-byte inner sealed box of a random 32-byte key.
func sealed() []byte {
	var k [32]byte
	copy(k[:], randBytes(32))
	box, err := wrap.Seal(&k, randBytes(32), []byte("test"))
	if err != nil {
		panic(err)
	}
	return box
}

// world is an org with an owner, an admin and a member (each with a
// key.enc outer blob), a project and an environment.
type world struct {
	org                  string
	owner, admin, member *user
	outers               map[string][]byte // user id → key.enc outer blob
	inners               map[string][]byte // user id → inner blob
	project              string
	env                  string
	sign                 ed25519.PrivateKey
}

func (e *env) world() *world {
	e.t.Helper()
	w := &world{outers: map[string][]byte{}, inners: map[string][]byte{}}
	w.owner = e.login(addr("owner"))
	w.org = ident.NewID(ident.Org)
	if _, err := w.owner.CreateOrg(e.ctx, api.CreateOrgRequest{ID: w.org, Name: "Acme", KeyCheck: hex.EncodeToString(randBytes(16))}); err != nil {
		e.t.Fatalf("CreateOrg: %v", err)
	}
	e.enrol(w, w.owner)
	w.admin = e.join(w, api.RoleAdmin)
	w.member = e.join(w, api.RoleMember)
	w.project = ident.NewID(ident.Project)
	if _, err := w.owner.CreateProject(e.ctx, w.org, api.CreateProjectRequest{ID: w.project, Name: "web"}); err != nil {
		e.t.Fatalf("CreateProject: %v", err)
	}
	w.env = ident.NewID(ident.Env)
	_, w.sign, _ = ed25519.GenerateKey(rand.Reader)
	if _, err := w.owner.CreateEnv(e.ctx, w.org, w.project, api.CreateEnvRequest{
		ID: w.env, Name: "development", SigningPublicKey: api.Bytes(w.sign.Public().(ed25519.PublicKey)),
	}); err != nil {
		e.t.Fatalf("CreateEnv: %v", err)
	}
	return w
}

// enrol wraps a fresh inner blob for u (key.enc).
func (e *env) enrol(w *world, u *user) {
	e.t.Helper()
	in := sealed()
	outer, err := u.Wrap(e.ctx, w.org, in)
	if err != nil {
		e.t.Fatalf("Wrap: %v", err)
	}
	w.outers[u.ID], w.inners[u.ID] = outer, in
}

// join invites a new user with role (by the owner), who redeems and wraps.
func (e *env) join(w *world, role api.Role) *user {
	e.t.Helper()
	e.clock.Advance(time.Second) // distinct join times keep list orders fixed
	email := addr(string(role))
	if _, err := w.owner.CreateInvite(e.ctx, w.org, api.CreateInviteRequest{Kind: "member", Email: email, Role: &role, Inner: sealed()}); err != nil {
		e.t.Fatalf("CreateInvite: %v", err)
	}
	u := e.login(email)
	invs, err := w.owner.Invites(e.ctx, w.org, "open", "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, inv := range invs.Items {
		if inv.Email == email {
			if _, err := u.Redeem(e.ctx, inv.ID); err != nil {
				e.t.Fatalf("Redeem: %v", err)
			}
		}
	}
	e.enrol(w, u)
	return u
}

// snippet returns a well-formed snippet line.
func snippet(name string) string {
	var k [32]byte
	copy(k[:], randBytes(32))
	s, err := wrap.SealSnippet(&k, "abcde", name, 0, "value of "+name)
	if err != nil {
		panic(err)
	}
	return s
}

// blob builds a signed blob for the world's environment.
func (w *world) blob(t testing.TB, epoch uint32, version uint64, parent string, sign ed25519.PrivateKey) string {
	t.Helper()
	if sign == nil {
		sign = w.sign
	}
	b, err := wrap.BuildBlob(sign, w.project, w.env, epoch, version, parent, []string{snippet("A"), snippet("B")})
	if err != nil {
		t.Fatal(err)
	}
	return string(b.Raw())
}

// push pushes the next version on top of the current head.
func (e *env) push(w *world, u *user) *api.PushResponse {
	e.t.Helper()
	env, err := u.Env(e.ctx, w.org, w.project, w.env)
	if err != nil {
		e.t.Fatal(err)
	}
	parent, version := wrap.NoParent, uint64(1)
	if env.Head != nil {
		parent, version = env.Head.ID, env.Head.Version+1
	}
	res, err := u.Push(e.ctx, w.org, w.project, w.env, w.blob(e.t, env.Epoch, version, parent, nil))
	if err != nil {
		e.t.Fatalf("Push: %v", err)
	}
	return res
}

// snapshot is everything an org's owner can list, for "a refusal changed
// nothing" checks.
func (e *env) snapshot(w *world) string {
	e.t.Helper()
	o := w.owner
	var parts []any
	add := func(v any, err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatalf("snapshot: %v", err)
		}
		parts = append(parts, v)
	}
	add(o.Members(e.ctx, w.org, "all", "", "", 200))
	add(o.Invites(e.ctx, w.org, "all", "", 200))
	add(o.Deploys(e.ctx, w.org, "", "", "all", "", 200))
	add(o.Projects(e.ctx, w.org, "", 200))
	add(o.Envs(e.ctx, w.org, w.project, "", 200))
	add(o.Versions(e.ctx, w.org, w.project, w.env, "", 200))
	a, err := o.Audit(e.ctx, w.org, 1, "", 1000)
	add(a, err)
	b, _ := json.Marshal(parts)
	return string(b)
}

// unchanged fails if the org's state differs from before.
func (e *env) unchanged(w *world, before, what string) {
	e.t.Helper()
	if after := e.snapshot(w); after != before {
		e.t.Fatalf("%s changed the org's state:\nbefore %s\nafter  %s", what, before, after)
	}
}

// lastAudit returns the org's newest audit entry.
func (e *env) lastAudit(w *world) api.AuditEntry {
	e.t.Helper()
	a, err := w.owner.Audit(e.ctx, w.org, 1, "", 1000)
	if err != nil || len(a.Items) == 0 {
		e.t.Fatalf("Audit: %v", err)
	}
	return a.Items[len(a.Items)-1]
}

// wantProblem fails unless err is a problem of type slug.
func wantProblem(t testing.TB, err error, slug api.ProblemType, what string) *api.Problem {
	t.Helper()
	p := client.ProblemOf(err)
	if p == nil || p.Slug() != slug {
		t.Fatalf("%s: got %v, want problem %s", what, err, slug)
	}
	if api.Problems()[slug].Status != p.Status || p.Title != api.Problems()[slug].Title || !strings.HasPrefix(p.RequestID, "req_") {
		t.Fatalf("%s: problem %+v", what, p)
	}
	return p
}

// mustErr carries an unexpected error out of must to guard.
type mustErr struct{ err error }

// must returns v, or stops the test (through guard) on an error. It takes
// exactly (value, error) so that it can wrap a call directly.
func must[T any](v T, err error) T {
	if err != nil {
		panic(mustErr{err})
	}
	return v
}

// guard turns must's panic into a test failure with the stack that says
// where; deferred at the top of every test body.
func guard(t testing.TB) {
	if r := recover(); r != nil {
		if me, ok := r.(mustErr); ok {
			t.Fatalf("unexpected error: %v\n%s", me.err, debug.Stack())
		}
		panic(r)
	}
}

// raw sends a request with the given body and headers and returns the
// response with its body read.
func (e *env) raw(method, path string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// rawProblem decodes a problem document and checks its status and type.
func rawProblem(t testing.TB, resp *http.Response, body []byte, slug api.ProblemType) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not JSON: %s", body)
	}
	if resp.Header.Get("Content-Type") != "application/problem+json" || p["type"] != api.ProblemPrefix+string(slug) ||
		int(p["status"].(float64)) != resp.StatusCode || resp.StatusCode != api.Problems()[slug].Status {
		t.Fatalf("got %d %s %s, want %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, slug)
	}
	return p
}

func verifierOf(authKey []byte) string {
	sum := sha256.Sum256(authKey)
	return hex.EncodeToString(sum[:])
}

func b64(b []byte) string { return wrap.B64.EncodeToString(b) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
