package envsync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// memRemote is an in-memory service for unit tests of the loop's logic;
// the loop runs against the real capyd in the CLI's end-to-end tests.
type memRemote struct {
	mu       sync.Mutex
	versions []string // index = version - 1
	onPush   func()   // called before a push is applied (to simulate a race)
	tamper   func(v uint64, text string) string
}

func (m *memRemote) Head(context.Context) (*RemoteBlob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.versions) == 0 {
		return nil, nil
	}
	v := uint64(len(m.versions))
	text := m.versions[v-1]
	if m.tamper != nil {
		text = m.tamper(v, text)
	}
	return &RemoteBlob{Version: v, Text: text}, nil
}

func (m *memRemote) Version(_ context.Context, v uint64) (*RemoteBlob, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if v == 0 || v > uint64(len(m.versions)) {
		return nil, errors.New("no such version")
	}
	return &RemoteBlob{Version: v, Text: m.versions[v-1]}, nil
}

func (m *memRemote) Push(_ context.Context, text string) error {
	if m.onPush != nil {
		f := m.onPush
		m.onPush = nil
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := wrap.ParseBlob([]byte(text))
	if err != nil {
		return err
	}
	want := uint64(len(m.versions)) + 1
	parent := wrap.NoParent
	if len(m.versions) > 0 {
		parent = wrap.BlobID([]byte(m.versions[len(m.versions)-1]))
	}
	if b.Version != want || b.Parent != parent {
		return ErrVersionConflict
	}
	m.versions = append(m.versions, text)
	return nil
}

const (
	org = "org_abcdefghijklmnopqrstuvwxyz"
	prj = "prj_234567abcdefghijklmnopqrst"
	env = "env_zyxwvutsrqponmlkjihgfedcba"
)

func memberKeys(t *testing.T) *MemberKeys {
	t.Helper()
	m, err := keys.MasterKeyFromPhrase("abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art")
	if err != nil {
		t.Fatal(err)
	}
	return &MemberKeys{PK: m.ProjectKey(org, prj), ProjectID: prj, EnvID: env}
}

type machine struct {
	t     *testing.T
	file  string
	state State
	kr    EnvKeys
	r     Remote
}

func newMachine(t *testing.T, r Remote, kr EnvKeys, content string) *machine {
	t.Helper()
	file := filepath.Join(t.TempDir(), ".env")
	if content != "" {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return &machine{t: t, file: file, kr: kr, r: r}
}

func (m *machine) sync(prefer Prefer) (*Report, error) {
	rep, err := Sync(context.Background(), m.r, m.kr,
		Env{ProjectID: prj, EnvID: env, File: plainFile(m.file), PinnedEpoch: 1, State: m.state},
		Options{Prefer: prefer, Backoff: func(int) time.Duration { return 0 }})
	if err == nil {
		m.state = rep.State
	}
	return rep, err
}

// mustSync syncs and fails the test on an error.
func (m *machine) mustSync() {
	m.t.Helper()
	if _, err := m.sync(PreferNone); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) read() string {
	data, _ := os.ReadFile(m.file)
	return string(data)
}

func (m *machine) values() map[string]string {
	c, _ := m.kr.Cipher(1)
	lf, err := ReadLocal(plainFile(m.file), c)
	if err != nil {
		m.t.Fatal(err)
	}
	out := map[string]string{}
	for n, v := range lf.Side.Values {
		out[n] = v.Text
	}
	return out
}

func TestFirstSyncEncryptsEverythingAndKeepsLayout(t *testing.T) {
	r := &memRemote{}
	a := newMachine(t, r, memberKeys(t), "# database\nDB_URL=postgres://x\n\nexport API_KEY='lit${X}' # key\n")
	rep, err := a.sync(PreferNone)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pushed || rep.Version != 1 || !rep.FileChanged {
		t.Fatalf("report %+v", rep)
	}
	out := a.read()
	for _, plain := range []string{"postgres://x", "lit${X}"} {
		if strings.Contains(out, plain) {
			t.Fatalf("plaintext %q left in file:\n%s", plain, out)
		}
	}
	for _, kept := range []string{"# database\n", "\n\nexport API_KEY=", " # key\n"} {
		if !strings.Contains(out, kept) {
			t.Fatalf("layout %q lost:\n%s", kept, out)
		}
	}
	doc, _ := envfile.Parse([]byte(out))
	c, _ := a.kr.Cipher(1)
	e, _ := doc.Get("API_KEY")
	if v, lit, err := c.Open("API_KEY", e.Value); err != nil || v != "lit${X}" || !lit {
		t.Fatalf("literal value round trip: %q %v %v", v, lit, err)
	}
	// A second sync changes nothing and pushes nothing.
	before := a.read()
	rep, err = a.sync(PreferNone)
	if err != nil || rep.Pushed || rep.FileChanged || a.read() != before {
		t.Fatalf("no-op sync: %+v %v", rep, err)
	}
}

func TestTwoMachinesMergeAndConflict(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "A=1\nB=2\n")
	a.mustSync()
	b := newMachine(t, r, kr, "")
	b.mustSync()
	if v := b.values(); v["A"] != "1" || v["B"] != "2" {
		t.Fatalf("bob pulled %v", v)
	}
	// Bob pastes plaintext over a snippet; alice adds a name.
	os.WriteFile(b.file, []byte(strings.Replace(b.read(), b.rawLine("B"), "B=bobs", 1)), 0o600)
	os.WriteFile(a.file, []byte(a.read()+"C=3\n"), 0o600)
	b.mustSync()
	a.mustSync()
	if v := a.values(); v["B"] != "bobs" || v["C"] != "3" || v["A"] != "1" {
		t.Fatalf("alice after merge %v", v)
	}
	// Both change A differently: bob first, then alice conflicts and her
	// file stays byte-identical.
	b.sync(PreferNone)
	os.WriteFile(b.file, []byte(strings.Replace(b.read(), b.rawLine("A"), "A=bob", 1)), 0o600)
	os.WriteFile(a.file, []byte(strings.Replace(a.read(), a.rawLine("A"), "A=alice", 1)), 0o600)
	b.mustSync()
	before := a.read()
	_, err := a.sync(PreferNone)
	var ce *ConflictError
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Name != "A" || !errors.Is(err, ErrConflicts) {
		t.Fatalf("want conflict on A, got %v", err)
	}
	if a.read() != before {
		t.Fatal("conflicting sync changed the file")
	}
	if _, err := a.sync(PreferLocal); err != nil {
		t.Fatal(err)
	}
	b.sync(PreferNone)
	if v := b.values(); v["A"] != "alice" {
		t.Fatalf("prefer local did not win: %v", v)
	}
}

func (m *machine) rawLine(name string) string {
	for _, l := range strings.Split(m.read(), "\n") {
		if strings.HasPrefix(l, name+"=") {
			return l
		}
	}
	m.t.Fatalf("no line for %s", name)
	return ""
}

func TestPushRaceRetries(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "A=1\n")
	a.sync(PreferNone)
	b := newMachine(t, r, kr, "")
	b.sync(PreferNone)
	os.WriteFile(a.file, []byte(a.read()+"X=from-a\n"), 0o600)
	os.WriteFile(b.file, []byte(b.read()+"Y=from-b\n"), 0o600)
	// Bob pushes while alice is between pull and push.
	r.onPush = func() {
		if _, err := b.sync(PreferNone); err != nil {
			t.Error(err)
		}
	}
	rep, err := a.sync(PreferNone)
	if err != nil || rep.Retries != 1 {
		t.Fatalf("retry: %+v %v", rep, err)
	}
	if v := a.values(); v["X"] != "from-a" || v["Y"] != "from-b" {
		t.Fatalf("after retry %v", v)
	}
}

