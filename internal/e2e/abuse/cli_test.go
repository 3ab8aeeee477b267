package abuse

import (
	"crypto/rand"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/joho/godotenv"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/wrap"
)

// evilHost is another service a code may point at: it records every
// request and answers auth/start like capyd would.
type evilHost struct {
	url  string
	mu   sync.Mutex
	reqs []string
}

func newEvilHost(t *testing.T) *evilHost {
	t.Helper()
	e := &evilHost{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reqs = append(e.reqs, r.Method+" "+r.URL.Path)
		e.mu.Unlock()
		if r.URL.Path == "/v1/auth/start" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"expires_at":"2099-01-01T00:00:00Z"}`))
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"type":"urn:capy:problem:not-found","title":"Not found","status":404,"request_id":"req_x"}`))
	}))
	// Another loopback host (127.0.0.2), so the code names a host of its
	// own; fall back to another port of 127.0.0.1.
	if l, err := net.Listen("tcp", "127.0.0.2:0"); err == nil {
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *evilHost) requests() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reqs...)
}

func (e *evilHost) count() int { return len(e.requests()) }

func (e *evilHost) redeemCode(t *testing.T) string {
	c := wrap.RedeemCode{URL: e.url, OrgID: ident.NewID(ident.Org), InviteID: ident.NewID(ident.Invite)}
	rand.Read(c.Token[:])
	return c.Encode()
}

// TestRedeemCodeForAnotherHost: a code names the service it came from.
// Without --yes and without a terminal, capy shows that host and refuses
// before contacting anything (the terminal dialogue is in
// TestRedeemCodeForAnotherHostOnATerminal).
func TestRedeemCodeForAnotherHost(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	evil := newEvilHost(t)
	code := evil.redeemCode(t)
	p := s.person("victim@example.com")
	mark := s.mark()
	for _, args := range [][]string{{"redeem", code}, {"redeem", "-"}, {"redeem", "--email", p.email, code}} {
		r := p.capyStdin(code+"\n", append([]string{"--json"}, args...)...)
		if r.exit != 2 || r.code() != "usage" || !strings.Contains(r.stderr, "this code is for the service at "+evil.url) ||
			!strings.Contains(r.stderr, "--yes") {
			t.Fatalf("%s", r)
		}
	}
	// --yes but no session and no --email: still nothing is sent.
	if r := p.capy("redeem", "--yes", code); r.exit == 0 {
		t.Fatalf("%s", r)
	}
	if n := evil.count(); n != 0 {
		t.Fatalf("the code's host got %d request(s) without consent", n)
	}
	if got := s.requestLog(mark); len(got) != 0 {
		t.Fatalf("the service got %v", got)
	}
	if _, err := os.Stat(filepath.Join(p.home, "credentials")); err == nil {
		t.Fatal("a session was stored")
	}
}

