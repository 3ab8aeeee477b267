package abuse

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

// This file holds what a checkout must survive (issue 13): files that git,
// a teammate or another tool changed under capy.

// TestStatusAfterTeammateRotation: a teammate rotated development and
// committed project.json; this checkout pulled it (the pin is at epoch 2)
// but its .env still holds epoch-1 snippets. `capy status` reads the file
// with the epoch it was written in, and the next sync moves it on.
func TestStatusAfterTeammateRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "admin")
	bob.ok("sync")
	bob.ok("env", "rotate", "--yes", "development")
	a.write(".capy/project.json", bob.read(".capy/project.json")) // git pull
	r := a.ok("--json", "status")
	if !strings.Contains(r.stdout, `"remote_version": 3`) {
		t.Fatalf("status after a teammate's rotation: %s", r)
	}
	a.ok("sync")
	if got := a.ok("get", "D").stdout; got != "delta\n" {
		t.Fatalf("D = %q after syncing into the new epoch", got)
	}
	a.ok("--json", "status")
}

// TestRunRefusesExecControlNames: a value under a name that makes the
// command load or run code (PATH, LD_PRELOAD, NODE_OPTIONS, BASH_ENV) is
// code execution on every teammate who runs it. `capy run` refuses to
// start the command unless the caller admits the name.
func TestRunRefusesExecControlNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	ran := filepath.Join(t.TempDir(), "ran")
	for _, name := range []string{"LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "PATH", "npm_config_script_shell"} {
		a.okStdin("/tmp/evil", "set", name)
		r := a.capy("--json", "run", "--", "touch", ran)
		if r.exit != 4 || r.code() != "unsafe-name" || !strings.Contains(r.stderr, name) {
			t.Fatalf("%s: want exit 4 unsafe-name, got\n%s", name, r)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("%s: the command ran", name)
		}
		if name != "PATH" {
			// Admitted by the caller (flag, or CAPY_ALLOW_NAMES in CI), the value reaches the command.
			out := a.ok("run", "--allow-name", name, "--", "sh", "-c", `printenv `+name).stdout
			if out != "/tmp/evil\n" {
				t.Fatalf("%s admitted: %q", name, out)
			}
			if out := a.capyIn(a.dir, []string{"CAPY_ALLOW_NAMES=OTHER," + name}, "", "run", "--", "sh", "-c", `printenv `+name); out.exit != 0 {
				t.Fatalf("%s admitted by CAPY_ALLOW_NAMES: %s", name, out)
			}
		}
		a.ok("unset", name)
	}
}

// plantKeyFile writes what a branch could carry: a .capy/decrypt with a
// key of the attacker's making for development, and a .env whose snippet
// for X opens with it.
func plantKeyFile(t *testing.T, w *world, p *person, mode os.FileMode) {
	t.Helper()
	var ek keys.EnvKey
	rand.Read(ek[:])
	dev := w.envID("development")
	s, err := ek.Cipher(dev, 1).Seal("X", "evil", false)
	if err != nil {
		t.Fatal(err)
	}
	p.write(".env", "X="+s+"\n")
	p.write(".capy/decrypt", keys.EnvKeyFile{EnvID: dev, Epoch: 1, Key: ek}.Encode())
	if err := os.Chmod(p.path(".capy/decrypt"), mode); err != nil {
		t.Fatal(err)
	}
}

