package abuse

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

// rewriteAnswer rewrites the JSON answer of every successful POST whose
// path ends with suffix: f gets the request and the answer's fields.
func (s *service) rewriteAnswer(suffix string, f func(r *http.Request, m map[string]json.RawMessage)) modifier {
	return func(r *http.Request, status int, body []byte) []byte {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, suffix) || status/100 != 2 {
			return body
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return body
		}
		f(r, m)
		out, _ := json.Marshal(m)
		return out
	}
}

func b64Field(t *testing.T, m map[string]json.RawMessage, key string) []byte {
	var text string
	if err := json.Unmarshal(m[key], &text); err != nil {
		t.Errorf("field %s of the answer: %v", key, err)
		return nil
	}
	b, err := wrap.DecodeB64(text)
	if err != nil {
		t.Errorf("field %s of the answer: %v", key, err)
	}
	return b
}

func b64JSON(b []byte) json.RawMessage {
	out, _ := json.Marshal(wrap.B64.EncodeToString(b))
	return out
}

// keyEncFiles lists the key.enc files under a capy home (of every
// service).
func keyEncFiles(t *testing.T, home string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(home, "services", "*", "orgs", "*", "users", "*", "key.enc"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// orgDir is where a capy home keeps an org's files for one service
// (canonical URL): docs/cli.md §1.2.
func orgDir(home, service, org string) string {
	sum := sha256.Sum256([]byte(service))
	return filepath.Join(home, "services", hex.EncodeToString(sum[:16]), "orgs", org)
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// padding has the length of a sealed box's overhead and starts like one,
// so a blob of header + inner layer + padding has the length and version
// bytes of an honest wrap.
var padding = append([]byte{wrap.SealVersion}, bytes.Repeat([]byte{0x5a}, wrap.SealOverhead-1)...)

// keyEncAnswer is one way the malicious service answers for key.enc: it
// gets a genuine outer blob (for its header) and the inner layer, and
// returns the blob the client is handed instead of a wrap of it.
type keyEncAnswer struct {
	name string
	blob func(outer, inner []byte) []byte
	msg  string // what the error says (regexp)
}

var keyEncAnswers = []keyEncAnswer{
	{"three bytes", func(_, _ []byte) []byte { return []byte{1, 2, 3} }, "has 3 bytes"},
	{"the inner layer itself", func(_, inner []byte) []byte { return inner }, "bytes, a wrap of this inner layer has"},
	{"header, inner layer, padding (an honest wrap's length)", func(outer, inner []byte) []byte {
		return bytes.Join([][]byte{outer[:5], inner, padding}, nil)
	}, "in the clear"},
	{"a well-formed wrap one byte too long", func(outer, _ []byte) []byte { return append(bytes.Clone(outer), 0) }, "bytes, a wrap of this inner layer has"},
}

// TestMaliciousRewrap: a co-decrypt answer's `rewrapped` (the blob that
// replaces key.enc after a KEK rotation) that cannot be a wrap of the
// inner layer the answer returned is refused: exit 1 `tampered`, no
// value printed, key.enc byte-identical. An honest re-wrap still
// replaces it, and the new key.enc works.
func TestMaliciousRewrap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	files := keyEncFiles(t, a.home)
	if len(files) != 1 {
		t.Fatalf("key.enc: %v", files)
	}
	keyEnc := files[0]
	userID := filepath.Base(filepath.Dir(keyEnc))
	old := readBytes(t, keyEnc)
	for _, c := range keyEncAnswers {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = w.s.t }()
			w.s.setModify(w.s.rewriteAnswer("/co-decrypt", func(_ *http.Request, m map[string]json.RawMessage) {
				m["rewrapped"] = b64JSON(c.blob(old, b64Field(t, m, "inner")))
			}))
			defer w.s.setModify(nil)
			before := a.snapshotFiles(".env", ".capy/state.json")
			r := a.capy("--json", "get", "A")
			if r.exit != 1 || r.code() != "tampered" || !regexp.MustCompile(`key\.enc.*`+c.msg).MatchString(r.stderr) || strings.Contains(r.stdout, "alpha") {
				t.Fatalf("want exit 1, tampered /%s/, no value; got\n%s", c.msg, r)
			}
			if got := readBytes(t, keyEnc); !bytes.Equal(got, old) {
				t.Fatalf("key.enc changed: %x", got)
			}
			a.unchangedFiles(before, "get after a refused re-wrap")
		})
	}
	// An honest re-wrap in an answer whose audit head is refused: key.enc
	// is replaced only from an answer accepted whole.
	w.s.setModify(w.s.rewriteAnswer("/co-decrypt", func(_ *http.Request, m map[string]json.RawMessage) {
		b, err := w.s.kr.Wrap(w.proj.Org, wrap.PurposeKey, userID, b64Field(t, m, "inner"))
		if err != nil {
			t.Error(err)
		}
		m["rewrapped"] = b64JSON(b)
		m["audit_head"] = json.RawMessage(`{"seq":9007199254740991,"hash":"` + strings.Repeat("a", 64) + `"}`)
	}))
	if r := a.capy("--json", "get", "A"); r.exit != 1 || r.code() != "tampered" || strings.Contains(r.stdout, "alpha") {
		t.Fatalf("honest re-wrap, impossible audit head: %s", r)
	}
	w.s.setModify(nil)
	if got := readBytes(t, keyEnc); !bytes.Equal(got, old) {
		t.Fatal("key.enc was replaced from an answer whose audit head was refused")
	}

	// An honest re-wrap (the service's own wrap of the same inner layer)
	// replaces key.enc, and the new one opens through the service.
	var rewrapped []byte
	w.s.setModify(w.s.rewriteAnswer("/co-decrypt", func(_ *http.Request, m map[string]json.RawMessage) {
		b, err := w.s.kr.Wrap(w.proj.Org, wrap.PurposeKey, userID, b64Field(t, m, "inner"))
		if err != nil {
			t.Error(err)
		}
		rewrapped = b
		m["rewrapped"] = b64JSON(b)
	}))
	if got := a.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("A = %q", got)
	}
	w.s.setModify(nil)
	if got := readBytes(t, keyEnc); !bytes.Equal(got, rewrapped) || bytes.Equal(got, old) {
		t.Fatal("an honest re-wrap did not replace key.enc")
	}
	if got := a.ok("get", "B").stdout; got != "bravo\n" {
		t.Fatalf("B = %q with the re-wrapped key.enc", got)
	}
}