func TestTamperedRemoteIsRejected(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "A=1\nB=2\n")
	a.sync(PreferNone)
	os.WriteFile(a.file, []byte(a.read()+"C=3\n"), 0o600)
	a.sync(PreferNone) // version 2
	// Drop a line: the signature breaks.
	r.tamper = func(v uint64, text string) string {
		lines := strings.Split(text, "\n")
		return strings.Join(append(lines[:2], lines[3:]...), "\n")
	}
	before := a.read()
	if _, err := a.sync(PreferNone); !errors.Is(err, wrap.ErrBadSignature) {
		t.Fatalf("dropped line: %v", err)
	}
	// Roll back to version 1 (a genuine older version).
	r.tamper = nil
	r.versions = r.versions[:1]
	if _, err := a.sync(PreferNone); !errors.Is(err, wrap.ErrRollback) {
		t.Fatalf("rollback: %v", err)
	}
	if a.read() != before {
		t.Fatal("a rejected pull changed the file")
	}
}

func TestCIKeysCannotWrite(t *testing.T) {
	r := &memRemote{}
	mk := memberKeys(t)
	a := newMachine(t, r, mk, "A=1\n")
	a.sync(PreferNone)
	ci := &CIKeys{EK: mk.PK.EnvKey(prj, env, 1), EnvID: env, Epoch: 1, Pinned: mk.PK.SigningPublicKey(env, 1)}
	c := newMachine(t, r, ci, "")
	if _, err := c.sync(PreferNone); err != nil {
		t.Fatalf("CI pull: %v", err)
	}
	if v := c.values(); v["A"] != "1" {
		t.Fatalf("CI read %v", v)
	}
	os.WriteFile(c.file, []byte(c.read()+"EVIL=1\n"), 0o600)
	if _, err := c.sync(PreferNone); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("CI push: %v", err)
	}
	// A blob signed with a key derived from EK alone is refused by members.
	ek := mk.PK.EnvKey(prj, env, 1)
	fake := ed25519FromEK(ek)
	s, _ := ek.Cipher(env, 1).Seal("EVIL", "1", false)
	head, _ := r.Head(context.Background())
	hb, _ := wrap.ParseBlob([]byte(head.Text))
	nb, _ := wrap.BuildBlob(fake, prj, env, 1, hb.Version+1, hb.ID(), append(hb.Snippets, s))
	r.versions = append(r.versions, string(nb.Raw()))
	if _, err := a.sync(PreferNone); !errors.Is(err, wrap.ErrBadSignature) {
		t.Fatalf("EK-signed blob accepted: %v", err)
	}
}

