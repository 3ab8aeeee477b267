package browser

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite" // reading the service's SQLite file

	"github.com/capy-oss/capy/internal/e2e/browser/browsertest"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

// The values the member shares: distinctive, so a scan of the database
// finds them if they are there.
const (
	dbURL    = "postgres://app:Sh4re-db-p4ss-9f2c@db.internal/app"
	apiToken = "tok_live_7d1e0c55aa4242b0be11"
)

// member is a person with the real capy binary, signed in to svc, in a
// repository linked to a new org whose development environment holds
// DATABASE_URL and API_TOKEN.
type member struct {
	t    *testing.T
	svc  *e2etest.Service
	bin  string
	home string
	dir  string
}

func newMember(t *testing.T, svc *e2etest.Service) *member {
	t.Helper()
	root := t.TempDir()
	m := &member{t: t, svc: svc, bin: e2etest.CapyBin(t), home: filepath.Join(root, "home"), dir: filepath.Join(root, "repo")}
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m.login("alice@example.com")
	if err := os.WriteFile(filepath.Join(m.dir, ".env"), []byte("DATABASE_URL="+dbURL+"\nAPI_TOKEN="+apiToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.ok("init", "--yes", "--service", svc.URL, "--new-org", "Acme", "--project", "web")
	return m
}

func (m *member) cmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, m.bin, args...)
	cmd.Dir = m.dir
	cmd.Env = []string{"CAPY_HOME=" + m.home, "HOME=" + filepath.Dir(m.home), "NO_COLOR=1", "PATH=" + os.Getenv("PATH"), "TMPDIR=" + os.TempDir()}
	return cmd
}

func (m *member) login(email string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := m.cmd(ctx, "login", "--service", m.svc.URL, email)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		m.t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	code, err := e2etest.WaitCode(m.svc.MailLog, email, 0, 30*time.Second)
	if err != nil {
		m.t.Fatal(err)
	}
	fmt.Fprintln(stdin, code)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		m.t.Fatalf("capy login: %v\n%s", err, out.String())
	}
}

// run runs capy in the repository: stdout, stderr, exit status.
func (m *member) run(args ...string) (string, string, int) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := m.cmd(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	exit := 0
	if ee, ok := err.(*exec.ExitError); ok {
		exit = ee.ExitCode()
	} else if err != nil {
		m.t.Fatal(err)
	}
	return out.String(), errb.String(), exit
}

func (m *member) ok(args ...string) string {
	m.t.Helper()
	out, errs, exit := m.run(args...)
	if exit != 0 {
		m.t.Fatalf("capy %s: exit %d\n%s%s", strings.Join(args, " "), exit, out, errs)
	}
	return out
}

// openShare is the recipient's fetch, straight to the API: its status
// and the problem slug (or state) it answered.
func openShare(t *testing.T, svc *e2etest.Service, id string) (int, string) {
	t.Helper()
	resp, err := http.Post(svc.URL+"/v1/shares/"+id+"/open", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Type, State string }
	_ = json.NewDecoder(resp.Body).Decode(&doc)
	return resp.StatusCode, strings.TrimPrefix(doc.Type, "urn:capy:problem:") + doc.State
}

// dbBytes is everything of the SQLite database on disk: the file and its
// write-ahead log.
func dbBytes(t *testing.T, svc *e2etest.Service) []byte {
	t.Helper()
	var all []byte
	for _, p := range []string{svc.DBPath, svc.DBPath + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatal("no database bytes to scan")
	}
	return all
}

func noneOf(t *testing.T, where string, hay []byte, needles map[string][]byte) {
	t.Helper()
	for what, n := range needles {
		if bytes.Contains(hay, n) {
			t.Errorf("%s holds %s", where, what)
		}
	}
}

// waitFor polls a JavaScript condition in the page.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	browsertest.Get(t, ctx, chromedp.Poll[bool](cond, chromedp.WithPollingInterval(100*time.Millisecond)))
}

var codeShape = regexp.MustCompile(`^[a-z2-7]{5}(-[a-z2-7]{5}){5}$`)

