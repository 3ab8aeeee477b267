package abuse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// This file holds the integrity attacks an independent attack run found
// (issue 12): a blob fetched by number that is not the one asked for, a
// runner that keeps its checkout, a null head after a seen version, and
// the deploy-code paths around them.

// rewriteVersion rewrites the answer of GET …/envs/{env}/versions/{n}: the
// blob a client fetched by number (the base of a merge, a rollback's
// source).
func rewriteVersion(envID string, n uint64, f blobRewrite) modifier {
	suffix := "/envs/" + envID + "/versions/" + strconv.FormatUint(n, 10)
	return func(r *http.Request, status int, body []byte) []byte {
		if status != http.StatusOK || r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, suffix) {
			return body
		}
		var m map[string]map[string]any
		if json.Unmarshal(body, &m) != nil || m["blob"] == nil {
			return body
		}
		text, version := f(m["blob"]["text"].(string), uint64(m["blob"]["version"].(float64)))
		m["blob"]["text"], m["blob"]["version"] = text, version
		out, _ := json.Marshal(m)
		return out
	}
}

// refused runs capy with --json and fails unless it exits 1 with code and
// a message matching message, leaving files and capyd's head of
// development as they were.
func (w *world) refused(t *testing.T, p *person, files []string, code, message string, args ...string) result {
	t.Helper()
	return w.refusedExit(t, p, files, 1, code, message, args...)
}

// refusedExit is refused with another exit status.
func (w *world) refusedExit(t *testing.T, p *person, files []string, exit int, code, message string, args ...string) result {
	t.Helper()
	version, id := w.headNow("development")
	before := p.snapshotFiles(files...)
	r := p.capy(append([]string{"--json"}, args...)...)
	if r.exit != exit || r.code() != code || !regexp.MustCompile(message).MatchString(r.stderr) {
		t.Fatalf("want exit %d, code %s, message /%s/; got\n%s", exit, code, message, r)
	}
	noLeak(t, r.stderr)
	p.unchangedFiles(before, strings.Join(args, " "))
	if v, i := w.headNow("development"); v != version || i != id {
		t.Fatalf("%s: the service's head moved from v%d to v%d", strings.Join(args, " "), version, v)
	}
	return r
}

// TestMaliciousBaseVersion: alice synced v2; bob rotates D (v3). When
// alice's sync asks for its base (v2) by number, the service answers with
// something else. Taking the head as the base made alice's older D look
// like her own edit, and her sync pushed it back over bob's rotation.
// Every substitute is refused; nothing is pushed or written.
func TestMaliciousBaseVersion(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	f := w.forger("development")
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")
	bob.ok("sync")
	bob.okStdin("rotated", "set", "D")
	if v, _ := w.headNow("development"); v != 3 {
		t.Fatalf("development at v%d, want 3", v)
	}
	dev := w.envID("development")
	v1, v3 := w.genuine("development", 1), w.genuine("development", 3)
	fork := f.build(nil, 2, wrap.BlobID([]byte(v1)), []string{f.seal("A", "alpha"), f.seal("D", "delta")})
	cases := []struct {
		name    string
		rewrite blobRewrite
		message string
	}{
		{"the head instead of the base", func(string, uint64) (string, uint64) { return v3, 3 }, "another version than the one asked for"},
		{"the head claimed as the base", func(string, uint64) (string, uint64) { return v3, 2 }, "manifest version differs"},
		{"an older version", func(string, uint64) (string, uint64) { return v1, 1 }, "another version than the one asked for"},
		{"a validly signed fork of the base", func(string, uint64) (string, uint64) { return fork, 2 }, "different blob for a version this machine has already seen"},
		{"a truncated base", func(text string, v uint64) (string, uint64) { return text[:len(text)/2], v }, "blob is malformed"},
	}
	files := []string{".env", ".capy/state.json", ".capy/project.json"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = w.s.t }()
			w.s.setModify(rewriteVersion(dev, 2, c.rewrite))
			defer w.s.setModify(nil)
			for _, args := range [][]string{{"sync"}, {"status"}} {
				w.refused(t, a, files, "tampered", c.message, args...)
			}
		})
	}
	a.ok("sync")
	if got := a.ok("get", "D").stdout; got != "rotated\n" {
		t.Fatalf("D = %q after the attacks, want bob's rotation", got)
	}
}