func TestMissingFilePullsInsteadOfDeleting(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "A=1\nB=2\n")
	a.mustSync()
	os.Remove(a.file)
	rep, err := a.sync(PreferNone)
	if err != nil || rep.Pushed {
		t.Fatalf("sync after rm .env: pushed=%v err=%v", rep != nil && rep.Pushed, err)
	}
	if v := a.values(); v["A"] != "1" || v["B"] != "2" {
		t.Fatalf("values after rm .env: %v", v)
	}
	// An empty file is an explicit deletion of everything.
	os.WriteFile(a.file, nil, 0o600)
	if rep, err := a.sync(PreferNone); err != nil || !rep.Pushed {
		t.Fatalf("emptied file: %+v %v", rep, err)
	}
	b := newMachine(t, r, kr, "")
	b.sync(PreferNone)
	if v := b.values(); len(v) != 0 {
		t.Fatalf("after emptying: %v", v)
	}
}

// failingRemote answers every request with an error.
type failingRemote struct{ err error }

func (f failingRemote) Head(context.Context) (*RemoteBlob, error)            { return nil, f.err }
func (f failingRemote) Version(context.Context, uint64) (*RemoteBlob, error) { return nil, f.err }
func (f failingRemote) Push(context.Context, string) error                   { return f.err }

// The local file is read while the head is fetched; when both fail, the
// error is the local file's, as when it was read first.
func TestLocalErrorComesFirst(t *testing.T) {
	offline := errors.New("service unreachable")
	m := newMachine(t, failingRemote{offline}, memberKeys(t), "A=1\nA=2\n") // a name twice
	_, err := m.sync(PreferNone)
	if err == nil || errors.Is(err, offline) || !strings.Contains(err.Error(), "A") {
		t.Fatalf("error = %v, want the local file's (A defined twice)", err)
	}
	m = newMachine(t, failingRemote{offline}, memberKeys(t), "A=1\n")
	if _, err := m.sync(PreferNone); !errors.Is(err, offline) {
		t.Fatalf("error = %v, want the service's", err)
	}
	if m.read() != "A=1\n" {
		t.Errorf("file changed: %q", m.read())
	}
}

