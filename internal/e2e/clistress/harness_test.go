package clistress

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// commandTimeout bounds every capy process a test starts.
const commandTimeout = 60 * time.Second

// ---- capyd ----

// capyd is the test's capyd process (e2etest), with the questions the
// tests ask of its access log.
type capyd struct{ *e2etest.Capyd }

// startCapyd starts the real capyd on a free loopback port with a SQLite
// database in a fresh data directory and its log in JSON.
func startCapyd(t *testing.T) *capyd {
	t.Helper()
	return &capyd{e2etest.StartCapyd(t, e2etest.CapydOptions{Args: []string{"--log-format", "json"}})}
}

// accessLine is one line of capyd's access log.
type accessLine struct {
	Msg, Method, Route, Problem, Actor string
	Status                             int
}

// requests returns the access-log lines so far.
func (d *capyd) requests() []accessLine {
	var out []accessLine
	for _, line := range d.Log.Lines() {
		var l accessLine
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "request" {
			out = append(out, l)
		}
	}
	return out
}

// pushRetries counts the pushes refused with 409 (each one a retry of the
// sync loop) by user id.
func (d *capyd) pushRetries() map[string]int {
	n := map[string]int{}
	for _, l := range d.requests() {
		if l.Method == "POST" && strings.HasSuffix(l.Route, "/versions") && l.Status == 409 {
			n[l.Actor]++
		}
	}
	return n
}

// pushStats counts the pushes (POST …/versions) in the access log by status.
func (d *capyd) pushStats() map[int]int {
	n := map[int]int{}
	for _, l := range d.requests() {
		if l.Method == "POST" && strings.HasSuffix(l.Route, "/versions") {
			n[l.Status]++
		}
	}
	return n
}

// statusCount counts access-log lines with the given status.
func (d *capyd) statusCount(status int) int {
	n := 0
	for _, l := range d.requests() {
		if l.Status == status {
			n++
		}
	}
	return n
}

// ---- pacing under capyd's key rate limits ----

// The shipped capyd allows a user 60 co-decrypts a minute and an IP 600 a
// minute (token buckets, internal/server/ratelimit.go). A 429 is not
// retried by capy, so the tests pace themselves below both buckets and
// spread their work over several members; the pacer only ever delays a
// command, it never changes what is checked.
type bucket struct {
	tokens, capacity, perSec float64
	at                       time.Time
}

func (b *bucket) refill(now time.Time) {
	b.tokens = min(b.capacity, b.tokens+now.Sub(b.at).Seconds()*b.perSec)
	b.at = now
}

func (b *bucket) wait() time.Duration {
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.perSec * float64(time.Second))
}

type pacer struct {
	mu     sync.Mutex
	ip     bucket
	users  map[string]*bucket
	waited time.Duration
}

func newPacer() *pacer {
	return &pacer{ip: bucket{tokens: 570, capacity: 570, perSec: 9.5, at: time.Now()}, users: map[string]*bucket{}}
}

// take waits until both email's bucket and the IP bucket hold a token.
func (p *pacer) take(email string) {
	for {
		p.mu.Lock()
		now := time.Now()
		u := p.users[email]
		if u == nil {
			u = &bucket{tokens: 55, capacity: 55, perSec: 0.95, at: now}
			p.users[email] = u
		}
		u.refill(now)
		p.ip.refill(now)
		w := max(u.wait(), p.ip.wait())
		if w == 0 {
			u.tokens--
			p.ip.tokens--
			p.mu.Unlock()
			return
		}
		p.waited += w
		p.mu.Unlock()
		time.Sleep(w)
	}
}

// ---- capy ----

// user is one person with their own CAPY_HOME.
type user struct {
	email, home string
	id          string // user id, once signed in
}

// harness runs capy against one capyd.
type harness struct {
	t       *testing.T
	d       *capyd
	capyBin string
	root    string // scratch directory: homes, checkouts, TMPDIR
	tmp     string // TMPDIR of every capy process
	pace    *pacer
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{t: t, d: startCapyd(t), capyBin: e2etest.CapyBin(t), root: t.TempDir(), pace: newPacer()}
	h.tmp = filepath.Join(h.root, "tmp")
	if err := os.MkdirAll(h.tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	return h
}

// result is how one capy process ended.
type result struct {
	args           []string
	stdout, stderr string
	code           int // exit status; -1 when killed by a signal
	killed         bool
	dur            time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("capy %s: exit %d after %v\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.dur.Round(time.Millisecond), r.stdout, r.stderr)
}

// command prepares `capy args…` for u in dir. extraEnv adds NAME=VALUE
// pairs. The environment is built from scratch: only what capy needs.
func (h *harness) command(ctx context.Context, u *user, dir, stdin string, extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, h.capyBin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + u.home, "CAPY_HOME=" + u.home,
		"CAPY_SERVICE=" + h.d.URL, "NO_COLOR=1", "TMPDIR=" + h.tmp}, extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// finish waits for a started command and describes how it ended.
func finish(cmd *exec.Cmd, stdout, stderr *bytes.Buffer, start time.Time, args []string) result {
	err := cmd.Wait()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), dur: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		r.code, r.stderr = -2, r.stderr+"\n(wait: "+err.Error()+")"
	}
	return r
}

