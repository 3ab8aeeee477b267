package abuse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// envLine returns the raw value of NAME's line in a .env text.
func envLine(t *testing.T, text, name string) string {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in\n%s", name, text)
	return ""
}

func replaceValue(text, name, value string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, name+"=") {
			l = name + "=" + value
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestMalformedCodesNamesAndIDs: malformed redeem and deploy codes, ids,
// variable and environment names and e-mail addresses typed into the CLI
// are refused as usage errors (exit 2) before anything is sent.
func TestMalformedCodesNamesAndIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	redeem := strings.TrimSpace(a.ok("invite", "bob@example.com").stdout)
	deploy := lastLine(a.ok("deploy", "--name", "ci").stdout)
	mid := func(c string) string { return flipSnippetChar(c) }
	badCodes := map[string]string{
		"flipped character":     "mistyped or truncated",
		"truncated":             "mistyped or truncated",
		"extended":              "mistyped or truncated",
		"prefix only":           "mistyped or truncated",
		"not a code":            "not a capy code",
		"line break inside":     "mistyped or truncated",
		"padding":               "mistyped or truncated",
		"too long":              "not a capy code",
		"other kind":            "wrong kind",
		"unicode look-alike":    "not a capy code",
		"url with path escapes": "mistyped or truncated",
	}
	mutate := func(code, prefix, other, what string) string {
		switch what {
		case "flipped character":
			return mid(code)
		case "truncated":
			return code[:len(code)-7]
		case "extended":
			return code + "AAAA"
		case "prefix only":
			return prefix
		case "not a code":
			return "'; DROP TABLE invites; --"
		case "line break inside":
			return code[:30] + "\n" + code[30:]
		case "padding":
			return code + "=="
		case "too long":
			return prefix + strings.Repeat("A", 5000)
		case "other kind":
			return other
		case "unicode look-alike":
			return strings.Replace(code, "capy", "cаpy", 1) // Cyrillic a
		case "url with path escapes":
			return code[:len(code)-4] + "%2e%2e"
		}
		panic(what)
	}
	mark := w.s.mark()
	ci := w.s.person("ci@example.com")
	w.clone(ci)
	for what, msg := range badCodes {
		code := mutate(redeem, "capy-redeem-", deploy, what)
		r := a.capy("--json", "redeem", "--yes", code)
		if r.exit != 2 || r.code() != "bad-code" || !strings.Contains(r.stderr, msg) {
			t.Fatalf("redeem code %s: want bad-code /%s/, got\n%s", what, msg, r)
		}
		if strings.Contains(r.stderr+r.stdout, strings.TrimPrefix(redeem, "capy-redeem-")[:20]) {
			t.Fatalf("the error repeats the code (a password):\n%s", r)
		}
		code = mutate(deploy, "capy-deploy-", redeem, what)
		r = ci.capyIn(ci.dir, []string{"CAPY_DEPLOY_CODE=" + code}, "", "--json", "ci")
		if r.exit != 2 || r.code() != "bad-code" || !strings.Contains(r.stderr, msg) {
			t.Fatalf("deploy code %s: want bad-code /%s/, got\n%s", what, msg, r)
		}
		if strings.Contains(r.stderr+r.stdout, strings.TrimPrefix(deploy, "capy-deploy-")[:20]) {
			t.Fatalf("the error repeats the code (a password):\n%s", r)
		}
	}
	if got := w.s.requestLog(mark); len(got) != 0 {
		t.Fatalf("malformed codes reached the service: %v", got)
	}

	// Ids, names and addresses typed by a person.
	usage := [][]string{
		{"invites", "revoke", "../../x"},
		{"invites", "revoke", "inv_ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
		{"invites", "revoke", "dep_abcdefghijklmnopqrstuvwxyz"},
		{"deploy", "revoke", "inv_abcdefghijklmnopqrstuvwxyz"},
		{"deploy", "revoke", "dep_abcdefghijklmnopqrstuvwxy/"},
		{"recover", "--org", "org_../../../x"},
		{"get", "../x"},
		{"get", "'; DROP TABLE users; --"},
		{"get", ""},
		{"get", "9ABC"},
		{"get", strings.Repeat("N", 257)},
		{"get", "A\u202eB"},
		{"set", "A B=1"},
		{"set", "Robert'); DROP TABLE envs; --=1"},
		{"env", "create", "Robert'); --"},
		{"env", "create", "../../x"},
		{"env", "create", "PROD"},
		{"invite", "robert'); drop table users; --@example.com"},
		{"invite", "bob\u202e@example.com"},
		{"invite", "b\u200bob@example.com"},
		{"invite", "😀@example.com"},
		{"invite", "--role", "root", "bob@example.com"},
		{"kick", "--yes", "' OR 1=1 --"},
	}
	mark = w.s.mark()
	before := a.snapshotFiles(".env", ".capy/project.json", ".capy/state.json", ".gitignore")
	for _, args := range usage {
		r := a.capy(append([]string{"--json"}, args...)...)
		if r.exit != 2 {
			t.Fatalf("%q: want exit 2, got\n%s", args, r)
		}
	}
	// An environment file outside the repository or in .capy is refused
	// (after the unlock, before the environment is created).
	for _, f := range []string{"../../outside.env", ".capy/decrypt", "/etc/passwd", ".capy/../../outside.env"} {
		r := a.capy("--json", "env", "create", "--file", f, "staging")
		if r.exit != 1 || !strings.Contains(r.stderr, "must be a clean relative path inside the repository") {
			t.Fatalf("env create --file %s: %s", f, r)
		}
	}
	a.unchangedFiles(before, "refused input")
	for _, req := range w.s.requestLog(mark) {
		// Only the unlocks of `env create --file` (the file is checked
		// after the unlock) reach the service.
		if req != "POST /v1/orgs/"+w.proj.Org+"/co-decrypt" {
			t.Fatalf("refused input sent %s", req)
		}
		if strings.Contains(req, "..") || strings.Contains(req, "DROP") {
			t.Fatalf("refused input reached a path: %s", req)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(a.dir), "outside.env")); err == nil {
		t.Fatal("a file outside the repository was created")
	}
	// `capy link --org` with a path in it: refused before any request names it.
	mark = w.s.mark()
	if r := a.capyIn(filepath.Dir(a.dir), nil, "", "--json", "link", "--org", "org_../../../x", "web"); r.exit == 0 {
		t.Fatalf("%s", r)
	}
	noTraversal(t, w.s, mark, filepath.Dir(a.dir))
}

// TestMalformedSnippets: a .env line whose snippet is malformed,
// truncated, tampered, moved from another variable or copied from
// another environment is refused by sync, get and run: exit 1, nothing
// pushed (the service's head does not move, so garbage never becomes a
// value), the file unchanged, the command not run.
func TestMalformedSnippets(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	env := a.read(".env")
	realA, realB := envLine(t, env, "A"), envLine(t, env, "B")
	prodP := envLine(t, a.read(".env.production"), "P")
	sn, err := wrap.ParseSnippet(realA)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct{ value, code, msg string }{
		"not base64":           {"capy:abcde:!!!!", "error", "not a well-formed capy snippet"},
		"uppercase rid":        {"capy:ABCDE:" + wrap.B64.EncodeToString(sn.Box), "error", "not a well-formed capy snippet"},
		"prefix only":          {"capy:", "error", "not a well-formed capy snippet"},
		"too short":            {"capy:" + sn.Rid + ":" + wrap.B64.EncodeToString(sn.Box[:20]), "error", "not a well-formed capy snippet"},
		"truncated":            {realA[:len(realA)-10], "error", "snippet"},
		"line break inside":    {`"` + realA[:20] + `\n` + realA[20:] + `"`, "error", "not a well-formed capy snippet"},
		"tampered":             {flipSnippetChar(realA), "error", "does not decrypt"},
		"moved from B":         {realB, "snippet-moved", "belongs to another variable"},
		"copied from prod":     {prodP, "error", ""},
		"SQL after the prefix": {"capy:abcde:'; DROP TABLE blobs; --", "error", "not a well-formed capy snippet"},
	}
	version, id := w.headNow("development")
	ran := filepath.Join(t.TempDir(), "ran")
	for name, c := range cases {
		a.write(".env", replaceValue(env, "A", c.value))
		before := a.snapshotFiles(".env", ".capy/state.json")
		for _, args := range [][]string{{"sync"}, {"get", "A"}, {"get", "B"}, {"run", "--", "touch", ran}, {"export"}} {
			r := a.capy(append([]string{"--json"}, args...)...)
			if r.exit != 1 || r.code() != c.code || !strings.Contains(r.stderr, c.msg) {
				t.Fatalf("%s, %v: want %s /%s/, got\n%s", name, args, c.code, c.msg, r)
			}
			if strings.Contains(r.stdout, "bravo") {
				t.Fatalf("%s, %v: printed a value despite the bad line", name, args)
			}
			noLeak(t, r.stderr)
		}
		a.unchangedFiles(before, name)
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("%s: run started its command", name)
		}
		if v, i := w.headNow("development"); v != version || i != id {
			t.Fatalf("%s: something was pushed (head v%d)", name, v)
		}
	}
	a.write(".env", env)
	if got := a.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("A = %q", got)
	}
}