// TestMaliciousRollbackSource: `capy rollback N` must bring back exactly
// version N. The service answering the request for v1 with v2 made
// rollback announce "v3 now holds the values of v1" while it held v2's.
// A null or forked head is refused before anything is signed on top.
func TestMaliciousRollbackSource(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	f := w.forger("development")
	dev := w.envID("development")
	v1, v2 := w.genuine("development", 1), w.genuine("development", 2)
	files := []string{".env", ".capy/state.json", ".capy/project.json"}
	for _, c := range []struct {
		name    string
		mod     modifier
		message string
	}{
		{"v2 served for v1", rewriteVersion(dev, 1, func(string, uint64) (string, uint64) { return v2, 2 }), "another version than the one asked for"},
		{"v2 served for v1, claimed as v1", rewriteVersion(dev, 1, func(string, uint64) (string, uint64) { return v2, 1 }), "manifest version differs"},
		{"a null head", rewriteHeads(dev, func(string, uint64) (string, uint64) { return "", 0 }), "has no versions"},
		{"a forked head", rewriteHeads(dev, func(string, uint64) (string, uint64) {
			return f.build(nil, 2, wrap.BlobID([]byte(v1)), []string{f.seal("EVIL", "planted")}), 2
		}), "different blob for a version this machine has already seen"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = w.s.t }()
			w.s.setModify(c.mod)
			defer w.s.setModify(nil)
			w.refused(t, a, files, "tampered", c.message, "rollback", "--yes", "1")
		})
	}
}