// TestShareRequestCode: the recipient's page makes a non-extractable key
// pair and shows a code; the real capy shares two values to it; the page
// shows them; the share is gone after that fetch; the database never
// held a value.
func TestShareRequestCode(t *testing.T) {
	ctx := browsertest.New(t)
	svc := e2etest.StartService(t, e2etest.ServiceOptions{})
	m := newMember(t, svc)

	browsertest.Do(t, ctx, chromedp.Navigate(svc.URL+"/share"), chromedp.WaitVisible("#code"))
	code := browsertest.Get(t, ctx, chromedp.Text("#code"))
	if !codeShape.MatchString(code) {
		t.Fatalf("request code %q", code)
	}
	browsertest.Screenshots(t, ctx, "share-waiting")

	// The private key in IndexedDB is non-extractable: exportKey rejects.
	got := browsertest.Get(t, ctx, chromedp.Evaluate[string](`(async () => {
		const db = await new Promise((ok, no) => { const r = indexedDB.open("capy-share", 1); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
		const rec = await new Promise((ok, no) => { const q = db.transaction("requests").objectStore("requests").get("current"); q.onsuccess = () => ok(q.result); q.onerror = () => no(q.error); });
		if (!rec || !(rec.privateKey instanceof CryptoKey)) return "no key in IndexedDB";
		for (const f of ["pkcs8", "jwk"]) {
			try { await crypto.subtle.exportKey(f, rec.privateKey); return "exported as " + f; } catch (e) { if (e.name !== "InvalidAccessError") return "unexpected " + e.name; }
		}
		return "rejected extractable=" + rec.privateKey.extractable + " id=" + rec.id;
	})()`, chromedp.EvalAwaitPromise))
	id := strings.ReplaceAll(code, "-", "")[:10]
	if got != "rejected extractable=false id="+id {
		t.Fatalf("private key: %s", got)
	}

	out := m.ok("share", "DATABASE_URL", "API_TOKEN", "--to", strings.ToUpper(code), "--expires", "2h")
	if !strings.Contains(out, "shared 2 value(s) with request "+id) {
		t.Fatalf("capy share said %q", out)
	}
	waitFor(t, ctx, `!document.getElementById("step-values").classList.contains("hidden")`)
	shown := browsertest.Get(t, ctx, chromedp.Text("#values"))
	for _, v := range []string{"DATABASE_URL", dbURL, "API_TOKEN", apiToken} {
		if !strings.Contains(shown, v) {
			t.Fatalf("the page shows %q, not %q", shown, v)
		}
	}
	browsertest.Screenshots(t, ctx, "share-values")

	// Gone after the page's fetch: a second fetch is told so.
	if status, slug := openShare(t, svc, id); status != http.StatusGone || slug != "share-opened" {
		t.Fatalf("second fetch: %d %s", status, slug)
	}
	// The database and the log never held a value.
	secrets := map[string][]byte{"DATABASE_URL's value": []byte(dbURL), "API_TOKEN's value": []byte(apiToken)}
	noneOf(t, "the database", dbBytes(t, svc), secrets)
	noneOf(t, "capyd's log", []byte(svc.Log.String()), secrets)
	var keyLeft, blobLeft int
	row := fmt.Sprintf(`SELECT count(public_key), count(blob) FROM shares WHERE id = '%s'`, id)
	if err := sqliteQuery(t, svc, row, &keyLeft, &blobLeft); err != nil || keyLeft != 0 || blobLeft != 0 {
		t.Fatalf("after the fetch the row keeps key=%d blob=%d (%v)", keyLeft, blobLeft, err)
	}

	// A share fetched by someone else first (a leaked code): the page,
	// back in this browser, says it was already opened and shows nothing.
	browsertest.Do(t, ctx, chromedp.Navigate(svc.URL+"/share"), chromedp.WaitVisible("#code"))
	code2 := browsertest.Get(t, ctx, chromedp.Text("#code"))
	if code2 == code {
		t.Fatal("the page kept the code of a request it already opened")
	}
	browsertest.Do(t, ctx, chromedp.Navigate("about:blank"))
	m.ok("share", "API_TOKEN", "--to", code2)
	id2 := strings.ReplaceAll(code2, "-", "")[:10]
	if status, state := openShare(t, svc, id2); status != http.StatusOK || state != "opened" {
		t.Fatalf("the other fetch: %d %s", status, state)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(svc.URL+"/share"), chromedp.WaitVisible("#step-error"))
	if msg := browsertest.Get(t, ctx, chromedp.Text("#step-error")); !strings.Contains(msg, "Already opened") {
		t.Fatalf("the page after someone else's fetch: %q", msg)
	}
	browsertest.Screenshots(t, ctx, "share-opened-elsewhere")
}