// TestMaliciousWrapAnswer: the answer of POST …/wrap (what becomes
// key.enc) during `capy recover`, `capy redeem` and `capy init` is
// refused unless it can be a wrap of the inner layer sent: exit 1
// `tampered`, no success line, an existing key.enc byte-identical and
// none written where there was none. (The service's own wrap used up the
// invite, as an honest one would have: the invitee needs a new code.)
func TestMaliciousWrapAnswer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	keyEnc := keyEncFiles(t, a.home)[0]
	old := readBytes(t, keyEnc)
	// The service's wrap consumes the invite, so every redeem needs one.
	invitee := func(i int) (*person, string) {
		p := w.s.person("bob" + strconv.Itoa(i) + "@example.com")
		p.login()
		return p, strings.TrimSpace(a.ok("invite", "--role", "member", p.email).stdout)
	}
	laptop := w.s.person(a.email) // alice's second machine, with no key.enc
	laptop.login()
	carol := w.s.person("carol@example.com")
	carol.login()
	carol.write(".env", "X=1\n")

	refused := func(t *testing.T, r result, msg, success string) {
		t.Helper()
		if r.exit != 1 || r.code() != "tampered" || !regexp.MustCompile(`key\.enc.*`+msg).MatchString(r.stderr) ||
			strings.Contains(r.stderr+r.stdout, success) {
			t.Fatalf("want exit 1, tampered /%s/, no %q; got\n%s", msg, success, r)
		}
	}
	for i, c := range keyEncAnswers {
		bob, code := invitee(i)
		t.Run(c.name, func(t *testing.T) {
			for _, p := range []*person{a, bob, laptop, carol} {
				p.t = t
				defer func(p *person) { p.t = w.s.t }(p)
			}
			w.s.setModify(w.s.rewriteAnswer("/wrap", func(r *http.Request, m map[string]json.RawMessage) {
				var req struct {
					Inner string `json:"inner"`
				}
				if err := json.Unmarshal(w.s.requestBody(r), &req); err != nil {
					t.Errorf("wrap request: %v", err)
				}
				inner, err := wrap.DecodeB64(req.Inner)
				if err != nil {
					t.Errorf("wrap request: %v", err)
				}
				m["outer"] = b64JSON(c.blob(b64Field(t, m, "outer"), inner))
			}))
			defer w.s.setModify(nil)

			refused(t, a.capyStdin(w.phrase+"\n", "--json", "recover"), c.msg, "holds the key")
			if got := readBytes(t, keyEnc); !bytes.Equal(got, old) {
				t.Fatalf("recover replaced key.enc: %x", got)
			}
			refused(t, laptop.capyStdin(w.phrase+"\n", "--json", "recover", "--org", w.proj.Org), c.msg, "holds the key")
			refused(t, bob.capyStdin(code+"\n", "--json", "redeem", "--yes", "-"), c.msg, "joined")
			before := carol.snapshotFiles(".env", ".capy/project.json", ".gitignore")
			refused(t, carol.capy("--json", "init", "--yes", "--new-org", "Evil", "--project", "evil"), c.msg, "created organisation")
			carol.unchangedFiles(before, "a refused init")
			for _, p := range []*person{laptop, bob, carol} {
				if files := keyEncFiles(t, p.home); len(files) != 0 {
					t.Fatalf("%s: key.enc written: %v", p.email, files)
				}
			}
		})
	}
	// With an honest answer each of them works: nothing was left behind
	// that stands in the way.
	laptop.okStdin(w.phrase+"\n", "recover", "--org", w.proj.Org)
	carol.ok("init", "--yes", "--new-org", "Fine", "--project", "fine")
	bob, code := invitee(len(keyEncAnswers))
	bob.okStdin(code+"\n", "redeem", "--yes", "-")
	w.clone(bob)
	bob.ok("sync")
	if got := bob.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("bob's A = %q", got)
	}
}