// capy runs `capy args…` as u in dir to completion, pacing it under the
// key rate limits. It is safe to call from several goroutines.
func (h *harness) capy(u *user, dir, stdin string, extraEnv []string, args ...string) result {
	h.pace.take(u.email)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd, stdout, stderr := h.command(ctx, u, dir, stdin, extraEnv, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{args: args, code: -3, stderr: "start: " + err.Error()}
	}
	return finish(cmd, stdout, stderr, start, args)
}

// must runs capy and fails the test unless it exits 0.
func (h *harness) must(u *user, dir, stdin string, args ...string) result {
	h.t.Helper()
	r := h.capy(u, dir, stdin, nil, args...)
	if r.code != 0 {
		h.t.Fatalf("%v", r)
	}
	return r
}

// login signs u in with the real `capy login`, typing the code capyd's
// development mailer wrote to mail.log.
func (h *harness) login(u *user) {
	h.t.Helper()
	if err := os.MkdirAll(u.home, 0o700); err != nil {
		h.t.Fatal(err)
	}
	before := len(e2etest.MailLines(h.d.MailLog))
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd, stdout, stderr := h.command(ctx, u, u.home, "", nil, "login", u.email)
	cmd.Stdin = nil
	in, err := cmd.StdinPipe()
	if err != nil {
		h.t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	code, _ := e2etest.WaitCode(h.d.MailLog, u.email, before, 30*time.Second)
	if code != "" {
		_, _ = io.WriteString(in, code+"\n")
	}
	in.Close()
	r := finish(cmd, stdout, stderr, start, []string{"login", u.email})
	if code == "" || r.code != 0 {
		h.t.Fatalf("login %s (code found: %v): %v", u.email, code != "", r)
	}
	s := session(h.t, u)
	u.id = s.UserID
}

type sessionEntry struct {
	Token  string `json:"token"`
	UserID string `json:"user_id"`
}

// session reads u's one session from the credentials file capy wrote.
func session(t *testing.T, u *user) sessionEntry {
	t.Helper()
	var creds struct {
		Sessions map[string]sessionEntry `json:"sessions"`
	}
	data, err := os.ReadFile(filepath.Join(u.home, "credentials"))
	if err == nil {
		err = json.Unmarshal(data, &creds)
	}
	if err != nil || len(creds.Sessions) != 1 {
		t.Fatalf("%s: credentials: %v (%d sessions)", u.email, err, len(creds.Sessions))
	}
	for _, s := range creds.Sessions {
		return s
	}
	panic("unreachable")
}

// ---- a project ----

// project is an organisation with one project and its development
// environment, members with their own homes, and the environment key
// (from a deploy code and `capy ci`) so the tests can open snippets and
// blobs themselves.
type project struct {
	h           *harness
	dir         string // the owner's checkout
	users       []*user
	org         string
	prj         string
	envID       string
	pub         ed25519.PublicKey
	cipher      *keys.EnvCipher
	api         *client.Client // with the owner's session
	projectJSON []byte
}

// newProject signs in n people, has the first run `capy init --yes` on a
// checkout holding env, invites and redeems the others, and gets the
// environment key through `capy deploy` and `capy ci`.
func (h *harness) newProject(n int, env []byte) *project {
	t := h.t
	t.Helper()
	p := &project{h: h, dir: filepath.Join(h.root, "origin")}
	for i := range n {
		u := &user{email: fmt.Sprintf("u%02d@example.com", i), home: filepath.Join(h.root, fmt.Sprintf("home-%02d", i))}
		h.login(u)
		p.users = append(p.users, u)
	}
	owner := p.users[0]
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.dir, ".env"), env, 0o600); err != nil {
		t.Fatal(err)
	}
	h.must(owner, p.dir, "", "init", "--yes", "--new-org", "Stress", "--project", "stress")
	for _, u := range p.users[1:] {
		code := strings.TrimSpace(h.must(owner, p.dir, "", "invite", u.email).stdout)
		h.must(u, p.dir, code, "redeem", "--yes", "-")
	}
	repo, err := workspace.FindRepo(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	pin := repo.Project.Environments[repo.Project.DefaultEnvironment]
	p.org, p.prj, p.envID = repo.Project.Org, repo.Project.Project, pin.ID
	if p.pub, err = pin.PublicKey(); err != nil {
		t.Fatal(err)
	}
	if p.projectJSON, err = os.ReadFile(filepath.Join(p.dir, ".capy", "project.json")); err != nil {
		t.Fatal(err)
	}

	// The environment key, the way CI gets it.
	deployCode := strings.TrimSpace(h.must(owner, p.dir, "", "deploy", "--name", "clistress").stdout)
	ci := &user{email: "ci", home: filepath.Join(h.root, "home-ci")}
	ciDir := filepath.Join(h.root, "ci")
	p.clone(ciDir)
	if err := os.MkdirAll(ci.home, 0o700); err != nil {
		t.Fatal(err)
	}
	if r := h.capy(ci, ciDir, "", []string{"CAPY_DEPLOY_CODE=" + deployCode}, "ci"); r.code != 0 {
		t.Fatalf("%v", r)
	}
	line, err := os.ReadFile(filepath.Join(ciDir, ".capy", "decrypt"))
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keys.ParseEnvKeyFile(string(line))
	if err != nil || kf.EnvID != p.envID {
		t.Fatalf("capy ci wrote a key for %q (%v), want %s", kf.EnvID, err, p.envID)
	}
	p.cipher = kf.Key.Cipher(kf.EnvID, kf.Epoch)

	// The owner's session, for reading versions with internal/client.
	if p.api, err = client.New(h.d.URL, client.WithToken(session(t, owner).Token)); err != nil {
		t.Fatal(err)
	}
	return p
}