// TestShareSwappedKeyRefused: capyd answers the request with another
// public key (a service that wants to read the share); capy share
// refuses, uploads nothing, and the request is still pending.
func TestShareSwappedKeyRefused(t *testing.T) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherSPKI, err := x509.MarshalPKIXPublicKey(&other.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	swap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/share-requests/") {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var doc map[string]map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &doc) != nil {
				t.Errorf("swap: capyd answered %d %s", rec.Code, rec.Body)
				return
			}
			doc["request"]["public_key"] = base64.RawURLEncoding.EncodeToString(otherSPKI)
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(doc)
		})
	}
	ctx := browsertest.New(t)
	svc := e2etest.StartService(t, e2etest.ServiceOptions{Wrap: swap})
	m := newMember(t, svc)
	browsertest.Do(t, ctx, chromedp.Navigate(svc.URL+"/share"), chromedp.WaitVisible("#code"))
	code := browsertest.Get(t, ctx, chromedp.Text("#code"))
	id := strings.ReplaceAll(code, "-", "")[:10]

	auditBefore := m.ok("audit", "--json")
	out, errs, exit := m.run("share", "DATABASE_URL", "--to", code)
	if exit == 0 || !strings.Contains(errs, "does not match the code's fingerprint") {
		t.Fatalf("capy share to a swapped key: exit %d\n%s%s", exit, out, errs)
	}
	if status, state := openShare(t, svc, id); status != http.StatusOK || state != "pending" {
		t.Fatalf("after the refusal the request is %d %s, not pending", status, state)
	}
	if after := m.ok("audit", "--json"); strings.Contains(after, "share-create") || len(after) < len(auditBefore) {
		t.Fatalf("a refused share left an audit row:\n%s", after)
	}
	// A code with a mistyped fingerprint is refused the same way.
	bad := []byte(code)
	bad[len(bad)-1] = map[bool]byte{true: 'b', false: 'a'}[bad[len(bad)-1] == 'a']
	if _, errs, exit := m.run("share", "DATABASE_URL", "--to", string(bad)); exit == 0 || !strings.Contains(errs, "fingerprint") {
		t.Fatalf("a mistyped code: exit %d %s", exit, errs)
	}
}

// TestShareLink: a link share opens once in the browser (the key only in
// the fragment, never in the database), then says it is gone; a link
// past its expiry says it expired.
func TestShareLink(t *testing.T) {
	ctx := browsertest.New(t)
	svc := e2etest.StartService(t, e2etest.ServiceOptions{})
	m := newMember(t, svc)

	link := strings.TrimSpace(m.ok("share", "API_TOKEN", "--link"))
	if !strings.HasPrefix(link, svc.URL+"/s/") || !strings.Contains(link, "#") {
		t.Fatalf("link %q", link)
	}
	frag := link[strings.Index(link, "#")+1:]
	key, err := base64.RawURLEncoding.DecodeString(frag)
	if err != nil || len(key) != 32 {
		t.Fatalf("link key %q: %v", frag, err)
	}
	browsertest.Do(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible("#open"))
	browsertest.Screenshots(t, ctx, "link-closed")
	browsertest.Do(t, ctx, chromedp.Click("#open"))
	waitFor(t, ctx, `!document.getElementById("step-values").classList.contains("hidden")`)
	if shown := browsertest.Get(t, ctx, chromedp.Text("#values")); !strings.Contains(shown, apiToken) {
		t.Fatalf("the link page shows %q", shown)
	}
	if loc := browsertest.Get(t, ctx, chromedp.Evaluate[string]("location.href")); strings.Contains(loc, "#") {
		t.Fatalf("the key stayed in the address bar: %s", loc)
	}
	browsertest.Screenshots(t, ctx, "link-values")
	noneOf(t, "the database", dbBytes(t, svc), map[string][]byte{
		"the value": []byte(apiToken), "the link's key": key, "the link's key (base64url)": []byte(frag)})
	noneOf(t, "capyd's log", []byte(svc.Log.String()), map[string][]byte{"the value": []byte(apiToken), "the link's key": []byte(frag)})

	// One view: the second visit is told the link is gone.
	browsertest.Do(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(link), chromedp.WaitVisible("#open"), chromedp.Click("#open"),
		chromedp.WaitVisible("#step-error"))
	if msg := browsertest.Get(t, ctx, chromedp.Text("#step-error")); !strings.Contains(msg, "Already opened") {
		t.Fatalf("second visit: %q", msg)
	}
	browsertest.Screenshots(t, ctx, "link-opened")

	// Two views, then expiry: past it, the page says the link expired.
	link2 := strings.TrimSpace(m.ok("share", "DATABASE_URL", "--link", "--views", "2", "--expires", "1h"))
	svc.Clock.Advance(61 * time.Minute)
	browsertest.Do(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(link2), chromedp.WaitVisible("#open"), chromedp.Click("#open"),
		chromedp.WaitVisible("#step-error"))
	if msg := browsertest.Get(t, ctx, chromedp.Text("#step-error")); !strings.Contains(msg, "expired") {
		t.Fatalf("expired link: %q", msg)
	}
	// A link cut before its key says so without asking the service.
	browsertest.Do(t, ctx, chromedp.Navigate("about:blank"), chromedp.Navigate(strings.Split(link2, "#")[0]), chromedp.WaitVisible("#step-error"))
	if msg := browsertest.Get(t, ctx, chromedp.Text("#step-error")); !strings.Contains(msg, "incomplete") {
		t.Fatalf("link without key: %q", msg)
	}
	audit := m.ok("audit", "--json")
	for _, a := range []string{"share-create", "share-open", "share-expire"} {
		if !strings.Contains(audit, a) {
			t.Errorf("the audit log has no %s row:\n%s", a, audit)
		}
	}
}

// sqliteQuery reads one row of the service's SQLite file.
func sqliteQuery(t *testing.T, svc *e2etest.Service, q string, dest ...any) error {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+svc.DBPath+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	return db.QueryRow(q).Scan(dest...)
}