// TestPlantedKeyFile: a .capy/decrypt that this machine's `capy ci` did
// not write (one a branch brought along, 0600 under umask 077 or 0644) is
// never used. A signed-in member is told and goes on with the member key,
// so the attacker's values never reach the command; a runner is refused,
// and no hint tells anyone to loosen the file's permissions. A key file
// `capy ci` wrote works until git tracks it.
func TestPlantedKeyFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	env := a.read(".env")
	for _, mode := range []os.FileMode{0o600, 0o644} {
		plantKeyFile(t, w, a, mode)
		r := a.capy("run", "--", "sh", "-c", `printf %s "$X"`)
		if strings.Contains(r.stdout, "evil") || !strings.Contains(r.stderr, "ignoring .capy/decrypt") || strings.Contains(r.stderr, "chmod") {
			t.Fatalf("member with a planted key file (mode %04o): %s", mode, r)
		}
	}
	os.Remove(a.path(".capy/decrypt"))
	a.write(".env", env)

	code := lastLine(a.ok("deploy", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	runner := w.s.person("runner@example.com") // no session, no deploy code
	w.clone(runner)
	for _, mode := range []os.FileMode{0o600, 0o644} {
		plantKeyFile(t, w, runner, mode)
		r := runner.capy("--json", "run", "--", "sh", "-c", `printf %s "$X"`)
		if r.exit != 1 || r.code() != "untrusted-key-file" || strings.Contains(r.stdout+r.stderr, "evil") || strings.Contains(r.stderr, "chmod") {
			t.Fatalf("runner with a planted key file (mode %04o): %s", mode, r)
		}
		if d := runner.capy("doctor"); strings.Contains(d.stdout+d.stderr, "chmod") || !strings.Contains(d.stdout+d.stderr, "ignored") {
			t.Fatalf("doctor on a planted key file: %s", d)
		}
	}

	ci.ok("ci")
	if got := ci.ok("run", "--", "sh", "-c", `printf %s "$D"`).stdout; got != "delta" {
		t.Fatalf("CI read D = %q with the key file capy ci wrote", got)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: the tracked-key-file case needs it")
	}
	for _, args := range [][]string{{"init", "-q"}, {"add", "-f", ".capy/decrypt"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = ci.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	ci.env = nil // no deploy code either: only the key file
	if r := ci.capy("--json", "run", "--", "true"); r.exit != 1 || r.code() != "untrusted-key-file" || !strings.Contains(r.stderr, "git tracks") {
		t.Fatalf("a key file git tracks: %s", r)
	}
}

// TestWrongPinnedSigningKey: a branch changes development's pinned
// signing key (here to production's). CI runners trust the pin, so
// members must not let it stand: `capy doctor` reports it, and the next
// member command repairs it (loudly) from the key derived from PK.
func TestWrongPinnedSigningKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	var pj map[string]any
	if err := json.Unmarshal([]byte(a.read(".capy/project.json")), &pj); err != nil {
		t.Fatal(err)
	}
	envs := pj["environments"].(map[string]any)
	good := envs["development"].(map[string]any)["signing_key"]
	envs["development"].(map[string]any)["signing_key"] = envs["production"].(map[string]any)["signing_key"]
	out, _ := json.MarshalIndent(pj, "", "  ")
	a.write(".capy/project.json", string(out)+"\n")

	d := a.capy("doctor")
	if d.exit == 0 || !strings.Contains(d.stdout, "pin development") || !strings.Contains(d.stdout, "not this environment's key") {
		t.Fatalf("doctor with a wrong pin: %s", d)
	}
	r := a.ok("get", "D")
	if r.stdout != "delta\n" || !strings.Contains(r.stderr, "repaired") {
		t.Fatalf("get with a wrong pin: %s", r)
	}
	if err := json.Unmarshal([]byte(a.read(".capy/project.json")), &pj); err != nil {
		t.Fatal(err)
	}
	if got := pj["environments"].(map[string]any)["development"].(map[string]any)["signing_key"]; got != good {
		t.Fatalf("pin after the repair = %v, want %v", got, good)
	}
	if d := a.capy("doctor"); strings.Contains(d.stdout, "pin development") {
		t.Fatalf("doctor after the repair: %s", d)
	}
}

// git runs git in dir (the test is skipped where git is missing).
func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
		"GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestBranchReplacesEnv: a pull request's branch force-adds a one-line
// .env. git checks it out over the member's ignored .env without a word;
// the next `capy` would have pushed it, deleting every other variable for
// the team. capy refuses a file git tracks (and a tracked state.json),
// and asks before a file that changed outside capy deletes names.
func TestBranchReplacesEnv(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	mine := a.read(".env")
	git(t, a.dir, "init", "-q", "-b", "main")
	git(t, a.dir, "add", ".gitignore", ".capy/project.json")
	git(t, a.dir, "commit", "-q", "-m", "capy")
	git(t, a.dir, "checkout", "-q", "-b", "evil")
	a.write(".env", "HTTPS_PROXY=http://evil.invalid\n")
	git(t, a.dir, "add", "-f", ".env")
	git(t, a.dir, "commit", "-q", "-m", "evil")
	git(t, a.dir, "checkout", "-q", "main") // git removes the tracked .env
	a.write(".env", mine)
	a.ok("sync")

	git(t, a.dir, "checkout", "-q", "evil") // and puts the branch's over the ignored one
	if a.read(".env") == mine {
		t.Fatal("git did not replace the ignored .env (the attack needs it)")
	}
	files := []string{".env", ".capy/state.json", ".capy/project.json"}
	for _, args := range [][]string{{"sync"}, {"sync", "--yes"}} {
		r := w.refusedExit(t, a, files, 4, "tracked-file", `git tracks \.env`, args...)
		if !strings.Contains(r.stderr, "git rm --cached") {
			t.Fatalf("no way out in the hint: %s", r)
		}
	}
	r := a.capy("--json", "set", "--allow-empty", "X")
	if r.exit != 4 || r.code() != "tracked-file" {
		t.Fatalf("set on a tracked .env: %s", r)
	}
	git(t, a.dir, "checkout", "-q", "main")
	a.write(".env", mine)

	// Without git: a file replaced by hand (or by another tool) that drops
	// names is not pushed without a yes.
	a.write(".env", "HTTPS_PROXY=http://evil.invalid\n")
	r = w.refusedExit(t, a, files, 2, "confirm-changes", `would delete A, B, C, D`)
	if !strings.Contains(r.stderr, "capy sync --yes") {
		t.Fatalf("no way out in the hint: %s", r)
	}
	// An edit of values only is an edit: it syncs without a question.
	a.write(".env", mine)
	a.ok("sync")
	a.write(".env", strings.Replace(a.read(".env"), "# team values\n", "# team values\nE=echo\n", 1))
	a.ok("sync")
	if got := a.ok("get", "E").stdout; got != "echo\n" {
		t.Fatalf("E = %q", got)
	}

	// A branch that carries .capy/state.json is refused the same way.
	git(t, a.dir, "checkout", "-q", "-b", "evil-state")
	git(t, a.dir, "add", "-f", ".capy/state.json")
	git(t, a.dir, "commit", "-q", "-m", "state")
	a.write(".capy/state.json", strings.Replace(a.read(".capy/state.json"), `"current"`, `"current" `, 1))
	w.refusedExit(t, a, files, 4, "tracked-file", `git tracks \.capy/state\.json`, "sync")
}

// TestLoginServiceFromRepository: in a clone, `capy login` takes the
// service from project.json. A stranger's repository may name any host:
// the first time, capy shows it and asks (without a terminal it needs
// --yes or --service) before it sends the e-mail address anywhere.
func TestLoginServiceFromRepository(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bob := w.s.person("bob@example.com")
	bob.env = nil // no CAPY_SERVICE: the URL comes from the repository
	w.clone(bob)
	mark := w.s.mark()
	r := bob.capy("--json", "login", bob.email)
	if r.exit != 2 || r.code() != "usage" || !strings.Contains(r.stderr, "names the service at "+w.s.url) {
		t.Fatalf("login from a repository's service: %s", r)
	}
	if reqs := w.s.requestLog(mark); len(reqs) != 0 {
		t.Fatalf("requests sent before the host was accepted: %v", reqs)
	}
	bob.capy("login", "--yes", bob.email) // no code on stdin: it stops after asking for one
	if reqs := w.s.requestLog(mark); len(reqs) != 1 || !strings.Contains(reqs[0], "/v1/auth/start") {
		t.Fatalf("login --yes: %v", reqs)
	}
	// Once signed in there, the host is known: no question.
	bob.login()
	mark = w.s.mark()
	bob.capy("login", bob.email)
	if reqs := w.s.requestLog(mark); len(reqs) != 1 {
		t.Fatalf("login to a known service asked again: %v", reqs)
	}
}

// TestRedirectsNotFollowed: a service answering with a redirect (to
// another host, or the same host over plain http) gets nothing re-sent:
// no bearer token, no key.enc, no login e-mail reaches the target.
func TestRedirectsNotFollowed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	for _, status := range []int{302, 307, 308} {
		redirector := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			http.Redirect(rw, r, w.s.direct+r.URL.RequestURI(), status)
		}))
		mark := w.s.mark()
		r := a.capy("--json", "login", "--service", redirector.URL, "eve@example.com")
		if r.exit != 1 || r.code() != "redirect" {
			t.Fatalf("%d: login through a redirect: %s", status, r)
		}
		if reqs := w.s.requestLog(mark); len(reqs) != 0 {
			t.Fatalf("%d: the redirect was followed: %v", status, reqs)
		}
		redirector.Close()
	}
}