// clone makes dir a checkout of the project: a directory with a copy of
// the committed .capy/project.json and nothing else.
func (p *project) clone(dir string) {
	if err := os.MkdirAll(filepath.Join(dir, ".capy"), 0o755); err != nil {
		p.h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".capy", "project.json"), p.projectJSON, 0o644); err != nil {
		p.h.t.Fatal(err)
	}
}

// openDoc parses an .env document and opens every value, which must be a
// snippet of this environment for that name.
func (p *project) openDoc(data []byte) (map[string]string, error) {
	doc, err := envfile.Parse(data)
	if err != nil {
		return nil, err
	}
	vals := map[string]string{}
	for _, e := range doc.Entries() {
		if !wrap.IsSnippet(e.Value) {
			return nil, fmt.Errorf("line %d: %s is not a snippet", e.Line, e.Name)
		}
		if _, dup := vals[e.Name]; dup {
			return nil, fmt.Errorf("line %d: %s appears twice", e.Line, e.Name)
		}
		v, _, err := p.cipher.Open(e.Name, e.Value)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", e.Line, e.Name, err)
		}
		vals[e.Name] = v
	}
	return vals, nil
}

// version is one stored version, verified and opened.
type version struct {
	meta   api.BlobMeta
	blob   *wrap.Blob
	values map[string]string
}

// versions fetches every version through internal/client, checks each
// one's signature against the pinned key and opens its snippets.
func (p *project) versions() []version {
	t := p.h.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var metas []api.BlobMeta
	cursor := ""
	for {
		page, err := p.api.Versions(ctx, p.org, p.prj, p.envID, cursor, 200)
		if err != nil {
			t.Fatalf("list versions: %v", err)
		}
		metas = append(metas, page.Items...)
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].Version < metas[j].Version })
	var out []version
	for _, m := range metas {
		b, err := p.api.Version(ctx, p.org, p.prj, p.envID, m.Version)
		if err != nil {
			t.Fatalf("get version %d: %v", m.Version, err)
		}
		blob, err := wrap.ParseBlob([]byte(b.Text))
		if err != nil {
			t.Fatalf("version %d: %v", m.Version, err)
		}
		if err := blob.VerifySignature(p.pub, p.prj, p.envID); err != nil {
			t.Fatalf("version %d: %v", m.Version, err)
		}
		vals := map[string]string{}
		for _, s := range blob.Snippets {
			name, v, _, err := p.cipher.OpenAny(s)
			if err != nil {
				t.Fatalf("version %d: %v", m.Version, err)
			}
			if _, dup := vals[name]; dup {
				t.Fatalf("version %d holds %s twice", m.Version, name)
			}
			vals[name] = v
		}
		out = append(out, version{meta: m, blob: blob, values: vals})
	}
	return out
}