// headAsVersion answers every request by number with the head: what a
// malicious service did to turn a member's older values into apparent
// local edits.
type headAsVersion struct{ *memRemote }

func (h headAsVersion) Version(ctx context.Context, _ uint64) (*RemoteBlob, error) {
	return h.Head(ctx)
}

// TestBaseMustBeTheVersionAskedFor: machine a synced v1; b pushes a new B
// (v2). When a asks for its base (v1) and gets the head instead, the sync
// is refused and pushes nothing: the merge would otherwise see a's old B
// as a local edit and push it back over b's change.
func TestBaseMustBeTheVersionAskedFor(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "A=1\nB=2\n")
	a.mustSync()
	b := newMachine(t, r, kr, "")
	b.mustSync()
	os.WriteFile(b.file, []byte("A=1\nB=rotated\n"), 0o600)
	b.mustSync()
	a.r = headAsVersion{r}
	before := a.read()
	if _, err := a.sync(PreferNone); !errors.Is(err, wrap.ErrNotRequested) {
		t.Fatalf("head served as the base: %v, want ErrNotRequested", err)
	}
	if len(r.versions) != 2 || a.read() != before {
		t.Fatalf("a refused sync pushed (%d versions) or rewrote the file", len(r.versions))
	}
	a.r = r
	a.mustSync()
	if got := a.values()["B"]; got != "rotated" {
		t.Fatalf("B = %q after an honest sync, want b's rotation", got)
	}
}

// TestStateCheck: a state.json record no sync writes is refused before it
// can switch off a check (an empty id disables the fork checks).
func TestStateCheck(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, c := range []struct {
		st State
		ok bool
	}{
		{State{}, true},
		{State{Epoch: 1}, true},
		{State{BaseVersion: 2, BaseID: id, SeenVersion: 2, SeenID: id}, true},
		{State{BaseVersion: 1, BaseID: id, SeenVersion: 3, SeenID: id}, true},
		{State{BaseVersion: 2, SeenVersion: 2, SeenID: id}, false},
		{State{BaseVersion: 2, BaseID: id, SeenVersion: 2}, false},
		{State{BaseVersion: 2, BaseID: "ABAB", SeenVersion: 2, SeenID: id}, false},
		{State{BaseVersion: 3, BaseID: id, SeenVersion: 2, SeenID: id}, false},
		{State{BaseID: id}, false},
		{State{SeenID: id}, false},
	} {
		if err := c.st.Check(); (err == nil) != c.ok || err != nil && !errors.Is(err, ErrBadState) {
			t.Errorf("%+v: Check() = %v, want ok=%v", c.st, err, c.ok)
		}
	}
	// A damaged state stops a sync before it reads the head.
	r := &memRemote{}
	m := newMachine(t, r, memberKeys(t), "A=1\n")
	m.state = State{SeenVersion: 5}
	if _, err := m.sync(PreferNone); !errors.Is(err, ErrBadState) {
		t.Fatalf("sync with a damaged state: %v", err)
	}
}