// TestPlainHTTPRefused: an http:// service URL that is not loopback is
// refused wherever a URL enters: login, project.json, redeem and deploy
// codes, --url-override. (The hosts are under .invalid, which never
// resolves: a regression could not reach anything.)
func TestPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	s := newService(t, "sqlite")
	p := s.person("alice@example.com")
	for _, u := range []string{"http://capy.invalid", "HTTP://CAPY.INVALID:80", "http://localhost.capy.invalid",
		"http://127.0.0.1.capy.invalid", "http://127.0.0.1@capy.invalid", "http://capy.invalid#@127.0.0.1", "ftp://capy.invalid"} {
		r := p.capy("--json", "login", "--service", u, p.email)
		if r.exit != 2 || r.code() != "bad-url" {
			t.Fatalf("login %s: %s", u, r)
		}
	}
	// project.json naming plain http elsewhere.
	p.write(".capy/project.json", `{"version":1,"service":"http://capy.invalid","org":"org_abcdefghijklmnopqrstuvwxyz",`+
		`"project":"prj_234567abcdefghijklmnopqrst","default_environment":"development","environments":{"development":`+
		`{"id":"env_zyxwvutsrqponmlkjihgfedcba","file":".env","epoch":1,"signing_key":"VgS1bPSfaHf1Z7yqfePY-pUDQ3j11x6D3s-X5v6Db7Q"}}}`)
	for _, args := range [][]string{{"sync"}, {"get", "A"}, {"run", "--", "true"}, {"ci"}} {
		r := p.capyIn(p.dir, []string{"CAPY_DEPLOY_CODE=capy-deploy-x"}, "", append([]string{"--json"}, args...)...)
		if r.exit != 2 || r.code() != "bad-url" || !strings.Contains(r.stderr, "project.json") {
			t.Fatalf("%v with project.json on plain http: %s", args, r)
		}
	}
	os.RemoveAll(p.path(".capy"))
	// Codes carrying plain http to a remote host.
	var tok [32]byte
	redeem := wrap.RedeemCode{URL: "http://capy.invalid", OrgID: ident.NewID(ident.Org), InviteID: ident.NewID(ident.Invite), Token: tok}.Encode()
	if r := p.capy("--json", "redeem", "--yes", redeem); r.exit != 2 || r.code() != "bad-code" {
		t.Fatalf("redeem code on plain http: %s", r)
	}
	deploy := wrap.DeployCode{URL: "http://capy.invalid", OrgID: ident.NewID(ident.Org), ProjectID: ident.NewID(ident.Project),
		EnvID: ident.NewID(ident.Env), Epoch: 1, DeployID: ident.NewID(ident.Deploy), Token: tok}.Encode()
	w := newWorld(t)
	ci := w.s.person("ci@example.com")
	w.clone(ci)
	if r := ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + deploy}, "", "--json", "ci"); r.exit != 2 || r.code() != "bad-code" {
		t.Fatalf("deploy code on plain http: %s", r)
	}
	good := wrap.DeployCode{URL: w.s.url, OrgID: w.proj.Org, ProjectID: w.proj.Project, EnvID: w.envID("development"), Epoch: 1,
		DeployID: ident.NewID(ident.Deploy), Token: tok}.Encode()
	if r := ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + good}, "", "--json", "ci", "--url-override", "http://capy.invalid"); r.exit != 2 || r.code() != "bad-url" {
		t.Fatalf("--url-override on plain http: %s", r)
	}
	if r := p.capy("--json", "recover", "--service", "http://capy.invalid", "--org", ident.NewID(ident.Org)); r.exit != 2 || r.code() != "bad-url" {
		t.Fatalf("recover on plain http: %s", r)
	}
}