// checkLinear checks that vs are versions 1..len(vs), each the child of
// the one before (by the metadata and by the signed manifest).
func checkLinear(t *testing.T, vs []version) {
	t.Helper()
	for i, v := range vs {
		want := uint64(i + 1)
		if v.meta.Version != want || v.blob.Version != want {
			t.Fatalf("versions are not 1..%d: position %d holds version %d (manifest %d)", len(vs), i, v.meta.Version, v.blob.Version)
		}
		if v.meta.ID != v.blob.ID() {
			t.Fatalf("version %d: listed id %s, blob id %s", want, v.meta.ID, v.blob.ID())
		}
		parent := wrap.NoParent
		if i > 0 {
			parent = vs[i-1].blob.ID()
		}
		if v.blob.Parent != parent || v.meta.Parent != parent {
			t.Fatalf("version %d: parent %s (listed %s), want %s", want, v.blob.Parent, v.meta.Parent, parent)
		}
	}
}

// historyJSON runs `capy history --json` and checks the same chain on
// what the CLI prints.
func (p *project) checkHistoryJSON(u *user, dir string, want []version) {
	t := p.h.t
	t.Helper()
	r := p.h.must(u, dir, "", "history", "--json")
	var items []api.BlobMeta
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("history --json: %v\n%s", err, r.stdout)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Version < items[j].Version })
	if len(items) != len(want) {
		t.Fatalf("capy history lists %d versions, the API %d", len(items), len(want))
	}
	for i, it := range items {
		if it.Version != uint64(i+1) || it.ID != want[i].blob.ID() || it.Parent != want[i].meta.Parent {
			t.Fatalf("capy history item %d: version %d id %s parent %s; want version %d id %s parent %s",
				i, it.Version, it.ID, it.Parent, i+1, want[i].blob.ID(), want[i].meta.Parent)
		}
	}
}

// exportJSON runs `capy export --format json` in dir.
func (p *project) exportJSON(u *user, dir string) map[string]string {
	t := p.h.t
	t.Helper()
	r := p.h.must(u, dir, "", "export", "--format", "json")
	m := map[string]string{}
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("export --format json: %v", err)
	}
	return m
}

// syncReport is the JSON a sync prints with --json.
type syncReport struct {
	Environment string   `json:"environment"`
	Version     uint64   `json:"version"`
	Pushed      bool     `json:"pushed"`
	FileChanged bool     `json:"file_changed"`
	Added       []string `json:"added"`
	Updated     []string `json:"updated"`
	Removed     []string `json:"removed"`
}

func parseReport(r result) (syncReport, error) {
	var rep syncReport
	err := json.Unmarshal([]byte(r.stdout), &rep)
	if err == nil && rep.Environment == "" {
		err = errors.New("no environment in the report")
	}
	return rep, err
}

func (s syncReport) upToDate() bool {
	return !s.Pushed && !s.FileChanged && len(s.Added)+len(s.Updated)+len(s.Removed) == 0
}

// ---- plaintext scan ----

// findPlaintext walks root and returns the first regular file (other
// than those skip accepts) that contains one of values.
func findPlaintext(root string, values []string, skip func(path string) bool) (string, string, error) {
	var hitFile, hitValue string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() || (skip != nil && skip(path)) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // renamed away meanwhile
		}
		for _, v := range values {
			if bytes.Contains(data, []byte(v)) {
				hitFile, hitValue = path, v
				return fs.SkipAll
			}
		}
		return nil
	})
	return hitFile, hitValue, err
}

// checkNoPlaintext fails the test if any of values is in a file under the
// scratch tree (checkouts, homes, TMPDIR) or in capyd's data directory
// (the database, its journal, the mail log): at rest, values exist only as
// snippets.
func (h *harness) checkNoPlaintext(values []string) {
	h.t.Helper()
	for _, root := range []string{h.root, h.d.DataDir} {
		if file, v, err := findPlaintext(root, values, nil); err != nil || file != "" {
			h.t.Fatalf("plaintext %q is in %s (%v)", v, file, err)
		}
	}
}

// sameKeys reports whether the two maps hold the same names.
func sameKeys(a map[string]string, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// diffMaps describes how got differs from want.
func diffMaps(got, want map[string]string) string {
	var d []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			d = append(d, "missing "+k)
		} else if g != w {
			d = append(d, fmt.Sprintf("%s=%q, want %q", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "unexpected "+k)
		}
	}
	sort.Strings(d)
	return strings.Join(d, "; ")
}