// TestRetryAfterPushMergesAgainstWhatWasPushed: a sync pushes the member's
// edit (X=1) together with a teammate's change (Y), then finds that the
// file changed under it (the member saved X=2 meanwhile). The retry must
// take what it pushed as the member's side of the base: X=2 is a new local
// edit (not a conflict with the member's own X=1), and Y, which the file
// still lacks, is not reverted.
func TestRetryAfterPushMergesAgainstWhatWasPushed(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	a := newMachine(t, r, kr, "X=0\nY=0\n")
	a.mustSync()
	b := newMachine(t, r, kr, "")
	b.mustSync()
	os.WriteFile(b.file, []byte("X=0\nY=teammate\n"), 0o600)
	b.mustSync()
	os.WriteFile(a.file, []byte("X=1\nY=0\n"), 0o600)
	r.onPush = func() { os.WriteFile(a.file, []byte("X=2\nY=0\n"), 0o600) }
	rep, err := a.sync(PreferNone)
	if err != nil {
		t.Fatalf("sync with the file changed after its push: %v", err)
	}
	if rep.Retries == 0 {
		t.Fatal("the file change was not noticed (no retry)")
	}
	if got := a.values(); got["X"] != "2" || got["Y"] != "teammate" {
		t.Fatalf("after the retry: %v, want X=2 (the newest edit) and Y=teammate", got)
	}
	b.mustSync()
	if got := b.values(); got["X"] != "2" || got["Y"] != "teammate" {
		t.Fatalf("the service holds %v", got)
	}
}

// refusingReplacements returns a sync of the machine's file rewritten to
// content, with CheckReplacement on and a Confirm that records what it
// was asked in *asked and refuses with the returned error.
func (m *machine) refusingReplacements(t *testing.T, asked **Replacement) (syncWith func(content string) error, no error) {
	t.Helper()
	no = errors.New("no")
	opt := Options{CheckReplacement: true, Backoff: func(int) time.Duration { return 0 },
		Confirm: func(rp Replacement) error { *asked = &rp; return no }}
	return func(content string) error {
		if err := os.WriteFile(m.file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Sync(context.Background(), m.r, m.kr, Env{ProjectID: prj, EnvID: env, File: plainFile(m.file), PinnedEpoch: 1, State: m.state}, opt)
		return err
	}, no
}

// TestReplacementCheck: with CheckReplacement (the file changed outside
// capy), a sync that would delete names, or put plaintext in place of
// every snippet, asks Confirm first and changes nothing when it says no;
// edits of values alone do not ask.
func TestReplacementCheck(t *testing.T) {
	r := &memRemote{}
	kr := memberKeys(t)
	m := newMachine(t, r, kr, "A=1\nB=2\nC=3\n")
	m.mustSync()
	var asked *Replacement
	syncWith, no := m.refusingReplacements(t, &asked)
	snippets := m.read()
	c1, _ := kr.Cipher(1)
	copied, err := c1.Seal("B", "9", false) // a snippet made elsewhere (an old copy, a branch)
	if err != nil {
		t.Fatal(err)
	}
	var withCopied []string
	for _, l := range strings.SplitAfter(snippets, "\n") {
		if strings.HasPrefix(l, "B=") {
			l = "B=" + copied + "\n"
		}
		withCopied = append(withCopied, l)
	}
	for _, c := range []struct {
		content string
		want    *Replacement
	}{
		{"HTTPS_PROXY=evil\n", &Replacement{Removed: []string{"A", "B", "C"}, Added: []string{"HTTPS_PROXY"}, NoSnippets: true}},
		{"A=1\nB=9\nC=3\n", &Replacement{Changed: []string{"B"}, NoSnippets: true}},
		{strings.Replace(snippets, "B=", "#B=", 1), &Replacement{Removed: []string{"B"}}},
		{strings.Join(withCopied, ""), &Replacement{Changed: []string{"B"}, CopiedSnippets: true}},
	} {
		asked = nil
		if err := syncWith(c.content); !errors.Is(err, no) {
			t.Fatalf("%q: %v, want the refusal", c.content, err)
		}
		if asked == nil || fmt.Sprint(*asked) != fmt.Sprint(*c.want) {
			t.Fatalf("%q: asked %+v, want %+v", c.content, asked, c.want)
		}
		if len(r.versions) != 1 || m.read() != c.content {
			t.Fatalf("%q: a refused sync pushed or rewrote the file", c.content)
		}
	}
	asked = nil
	if err := syncWith(strings.Replace(snippets, "\n", "\nD=4\n", 1)); err != nil || asked != nil {
		t.Fatalf("adding a value: %v, asked %+v", err, asked)
	}
}