// TestInsecureKeyFiles: every key file capy reads (device.key, key.enc,
// credentials, key_check, audit_head.json, .capy/decrypt) and the capy
// home itself is refused when readable by others or a symlink, with the
// chmod to run; the file is not repaired, and nothing is sent to the
// service.
func TestInsecureKeyFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	keyEnc := keyEncFiles(t, a.home)
	if len(keyEnc) != 1 {
		t.Fatalf("key.enc: %v", keyEnc)
	}
	dir := orgDir(a.home, w.s.url, w.proj.Org)
	memberFiles := []string{
		filepath.Join(a.home, "device.key"), keyEnc[0], filepath.Join(a.home, "credentials"),
		filepath.Join(dir, "key_check"), filepath.Join(dir, "audit_head.json"),
	}
	// A CI checkout with .capy/decrypt.
	code := lastLine(a.ok("deploy", "--name", "ci").stdout)
	ci := w.s.person("ci@example.com")
	w.clone(ci)
	if r := ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + code}, "", "ci"); r.exit != 0 {
		t.Fatalf("%s", r)
	}
	decrypt := ci.path(".capy/decrypt")

	check := func(t *testing.T, who *person, file string, args []string, want *regexp.Regexp, mode os.FileMode) {
		t.Helper()
		mark := w.s.mark()
		r := who.capy(append([]string{"--json"}, args...)...)
		if r.exit != 1 || r.code() != "insecure-file" || !want.MatchString(r.stderr) {
			t.Fatalf("%s: want insecure-file matching /%s/, got\n%s", file, want, r)
		}
		// key_check and audit_head.json hold no secret and are read after
		// the co-decrypt; the key files are checked before anything is sent.
		late := strings.HasSuffix(file, "key_check") || strings.HasSuffix(file, "audit_head.json")
		for _, req := range w.s.requestLog(mark) {
			if !late && strings.Contains(req, "co-decrypt") || strings.Contains(req, "/head") {
				t.Fatalf("%s: a request was sent despite the insecure file: %s", file, req)
			}
		}
		fi, err := os.Lstat(file)
		if err != nil || fi.Mode() != mode {
			t.Fatalf("%s was repaired or replaced: %v %v, want %v", file, fi.Mode(), err, mode)
		}
	}
	type target struct {
		who  *person
		file string
		args []string
	}
	var targets []target
	for _, f := range memberFiles {
		targets = append(targets, target{a, f, []string{"get", "A"}})
	}
	targets = append(targets, target{ci, decrypt, []string{"get", "A"}})
	for _, tg := range targets {
		name := filepath.Base(tg.file)
		t.Run(name+" group-readable", func(t *testing.T) {
			defer os.Chmod(tg.file, 0o600)
			for _, mode := range []os.FileMode{0o640, 0o604, 0o660} {
				if err := os.Chmod(tg.file, mode); err != nil {
					t.Fatal(err)
				}
				check(t, tg.who, tg.file, tg.args, regexp.MustCompile(regexp.QuoteMeta("chmod 600 "+tg.file)), mode)
			}
		})
		t.Run(name+" symlink", func(t *testing.T) {
			real := tg.file + ".real"
			if err := os.Rename(tg.file, real); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Remove(tg.file)
				os.Rename(real, tg.file)
			}()
			if err := os.Symlink(real, tg.file); err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Lstat(tg.file)
			check(t, tg.who, tg.file, tg.args, regexp.MustCompile(regexp.QuoteMeta(tg.file)+" is a symlink"), fi.Mode())
		})
	}
	// The capy home itself.
	os.Chmod(a.home, 0o750)
	r := a.capy("--json", "get", "A")
	if r.exit != 1 || r.code() != "insecure-file" || !strings.Contains(r.stderr, "chmod 700 "+a.home) {
		t.Fatalf("home 0750: %s", r)
	}
	os.Chmod(a.home, 0o700)
	// Everything restored: both work again.
	if got := a.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("A = %q", got)
	}
	if got := ci.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("CI: A = %q", got)
	}
}

func lastLine(s string) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	return ls[len(ls)-1]
}