// auditHead is one head as an answer names it.
type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// TestMaliciousAuditHead: one forged audit head no longer disables fork
// detection. A co-decrypt or push answer naming position 2^53-1 is
// refused (`tampered`) and not recorded; a later answer that rewrites the
// hash of a position this machine was shown (the newest, or an older one)
// is `audit-fork`; and `capy audit --verify` still passes against the
// honest log, since nothing forged was kept. A forged head close enough
// to be plausible is kept, and `capy audit --verify` names it as past
// the end of the log. (The heads alice was shown are taken from the
// answers on their way to her, not from her audit_head.json.)
func TestMaliciousAuditHead(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	headFile := filepath.Join(orgDir(a.home, w.s.url, w.proj.Org), "audit_head.json")
	recorded := func() uint64 {
		var h auditHead
		if err := json.Unmarshal(readBytes(t, headFile), &h); err != nil {
			t.Fatal(err)
		}
		return h.Seq
	}
	other := strings.Repeat("ab", 32)
	setHead := func(suffix string, seq uint64, hash string) {
		w.s.setModify(w.s.rewriteAnswer(suffix, func(_ *http.Request, m map[string]json.RawMessage) {
			m["audit_head"], _ = json.Marshal(auditHead{seq, hash})
		}))
	}
	// shown runs honest commands and returns the heads their answers
	// named, in order.
	shown := func(suffix string, runs int, run func() result) []auditHead {
		var mu sync.Mutex
		var heads []auditHead
		w.s.setModify(w.s.rewriteAnswer(suffix, func(_ *http.Request, m map[string]json.RawMessage) {
			var h auditHead
			if err := json.Unmarshal(m["audit_head"], &h); err != nil || h.Seq == 0 {
				t.Errorf("audit_head of an answer: %s", m["audit_head"])
			}
			mu.Lock()
			heads = append(heads, h)
			mu.Unlock()
		}))
		defer w.s.setModify(nil)
		for range runs {
			if r := run(); r.exit != 0 {
				t.Fatalf("%s", r)
			}
		}
		return heads
	}
	const maxSeq = 1<<53 - 1
	// Each set pushes a new value, so that every run has a push answer.
	pushes := 0
	value := func() string { pushes++; return "echo" + strconv.Itoa(pushes) }
	for _, step := range []struct {
		name, suffix string
		run          func() result
	}{
		{"co-decrypt", "/co-decrypt", func() result { return a.capy("--json", "get", "A") }},
		{"push", "/versions", func() result { return a.capyStdin(value(), "--json", "set", "E") }},
	} {
		t.Run(step.name, func(t *testing.T) {
			a.t = t
			defer func() { a.t = w.s.t }()
			defer w.s.setModify(nil)
			heads := shown(step.suffix, 2, step.run)
			if len(heads) != 2 || heads[0].Seq >= heads[1].Seq {
				t.Fatalf("heads shown: %+v", heads)
			}
			before := readBytes(t, headFile)
			setHead(step.suffix, maxSeq, other)
			if r := step.run(); r.exit != 1 || r.code() != "tampered" || !strings.Contains(r.stderr, "audit position that cannot be right") {
				t.Fatalf("head at 2^53-1: want exit 1, tampered; got\n%s", r)
			}
			if step.name == "co-decrypt" && !bytes.Equal(readBytes(t, headFile), before) {
				t.Fatalf("a refused head changed audit_head.json:\n%s", readBytes(t, headFile))
			}
			if recorded() == maxSeq {
				t.Fatal("the forged head was recorded")
			}
			for _, at := range []auditHead{heads[1], heads[0]} {
				// A refused push answer comes after the push: the next
				// set starts from a synced file.
				w.s.setModify(nil)
				a.ok("sync")
				setHead(step.suffix, at.Seq, other)
				if r := step.run(); r.exit != 1 || r.code() != "audit-fork" {
					t.Fatalf("hash of #%d rewritten: want exit 1, audit-fork; got\n%s", at.Seq, r)
				}
			}
			w.s.setModify(nil)
			a.ok("sync")
			a.ok("audit", "--verify")
		})
	}
	if got, want := a.ok("get", "E").stdout, "echo"+strconv.Itoa(pushes)+"\n"; got != want {
		t.Fatalf("E = %q after the refused push answers", got)
	}

	forged := recorded() + 1000
	setHead("/co-decrypt", forged, other)
	a.ok("get", "A")
	w.s.setModify(nil)
	r := a.capy("--json", "audit", "--verify")
	if r.exit != 1 || r.code() != "audit-broken" || !strings.Contains(r.stderr, "named entry #"+strconv.FormatUint(forged, 10)) {
		t.Fatalf("audit --verify with a forged plausible head: want audit-broken naming #%d; got\n%s", forged, r)
	}
}