// TestMaliciousServiceCIKeptCheckout: a runner that keeps its checkout
// between jobs has seen v2. Every head rewrite of tamperCases (the ones
// that need history included: a rollback, a fork at v2, a null head, a
// version on another parent) is refused by `capy ci`, `run --pull`,
// `export --pull` and the runner's `sync`, and nothing is written:
// state.json is never lowered.
func TestMaliciousServiceCIKeptCheckout(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.forger("development")
	code := lastLine(w.alice.ok("deploy", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	ci.ok("ci")
	ran := filepath.Join(t.TempDir(), "ran")
	files := []string{".env", ".capy/state.json", ".capy/decrypt"}
	for _, c := range tamperCases {
		t.Run(c.name, func(t *testing.T) {
			ci.t = t
			defer func() { ci.t = w.s.t }()
			w.s.setModify(rewriteHeads(w.envID("development"), c.rewrite(w, f)))
			defer w.s.setModify(nil)
			for _, args := range [][]string{{"ci"}, {"ci", "--no-write"}, {"run", "--pull", "--", "touch", ran}, {"export", "--pull"}, {"sync"}} {
				w.refused(t, ci, files, c.code, c.message, args...)
				if _, err := os.Stat(ran); err == nil {
					t.Fatalf("%v: the command ran on a refused head", args)
				}
			}
		})
	}
	ci.ok("ci")
	if got := ci.ok("run", "--", "sh", "-c", `printf %s "$D"`).stdout; got != "delta" {
		t.Fatalf("CI read D = %q after the attacks", got)
	}
}

// TestDeployCodeEmptyEnvironment: a deploy code for an environment with no
// versions yet reads an empty environment (the head comes with the deploy
// answer; there is no session to ask again), rather than failing as "not
// authenticated".
func TestDeployCodeEmptyEnvironment(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.alice.ok("env", "create", "staging")
	w.loadProject()
	code := lastLine(w.alice.ok("deploy", "--env", "staging", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	ci.write(".capy/project.json", w.alice.read(".capy/project.json"))
	if got := ci.ok("run", "--pull", "--env", "staging", "--", "sh", "-c", `printf ran`).stdout; got != "ran" {
		t.Fatalf("run --pull on an empty environment printed %q", got)
	}
	if r := ci.ok("export", "--pull", "--env", "staging", "--format", "json"); strings.TrimSpace(r.stdout) != "{}" || !strings.Contains(r.stderr, "no versions yet") {
		t.Fatalf("export --pull on an empty environment: %s", r)
	}
	ci.ok("sync", "--env", "staging")
	ci.ok("ci")
	if got := ci.ok("run", "--pull", "--", "sh", "-c", `printf ran`).stdout; got != "ran" {
		t.Fatalf("run --pull after ci on an empty environment printed %q", got)
	}
}

// TestRunnerSyncDeployErrors: a runner's `capy sync` reports what went
// wrong with its deploy code (revoked, for another environment, a kicked
// minter) with the code and exit status `capy ci` gives, not as
// "not signed in".
func TestRunnerSyncDeployErrors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	mint := func(by *person) (code, id string) {
		var out struct {
			Code   string `json:"code"`
			Deploy struct {
				ID string `json:"id"`
			} `json:"deploy"`
		}
		r := by.ok("--json", "deploy", "--name", "ci")
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("deploy --json: %v\n%s", err, r)
		}
		return out.Code, out.Deploy.ID
	}
	same := func(ci *person, wantCode string, wantExit int) {
		t.Helper()
		for _, args := range [][]string{{"ci"}, {"sync"}, {"run", "--pull", "--", "true"}} {
			r := ci.capy(append([]string{"--json"}, args...)...)
			if r.exit != wantExit || r.code() != wantCode {
				t.Fatalf("%v: want exit %d code %s, got\n%s", args, wantExit, wantCode, r)
			}
		}
	}
	code, id := mint(a)
	ci := w.ciCheckout(code)
	a.ok("deploy", "revoke", id)
	same(ci, "deploy-revoked", 4)

	code, _ = mint(a)
	ci = w.ciCheckout(code)
	w.s.setModify(rewriteJSON("POST", `^/v1/deploys/`, func(m map[string]any) { obj(m, "env")["id"] = w.envID("production") }))
	same(ci, "code-mismatch", 4)
	w.s.setModify(nil)

	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "admin")
	code, _ = mint(bob)
	ci = w.ciCheckout(code)
	ci.ok("ci")
	a.ok("kick", "--yes", bob.email)
	r := ci.capy("--json", "ci")
	if r.exit == 0 || r.code() == "not-signed-in" {
		t.Fatalf("ci with a kicked minter's code: %s", r)
	}
	same(ci, r.code(), r.exit)
}

// TestDeployCodeEnvironmentNames: the environment a deploy code is for is
// its id; the name in the service's answer is not trusted. A renamed
// answer changes nothing, and a code for another environment is refused
// with both environments named from project.json.
func TestDeployCodeEnvironmentNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	dev, prod := w.envID("development"), w.envID("production")
	ci := w.ciCheckout(lastLine(w.alice.ok("deploy", "--name", "ci").stdout))
	w.s.setModify(rewriteJSON("POST", `^/v1/deploys/`, func(m map[string]any) { obj(m, "env")["name"] = "production" }))
	if got := ci.ok("run", "--pull", "--", "sh", "-c", `printf %s "$D"`).stdout; got != "delta" {
		t.Fatalf("run --pull with a renamed deploy answer read D = %q", got)
	}
	w.s.setModify(nil)

	ci = w.ciCheckout(lastLine(w.alice.ok("deploy", "--env", "production", "--name", "ci-prod").stdout))
	for _, args := range [][]string{{"run", "--pull", "--env", "development", "--", "true"}, {"sync", "--env", "development"}} {
		r := ci.capy(append([]string{"--json"}, args...)...)
		want := "is for environment production (" + prod + "), not development (" + dev + ")"
		if r.exit != 1 || r.code() != "wrong-env-key" || !strings.Contains(r.stderr, want) {
			t.Fatalf("%v: want wrong-env-key naming both environments, got\n%s", args, r)
		}
	}
}