// TestEnvironmentKeyOfAnotherEnvironment: CAPY_KEY, --key-file and the
// default .capy/decrypt only ever serve the environment they name; a key
// relabelled for another environment does not decrypt it; a malformed
// CAPY_KEY is refused. The command never runs.
func TestEnvironmentKeyOfAnotherEnvironment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	ci := w.s.person("ci@example.com")
	w.clone(ci)
	prodCode := lastLine(a.ok("deploy", "--env", "production", "--name", "prod").stdout)
	devCode := lastLine(a.ok("deploy", "--env", "development", "--name", "dev").stdout)
	if r := ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + devCode}, "", "ci", "--key-file", ci.path("dev.key")); r.exit != 0 {
		t.Fatalf("%s", r)
	}
	if r := ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + prodCode}, "", "ci"); r.exit != 0 {
		t.Fatalf("%s", r)
	}
	prodKey, devKey := ci.read(".capy/decrypt"), ci.read("dev.key")
	if !strings.Contains(prodKey, w.envID("production")) || !strings.Contains(devKey, w.envID("development")) {
		t.Fatalf("key files %q %q", prodKey, devKey)
	}
	ran := filepath.Join(t.TempDir(), "ran")
	relabelled := strings.Replace(prodKey, w.envID("production"), w.envID("development"), 1)
	cases := []struct {
		name  string
		env   []string
		args  []string
		code  string
		match string
	}{
		{"CAPY_KEY of production for development", []string{"CAPY_KEY=" + prodKey}, []string{"get", "--env", "development", "A"}, "wrong-env-key", "CAPY_KEY is for environment"},
		{"CAPY_KEY of development for production", []string{"CAPY_KEY=" + devKey}, []string{"get", "--env", "production", "P"}, "wrong-env-key", "CAPY_KEY is for environment"},
		{"CAPY_KEY of production in run", []string{"CAPY_KEY=" + prodKey}, []string{"run", "--env", "development", "--", "touch", ran}, "wrong-env-key", "CAPY_KEY is for environment"},
		{"--key-file of production", nil, []string{"get", "--env", "development", "--key-file", ".capy/decrypt", "A"}, "wrong-env-key", "holds the key of environment"},
		{"--key-file of development for production", nil, []string{"run", "--env", "production", "--key-file", "dev.key", "--", "touch", ran}, "wrong-env-key", "holds the key of environment"},
		{"production's key relabelled as development's", []string{"CAPY_KEY=" + relabelled}, []string{"run", "--env", "development", "--", "touch", ran}, "error", "does not decrypt with the key of"},
		{"malformed CAPY_KEY", []string{"CAPY_KEY=capy-ek 1 ../../etc 1 00"}, []string{"get", "A"}, "bad-key", "CAPY_KEY"},
		{"CAPY_KEY with an uppercase key", []string{"CAPY_KEY=" + strings.ToUpper(devKey[len(devKey)-65:])}, []string{"get", "A"}, "bad-key", "CAPY_KEY"},
	}
	// The development file is needed for the relabelled-key case.
	ci.write(".env", a.read(".env"))
	for _, c := range cases {
		r := ci.capyIn(ci.dir, c.env, "", append([]string{"--json"}, c.args...)...)
		if r.exit != 1 || r.code() != c.code || !strings.Contains(r.stderr, c.match) {
			t.Fatalf("%s: want %s /%s/, got\n%s", c.name, c.code, c.match, r)
		}
		if strings.Contains(r.stdout, "alpha") || strings.Contains(r.stdout, "papa") {
			t.Fatalf("%s: a value was printed", c.name)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("%s: the command ran", c.name)
		}
	}
	// The right key for each environment works (the refusals were about
	// the environment, not the keys).
	if r := ci.capyIn(ci.dir, []string{"CAPY_KEY=" + devKey}, "", "get", "--env", "development", "A"); r.exit != 0 || r.stdout != "alpha\n" {
		t.Fatalf("%s", r)
	}
	if r := ci.capyIn(ci.dir, nil, "", "get", "--env", "production", "P"); r.exit != 0 || r.stdout != "papa\n" {
		t.Fatalf("%s", r)
	}
}

// trickyValues must round-trip exactly through set / get / run / another
// member's sync, and never change the structure of .env.
var trickyValues = map[string]string{
	"INJECT":    "line1\nEVIL=injected\nexport PATH=/tmp/evil # trailing\n\"dq\" 'sq' `bt` ${HOME} $HOME \\n \\\\ a=b=c #not-a-comment\ttab\r\nlast line",
	"EQUALS":    "=leading=equals=",
	"SQUOTE":    "'single-quoted'",
	"DQUOTE":    "\"double\"",
	"SUBST":     "${A}${B:-x}$(id)`id`${",
	"SPACES":    "   spaces around   ",
	"UNICODE":   "ünïcødé 😀 \u202e rtl \u200b zw",
	"EMPTY":     "",
	"COMMENT":   "# looks like a comment",
	"BACKSLASH": "back\\slash at end\\",
	"CRLF":      "windows\r\nline\r\nendings",
	"SNIPPETY":  "capy:abcde:not-a-snippet-but-looks-like-one",
}