// TestMaliciousProjectJSON: a committed .capy/project.json is input from
// whoever wrote the repository. Paths outside the repository, ids with
// path characters, odd names, unknown fields and bad keys are refused by
// every command before anything is read, written or sent.
func TestMaliciousProjectJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	good := w.alice.read(".capy/project.json")
	p := w.s.person("alice@example.com")
	// p shares alice's session and key (a second checkout on her machine).
	p.home = w.alice.home
	env := w.envID("development")
	cases := map[string]string{
		"org with a path":            strings.Replace(good, w.proj.Org, "org_../../../../pwned", 1),
		"project with a path":        strings.Replace(good, w.proj.Project, "prj_../../../../pwned", 1),
		"env id with a path":         strings.Replace(good, env, "env_../../../../pwned", 1),
		"file outside":               strings.Replace(good, `"file": ".env"`, `"file": "../../pwned.env"`, 1),
		"absolute file":              strings.Replace(good, `"file": ".env"`, `"file": "/tmp/pwned.env"`, 1),
		"file in .capy":              strings.Replace(good, `"file": ".env"`, `"file": ".capy/decrypt"`, 1),
		"file climbing out of .capy": strings.Replace(good, `"file": ".env"`, `"file": ".capy/../../pwned.env"`, 1),
		"environment name":           strings.Replace(good, `"development"`, `"../pwned"`, -1),
		"epoch 0":                    strings.Replace(good, `"epoch": 1`, `"epoch": 0`, 1),
		"short signing key":          strings.Replace(good, w.signingKey("development"), "AAAA", 1),
		"unknown field":              strings.Replace(good, `"version": 1,`, `"version": 1, "hooks": "rm -rf /",`, 1),
		"version 2":                  strings.Replace(good, `"version": 1`, `"version": 2`, 1),
		"plain http":                 strings.Replace(good, w.s.url, "http://pwned.invalid", 1),
	}
	for name, text := range cases {
		if text == good {
			t.Fatalf("%s: the case changes nothing", name)
		}
		p.write(".capy/project.json", text)
		p.write(".env", "A=plain\n")
		mark := w.s.mark()
		for _, args := range [][]string{{"sync"}, {"get", "A"}, {"set", "B=x"}, {"run", "--", "true"}, {"ls"}, {"env"}} {
			r := p.capy(append([]string{"--json"}, args...)...)
			if r.exit == 0 || !strings.Contains(r.stderr, "project.json") {
				t.Fatalf("%s, %v: want a refusal naming project.json, got\n%s", name, args, r)
			}
		}
		if got := w.s.requestLog(mark); len(got) != 0 {
			t.Fatalf("%s: requests were sent: %v", name, got)
		}
		if got := p.read(".env"); got != "A=plain\n" {
			t.Fatalf("%s: .env was rewritten: %q", name, got)
		}
		noTraversal(t, w.s, mark, filepath.Dir(filepath.Dir(p.dir)))
		if _, err := os.Stat("/tmp/pwned.env"); err == nil {
			t.Fatal("/tmp/pwned.env was written")
		}
	}
}

func (w *world) signingKey(env string) string {
	w.s.t.Helper()
	text := w.alice.read(".capy/project.json")
	i := strings.Index(text, `"`+env+`"`)
	j := strings.Index(text[i:], `"signing_key": "`) + i + len(`"signing_key": "`)
	return text[j : j+43]
}