// TestMaliciousRotateEpoch: `env rotate` takes the next epoch from the
// service's environment. At epoch 2, a service claiming epoch 1 made the
// rotation re-encrypt under epoch 2 again (whose key a revoked deploy code
// may hold) and lower the pin. The rotation is refused before anything is
// sent, and project.json keeps its pin.
func TestMaliciousRotateEpoch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	a.ok("env", "rotate", "--yes", "development")
	dev := w.envID("development")
	w.s.setModify(rewriteJSON("GET", `/envs/`+dev+`$`, func(m map[string]any) { obj(m, "env")["epoch"] = 1 }))
	defer w.s.setModify(nil)
	mark := w.s.mark()
	w.refused(t, a, []string{".env", ".capy/state.json", ".capy/project.json"}, "tampered", "older key epoch", "env", "rotate", "--yes", "development")
	for _, r := range w.s.requestLog(mark) {
		if strings.HasSuffix(r, "/rotate") {
			t.Fatalf("a rotation was sent on the service's word: %s", r)
		}
	}
}

// TestMaliciousPageCursors: a service that keeps handing out the same
// next page cannot keep a list command running forever. (capyd is made to
// answer every page request with the first page; the proxy adds a
// next_cursor that never changes. An endless run of new cursors is bounded
// too: internal/client TestCollectPages.)
func TestMaliciousPageCursors(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.s.mu.Lock()
	w.s.rewriteReq = func(r *http.Request) { r.URL.RawQuery = "" }
	w.s.mu.Unlock()
	w.s.setModify(rewriteJSON("GET", `/(members|versions|audit)$`, func(m map[string]any) { m["next_cursor"] = "again" }))
	for _, args := range [][]string{{"members"}, {"history"}, {"audit"}} {
		r := w.alice.capy(append([]string{"--json"}, args...)...)
		if r.exit != 1 || r.code() != "service" || !strings.Contains(r.stderr, "cursors do not end") {
			t.Fatalf("%v: %s", args, r)
		}
	}
}

// TestMaliciousLinkEpoch: `capy link` pins each environment at the epoch
// the service names. After a rotation to epoch 2, a service naming epoch 1
// (with epoch 1's genuine public key) while serving the epoch-2 head is
// refused: nothing is pinned.
func TestMaliciousLinkEpoch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	dev := w.envID("development")
	pk := w.projectKey()
	old := pk.SigningPublicKey(dev, 1)
	a.ok("env", "rotate", "--yes", "development")
	w.s.setModify(rewriteJSON("GET", `/envs$`, func(m map[string]any) {
		for _, it := range m["items"].([]any) {
			if e := it.(map[string]any); e["id"] == dev {
				e["epoch"], e["signing_public_key"] = 1, wrap.B64.EncodeToString(old)
			}
		}
	}))
	defer w.s.setModify(nil)
	dir := filepath.Join(t.TempDir(), "linked")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := a.capyIn(dir, nil, "", "--json", "link", "--org", w.proj.Org, w.proj.Project)
	if r.exit != 1 || r.code() != "tampered" || !strings.Contains(r.stderr, "newest version is at epoch 2") {
		t.Fatalf("link with an older epoch claimed: %s", r)
	}
	if _, err := os.Stat(filepath.Join(dir, ".capy", "project.json")); err == nil {
		t.Fatal("project.json was written")
	}
	w.s.setModify(nil)
	a.capyIn(dir, nil, "", "link", "--org", w.proj.Org, w.proj.Project)
	if _, err := os.Stat(filepath.Join(dir, ".capy", "project.json")); err != nil {
		t.Fatalf("an honest link wrote no project.json: %v", err)
	}
}

