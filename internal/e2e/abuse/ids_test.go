package abuse

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// rewriteJSON edits the JSON answers (2xx) of requests matching method and
// path (a regexp) with edit.
func rewriteJSON(method, path string, edit func(m map[string]any)) modifier {
	re := regexp.MustCompile(path)
	return func(r *http.Request, status int, body []byte) []byte {
		if status/100 != 2 || r.Method != method || !re.MatchString(r.URL.Path) {
			return body
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return body
		}
		edit(m)
		out, _ := json.Marshal(m)
		return out
	}
}

func obj(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }

func firstItem(m map[string]any) map[string]any {
	return m["items"].([]any)[0].(map[string]any)
}

// traversal is what the malicious service puts where an id belongs.
func traversal(kind string) string { return kind + "_../../../../pwned" }

// noTraversal fails if any request that reached capyd (since mark) named
// a path outside its id's place, or if a file named pwned* exists under
// root.
func noTraversal(t *testing.T, s *service, mark int, root string) {
	t.Helper()
	for _, r := range s.requestLog(mark) {
		l := strings.ToLower(r)
		if strings.Contains(l, "..") || strings.Contains(l, "%2e") || strings.Contains(l, "%2f") || strings.Contains(l, "pwned") {
			t.Fatalf("a request used a service-supplied path: %s", r)
		}
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), "pwned") {
			t.Fatalf("a file was created from a service-supplied id: %s", p)
		}
		return nil
	})
}

// TestMaliciousIDs: a malicious service answers with ids that try to
// climb out of their place in a request path or a file path. The CLI
// refuses each before using it: nothing reaches another path, no file is
// written from it, and no code is printed that embeds it.
func TestMaliciousIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s, a := w.s, w.alice
	root := filepath.Dir(filepath.Dir(a.dir))
	bob := s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")

	cases := []struct {
		name string
		mod  modifier
		who  *person
		dir  string // "" = the person's repository
		args []string
		want string // the error message (regexp)
	}{
		{"invite id", rewriteJSON("POST", `/invites$`, func(m map[string]any) { obj(m, "invite")["id"] = traversal("inv") }),
			a, "", []string{"invite", "carol@example.com"}, `malformed invite id`},
		{"device invite id", rewriteJSON("POST", `/invites$`, func(m map[string]any) { obj(m, "invite")["id"] = traversal("inv") }),
			a, "", []string{"device", "add"}, `malformed invite id`},
		{"deploy id", rewriteJSON("POST", `/deploys$`, func(m map[string]any) { obj(m, "deploy")["id"] = traversal("dep") }),
			a, "", []string{"deploy", "--name", "ci"}, `malformed deploy id`},
		{"member id (kick)", rewriteJSON("GET", `/members$`, func(m map[string]any) { firstItem(m)["id"] = traversal("usr") }),
			a, "", []string{"kick", "--yes", "bob@example.com"}, `malformed id`},
		{"environment id (link)", rewriteJSON("GET", `/envs$`, func(m map[string]any) { firstItem(m)["id"] = traversal("env") }),
			a, "linked", []string{"link", "--org", w.proj.Org, w.proj.Project}, `malformed environment`},
		{"environment name (link)", rewriteJSON("GET", `/envs$`, func(m map[string]any) { firstItem(m)["name"] = "../../pwned" }),
			a, "linked", []string{"link", "--org", w.proj.Org, w.proj.Project}, `malformed environment`},
		{"project id (link by name)", rewriteJSON("GET", `/projects$`, func(m map[string]any) { firstItem(m)["id"] = traversal("prj") }),
			a, "linked", []string{"link", "--org", w.proj.Org, "web"}, `refusing to use .* in a request path`},
		{"org id (link)", rewriteJSON("GET", `^/v1/orgs$`, func(m map[string]any) { firstItem(m)["id"] = traversal("org") }),
			a, "linked", []string{"link", "web"}, `malformed id`},
		{"org id (redeem)", rewriteJSON("POST", `/redeem$`, func(m map[string]any) { obj(m, "org")["id"] = traversal("org") }),
			nil, "", nil, `another organisation than the code names`},
		{"user id (login)", rewriteJSON("POST", `/auth/verify$`, func(m map[string]any) { obj(m, "user")["id"] = traversal("usr") }),
			nil, "", nil, `malformed`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mark := s.mark()
			s.setModify(c.mod)
			defer s.setModify(nil)
			var r result
			switch c.name {
			case "org id (redeem)":
				code := strings.TrimSpace(a.ok("invite", "carol@example.com").stdout)
				carol := s.person("carol@example.com")
				carol.login()
				mark = s.mark()
				r = carol.capyStdin(code+"\n", "--json", "redeem", "--yes", "-")
				if files := keyEncFiles(t, carol.home); len(files) > 0 {
					t.Fatalf("redeem answered for another org still wrote %v", files)
				}
			case "user id (login)":
				dave := s.person("dave@example.com")
				r = dave.loginWith(s.url)
				if _, err := os.Stat(filepath.Join(dave.home, "credentials")); err == nil {
					t.Fatalf("login stored a session whose user id is malformed")
				}
			default:
				dir := c.who.dir
				if c.dir != "" {
					dir = filepath.Join(c.who.dir, "..", c.dir)
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
				}
				before := c.who.snapshotFiles(".env", ".capy/project.json", ".capy/state.json")
				r = c.who.capyIn(dir, nil, "", append([]string{"--json"}, c.args...)...)
				c.who.unchangedFiles(before, c.name)
				if c.dir != "" {
					if _, err := os.Stat(filepath.Join(dir, ".capy", "project.json")); err == nil {
						t.Fatalf("link wrote project.json from a malicious answer")
					}
				}
			}
			if r.exit == 0 || !regexp.MustCompile(c.want).MatchString(r.stderr) {
				t.Fatalf("want a refusal matching /%s/, got\n%s", c.want, r)
			}
			if strings.Contains(r.stdout, "capy-redeem-") || strings.Contains(r.stdout, "capy-deploy-") {
				t.Fatalf("a code was printed for a malformed id:\n%s", r)
			}
			noLeak(t, r.stderr)
			noTraversal(t, s, mark, root)
		})
	}
}