// TestTrackedFilesRefusedEverywhere: a tracked state.json or .env is
// refused by every command that trusts or writes it, before it changes
// anything: the --pull reads (which would record what they saw into the
// branch's state.json and certify it), status, rollback and env rotate
// (which push before their final sync), and init (which would create an
// organisation first).
func TestTrackedFilesRefusedEverywhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	mine := a.read(".env")
	git(t, a.dir, "init", "-q", "-b", "main")
	git(t, a.dir, "add", ".gitignore", ".capy/project.json")
	git(t, a.dir, "commit", "-q", "-m", "capy")
	files := []string{".env", ".capy/state.json", ".capy/project.json"}

	git(t, a.dir, "checkout", "-q", "-b", "evil-state")
	a.write(".capy/state.json", `{"version":1,"current":"","environments":{}}`+"\n")
	git(t, a.dir, "add", "-f", ".capy/state.json")
	git(t, a.dir, "commit", "-q", "-m", "state")
	for _, args := range [][]string{{"get", "--pull", "A"}, {"export", "--pull"}, {"run", "--pull", "--", "true"},
		{"status"}, {"sync"}, {"rollback", "--yes", "1"}, {"env", "rotate", "--yes", "development"}, {"env", "switch", "production"}} {
		w.refusedExit(t, a, files, 4, "tracked-file", `git tracks \.capy/state\.json`, args...)
	}
	git(t, a.dir, "checkout", "-q", "main")
	a.write(".env", mine)
	a.ok("sync")

	git(t, a.dir, "checkout", "-q", "-b", "evil-env")
	git(t, a.dir, "add", "-f", ".env")
	git(t, a.dir, "commit", "-q", "-m", "env")
	a.write(".env", strings.Replace(mine, "A=", "#A=", 1))
	for _, args := range [][]string{{"rollback", "--yes", "1"}, {"env", "rotate", "--yes", "development"}} {
		w.refusedExit(t, a, files, 4, "tracked-file", `git tracks \.env`, args...)
	}
	git(t, a.dir, "checkout", "-q", "-f", "main")
	a.write(".env", mine)
	a.ok("sync")

	// A changed (untracked) file: rollback and rotate start only from a
	// synced file, since their own sync comes after the push.
	a.write(".env", strings.Replace(a.read(".env"), "# team values\n", "# team values\nNEW=1\n", 1))
	for _, args := range [][]string{{"rollback", "--yes", "1"}, {"env", "rotate", "--yes", "development"}} {
		w.refusedExit(t, a, files, 1, "sync-first", `changed since capy last wrote it`, args...)
	}

	// init in a repository that tracks its .env: refused before anything
	// is created on the service.
	eve := w.s.person("eve@example.com")
	eve.login()
	eve.write(".env", "TOKEN=plain\n")
	git(t, eve.dir, "init", "-q", "-b", "main")
	git(t, eve.dir, "add", ".env")
	git(t, eve.dir, "commit", "-q", "-m", "env")
	mark := w.s.mark()
	r := eve.capy("--json", "init", "--yes", "--new-org", "Eve")
	if r.exit != 4 || r.code() != "tracked-file" || !strings.Contains(r.stderr, "git rm --cached .env") {
		t.Fatalf("init with a tracked .env: %s", r)
	}
	for _, req := range w.s.requestLog(mark) {
		if strings.HasPrefix(req, "POST") {
			t.Fatalf("init sent %s before refusing", req)
		}
	}
	if _, err := os.Stat(eve.path(".capy/project.json")); err == nil {
		t.Fatal("init wrote project.json")
	}
}