// TestValueRoundTrip: values with newlines, quotes, ${…}, = and the like
// are stored exactly (get, get --json, another member's machine), handed
// to run exactly (literal values, and values without $), and cannot
// inject into .env: after every set the file has one entry per name,
// godotenv reads the same names and the same (snippet) values as capy,
// and no value's plaintext is on disk.
func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")
	names := []string{"A", "B", "C", "D"}
	for name, v := range trickyValues {
		args := []string{"set", name}
		if strings.Contains(v, "$") {
			args = []string{"set", "--literal", name}
		}
		if v == "" {
			// An empty stdin is refused without it (issue 15 §4).
			args = []string{"set", "--allow-empty", name}
		}
		a.okStdin(v, args...)
		names = append(names, name)
		checkEnvStructure(t, a.path(".env"), names)
	}
	bob.ok("sync")
	checkEnvStructure(t, bob.path(".env"), names)
	for name, v := range trickyValues {
		for _, p := range []*person{a, bob} {
			if got := p.ok("get", name).stdout; got != v+"\n" {
				t.Fatalf("%s get %s = %q, want %q", p.email, name, got, v)
			}
			if got := p.ok("--json", "get", name).stdout; !strings.Contains(got, jsonString(v)) {
				t.Fatalf("%s get --json %s = %s", p.email, name, got)
			}
		}
		if got := a.ok("run", "--", "sh", "-c", `printf %s "$`+name+`"`).stdout; got != v {
			t.Fatalf("run: %s = %q, want %q", name, got, v)
		}
		if got := a.ok("run", "--pull", "--", "sh", "-c", `printf %s "$`+name+`"`).stdout; got != v {
			t.Fatalf("run --pull: %s = %q, want %q", name, got, v)
		}
	}
	// A non-literal value is expanded by run, as documented: ${A} is A's
	// value; get still shows the stored text.
	a.okStdin("x-${A}-y", "set", "EXPANDED")
	if got := a.ok("run", "--", "sh", "-c", `printf %s "$EXPANDED"`).stdout; got != "x-alpha-y" {
		t.Fatalf("run expanded %q", got)
	}
	if got := a.ok("get", "EXPANDED").stdout; got != "x-${A}-y\n" {
		t.Fatalf("get EXPANDED %q", got)
	}
	// No plaintext of any value anywhere under the homes or repositories.
	for _, p := range []*person{a, bob} {
		for _, dir := range []string{p.home, p.dir} {
			scanForPlaintext(t, dir, []string{"EVIL=injected", "leading=equals", "single-quoted", "spaces around", "ünïcødé",
				"looks like a comment", "back\\slash", "windows\r\nline", "not-a-snippet-but", "alpha", "bravo", "charlie", "delta"})
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkEnvStructure: the file holds exactly names (one entry each), every
// value a snippet, and godotenv reads the same names and values.
func checkEnvStructure(t *testing.T, path string, names []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		t.Fatalf("%s does not parse: %v\n%s", path, err, raw)
	}
	entries := doc.Entries()
	if len(entries) != len(names) {
		t.Fatalf("%s has %d entries, want %d:\n%s", path, len(entries), len(names), raw)
	}
	got, err := godotenv.Read(path)
	if err != nil {
		t.Fatalf("godotenv: %v", err)
	}
	if len(got) != len(names) {
		t.Fatalf("godotenv reads %d names, want %d", len(got), len(names))
	}
	for _, e := range entries {
		if !wrap.IsSnippet(e.Value) || got[e.Name] != e.Value {
			t.Fatalf("%s: %s is %q, godotenv reads %q", path, e.Name, e.Value, got[e.Name])
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			t.Fatalf("%s lacks %s", path, n)
		}
	}
}

// scanForPlaintext fails if any file under dir contains one of values.
func scanForPlaintext(t *testing.T, dir string, values []string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		for _, v := range values {
			if strings.Contains(string(b), v) {
				t.Fatalf("plaintext %q is on disk in %s", v, p)
			}
		}
		return nil
	})
}