// TestMaliciousRedeemAndCoDecryptAnswers: the inner layers and the key
// check in a redeem answer, and the inner layer in a co-decrypt answer,
// are the service's to choose. Rewritten (a flipped byte, another org's
// key check, nothing at all), they are refused: no key.enc is written on
// redeem, the member's key.enc and files stay as they were on unlock, and
// no value is printed.
func TestMaliciousRedeemAndCoDecryptAnswers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	flip := func(field string) func(m map[string]any) {
		return func(m map[string]any) {
			b, _ := wrap.B64.DecodeString(m[field].(string))
			if len(b) > 0 {
				b[len(b)/2] ^= 1
			}
			m[field] = wrap.B64.EncodeToString(b)
		}
	}
	i := 0
	for name, edit := range map[string]func(m map[string]any){
		"inner flipped":         flip("inner"),
		"inner empty":           func(m map[string]any) { m["inner"] = "" },
		"another key check":     func(m map[string]any) { obj(m, "org")["key_check"] = wrap.B64.EncodeToString(make([]byte, 32)) },
		"key check removed":     func(m map[string]any) { obj(m, "org")["key_check"] = nil },
		"another org in answer": func(m map[string]any) { obj(m, "org")["id"] = "org_aaaaaaaaaaaaaaaaaaaaaaaaaa" },
	} {
		i++
		bob := w.s.person(fmt.Sprintf("bob%d@example.com", i)) // a refused redeem still used the invite up
		w.clone(bob)
		bob.login()
		code := strings.TrimSpace(a.ok("invite", bob.email).stdout)
		w.s.setModify(rewriteJSON("POST", `^/v1/invites/[^/]+/redeem$`, edit))
		r := bob.capyStdin(code+"\n", "--json", "redeem", "--yes", "-")
		w.s.setModify(nil)
		if r.exit == 0 || len(keyEncFiles(t, bob.home)) != 0 {
			t.Fatalf("redeem with %s: accepted or key.enc written: %s", name, r)
		}
		noLeak(t, r.stderr)
	}

	files := []string{".env", ".capy/state.json", ".capy/project.json"}
	keyEnc := keyEncFiles(t, a.home)
	before := readBytes(t, keyEnc[0])
	for name, edit := range map[string]func(m map[string]any){
		"inner flipped": flip("inner"),
		"inner empty":   func(m map[string]any) { m["inner"] = "" },
	} {
		w.s.setModify(rewriteJSON("POST", `/co-decrypt$`, edit))
		snap := a.snapshotFiles(files...)
		r := a.capy("--json", "get", "A")
		w.s.setModify(nil)
		if r.exit == 0 || strings.Contains(r.stdout, "alpha") {
			t.Fatalf("unlock with the co-decrypt's %s: %s", name, r)
		}
		a.unchangedFiles(snap, name)
		if !bytes.Equal(readBytes(t, keyEnc[0]), before) {
			t.Fatalf("%s: key.enc changed", name)
		}
	}
	if got := a.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("A = %q after the attacks", got)
	}
}

// TestMaliciousListText: names, e-mails, labels and audit text in list
// answers are the service's to choose. List commands show them with
// control, line-break and bidi characters escaped: a malicious service
// cannot forge lines, colours or a reordered display.
func TestMaliciousListText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	a.ok("invite", "carol@example.com")
	a.ok("deploy", "--name", "ci")
	evil := "x\x1b[2K\r✓ forged line\nsecond\u202e"
	edit := func(m map[string]any) {
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, vv := range x {
					switch k {
					case "email", "name", "label", "action", "target", "actor", "result", "status", "kind":
						if _, ok := vv.(string); ok {
							x[k] = evil
							continue
						}
					}
					walk(vv)
				}
			case []any:
				for _, vv := range x {
					walk(vv)
				}
			}
		}
		walk(m)
	}
	w.s.setModify(rewriteJSON("GET", `.`, edit))
	defer w.s.setModify(nil)
	for _, args := range [][]string{{"members"}, {"invites"}, {"deploy", "ls"}, {"history"}, {"audit"}, {"whoami"}} {
		r := a.capy(args...)
		if r.exit != 0 {
			t.Fatalf("%v: %s", args, r)
		}
		if strings.ContainsAny(r.stdout, "\x1b\r\u202e") || strings.Contains(r.stdout, "\nsecond") || !strings.Contains(r.stdout, `\u001b`) {
			t.Fatalf("%v: service text reached the terminal raw:\n%q", args, r.stdout)
		}
	}
}
