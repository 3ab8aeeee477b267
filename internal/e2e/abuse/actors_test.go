package abuse

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// ciCheckout is a CI runner's checkout (project.json only) with a deploy
// code in its environment.
func (w *world) ciCheckout(code string) *person {
	ci := w.s.person("ci@example.com")
	w.clone(ci)
	ci.env = append(ci.env, "CAPY_DEPLOY_CODE="+code)
	return ci
}

// TestMaliciousServiceCI: the head inside a deploy decrypt answer is
// verified against the key pinned in project.json: a tampered, spliced or
// EK-signed head is refused by `capy ci` and by `capy run --pull` with a
// deploy code, and nothing is written (no .env, no key file). An answer
// naming another org or environment than the code is refused too.
func TestMaliciousServiceCI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	f := w.forger("development")
	code := lastLine(w.alice.ok("deploy", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	ran := filepath.Join(t.TempDir(), "ran")
	for _, c := range tamperCases {
		switch c.name {
		case "tampered snippet", "spliced line from another environment", "truncated blob", "dropped line",
			"duplicated line", "signed with a key derived from EK alone", "version claimed differs from the manifest", "one name twice",
			"lines out of order", "another environment's genuine head":
		default:
			continue // need history a fresh runner does not have
		}
		w.s.setModify(rewriteHeads(w.envID("development"), c.rewrite(w, f)))
		for _, args := range [][]string{{"ci"}, {"run", "--pull", "--", "touch", ran}} {
			r := ci.capy(append([]string{"--json"}, args...)...)
			if r.exit != 1 || r.code() != c.code || !strings.Contains(r.stderr, strings.Split(c.message, "|")[0]) {
				t.Fatalf("%s, %v: want %s /%s/, got\n%s", c.name, args, c.code, c.message, r)
			}
			for _, f := range []string{".env", ".capy/decrypt", ".capy/state.json"} {
				if _, err := os.Stat(ci.path(f)); err == nil {
					t.Fatalf("%s, %v: %s was written", c.name, args, f)
				}
			}
			if _, err := os.Stat(ran); err == nil {
				t.Fatalf("%s: the command ran", c.name)
			}
		}
	}
	for field, value := range map[string]string{"org": "org_aaaaaaaaaaaaaaaaaaaaaaaaaa", "project": "prj_aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		w.s.setModify(rewriteJSON("POST", `^/v1/deploys/`, func(m map[string]any) { m[field] = value }))
		r := ci.capy("--json", "ci")
		if r.exit != 4 || r.code() != "code-mismatch" {
			t.Fatalf("deploy answer with another %s: %s", field, r)
		}
	}
	w.s.setModify(rewriteJSON("POST", `^/v1/deploys/`, func(m map[string]any) { obj(m, "env")["id"] = w.envID("production") }))
	if r := ci.capy("--json", "ci"); r.exit != 4 || r.code() != "code-mismatch" {
		t.Fatalf("deploy answer for another environment: %s", r)
	}
	w.s.setModify(nil)
	ci.ok("ci")
	if got := ci.ok("run", "--", "sh", "-c", `printf %s "$D"`).stdout; got != "delta" {
		t.Fatalf("CI read D = %q", got)
	}
}

// TestRollbackLimits pins the documented limit: a machine that has never
// seen a newer version (a fresh clone, a CI runner) cannot tell an older
// genuine version from the newest. Once it has seen the newer one, the
// same rollback is refused.
func TestRollbackLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	v1 := w.genuine("development", 1)
	rollback := rewriteHeads(w.envID("development"), func(string, uint64) (string, uint64) { return v1, 1 })
	code := lastLine(w.alice.ok("deploy", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")

	w.s.setModify(rollback)
	// LIMIT: a fresh clone accepts version 1 (no D)...
	bob.ok("sync")
	if r := bob.capy("get", "D"); r.exit != 1 || !strings.Contains(r.stderr, "not set") {
		t.Fatalf("fresh clone under rollback: %s", r)
	}
	// ... and so does a CI runner.
	ci.ok("ci")
	if r := ci.capy("get", "D"); r.exit != 1 {
		t.Fatalf("CI under rollback: %s", r)
	}
	w.s.setModify(nil)
	// The honest head moves both forward.
	bob.ok("sync")
	if got := bob.ok("get", "D").stdout; got != "delta\n" {
		t.Fatalf("bob after the rollback ended: %q", got)
	}
	// Now bob has seen v2: the same rollback is refused, and changes nothing.
	w.s.setModify(rollback)
	before := bob.snapshotFiles(".env", ".capy/state.json")
	if r := bob.capy("--json", "sync"); r.exit != 1 || r.code() != "tampered" {
		t.Fatalf("rollback after seeing v2: %s", r)
	}
	bob.unchangedFiles(before, "a refused rollback")
	w.s.setModify(nil)
}

// TestLeakedDeployCode: a deploy code reads one environment until it is
// revoked; a replayed decrypt after the revoke is refused (exit 4) by
// `capy ci` and by `capy run --pull`. LIMIT: a key file the runner
// already wrote keeps decrypting the ciphertext it has until the
// environment is rotated; after `capy env rotate`, it opens nothing new.
// It can never write.
func TestLeakedDeployCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	code := lastLine(a.ok("deploy", "--name", "ci").stdout)
	ci := w.ciCheckout(code)
	ci.ok("ci")
	keyLine := ci.read(".capy/decrypt")
	// A CI key cannot write: not with a sync, not with set.
	ci.write(".env", replaceValue(ci.read(".env"), "A", "ci-evil"))
	if r := ci.capy("--json", "sync"); r.exit != 4 || r.code() != "read-only" {
		t.Fatalf("CI sync of a change: %s", r)
	}
	ci.write(".env", replaceValue(ci.read(".env"), "A", envLine(t, a.read(".env"), "A")))

	dep := strings.Fields(lastLine(a.ok("deploy", "ls").stdout))[0]
	a.ok("deploy", "revoke", dep)
	before := ci.snapshotFiles(".env", ".capy/decrypt", ".capy/state.json")
	if r := ci.capy("--json", "ci"); r.exit != 4 || r.code() != "deploy-revoked" {
		t.Fatalf("replayed deploy decrypt after revoke: %s", r)
	}
	os.Rename(ci.path(".capy/decrypt"), ci.path("decrypt.kept"))
	if r := ci.capy("--json", "run", "--pull", "--", "true"); r.exit != 4 || r.code() != "deploy-revoked" {
		t.Fatalf("run --pull with a revoked code: %s", r)
	}
	os.Rename(ci.path("decrypt.kept"), ci.path(".capy/decrypt"))
	ci.unchangedFiles(before, "refused deploy decrypts")
	// LIMIT: the key file already written still opens the .env it has.
	if got := ci.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("key file after revoke: %q", got)
	}
	// After a rotation, new values are out of its reach.
	a.ok("env", "rotate", "--yes", "development")
	a.okStdin("after-rotate", "set", "NEW")
	head, err := w.s.apiClient(a.token()).Head(context.Background(), w.proj.Org, w.proj.Project, w.envID("development"))
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keys.ParseEnvKeyFile(keyLine)
	if err != nil {
		t.Fatal(err)
	}
	b, err := wrap.ParseBlob([]byte(head.Text))
	if err != nil || b.Epoch != 2 {
		t.Fatalf("head after rotate: epoch %d %v", b.Epoch, err)
	}
	old := kf.Key.Cipher(kf.EnvID, 1)
	for _, s := range b.Snippets {
		if _, _, _, err := old.OpenAny(s); err == nil {
			t.Fatal("the old environment key opens a snippet of the new epoch")
		}
	}
	ci.env = []string{"CAPY_KEY=" + keyLine}
	ci.write(".env", "NEW="+b.Snippets[0]+"\n")
	if r := ci.capy("get", "NEW"); r.exit != 1 || strings.Contains(r.stdout, "after-rotate") {
		t.Fatalf("old key on the new epoch: %s", r)
	}
}

// TestKickedMember: after a kick the member's next command is refused
// (exit 4), even for snippets already in their .env, since every unlock
// asks the service; key.enc is left as it was, inert. LIMIT: a member who
// kept M (any member could, while a member) still reads ciphertext they
// obtain elsewhere, even after `capy env rotate`: only a new seed
// (`capy rotate`, not yet built) and rotating the real credentials help.
func TestKickedMember(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")
	bob.ok("sync")
	keyEnc := keyEncFiles(t, bob.home)
	kept, _ := os.ReadFile(keyEnc[0])
	a.ok("kick", "--yes", bob.email)
	for _, args := range [][]string{{"get", "A"}, {"get", "--pull", "A"}, {"sync"}, {"run", "--", "true"}, {"export"},
		{"invite", "eve@example.com"}, {"device", "add"}, {"deploy"}, {"members"}} {
		before := bob.snapshotFiles(".env", ".capy/state.json")
		r := bob.capy(append([]string{"--json"}, args...)...)
		if r.exit != 4 || r.code() != "membership-revoked" || strings.Contains(r.stdout, "alpha") {
			t.Fatalf("kicked member %v: %s", args, r)
		}
		bob.unchangedFiles(before, "a kicked member's command")
	}
	if now, _ := os.ReadFile(keyEnc[0]); !bytes.Equal(now, kept) {
		t.Fatal("key.enc changed")
	}
	// Recover with the phrase is refused too: the service wraps only for
	// active members.
	if r := bob.capyStdin(w.phrase+"\n", "--json", "recover"); r.exit != 4 {
		t.Fatalf("recover after kick: %s", r)
	}
	// LIMIT: M kept from before the kick.
	a.ok("env", "rotate", "--yes", "development")
	a.okStdin("after-kick", "set", "SECRET")
	head, err := w.s.apiClient(a.token()).Head(context.Background(), w.proj.Org, w.proj.Project, w.envID("development"))
	if err != nil {
		t.Fatal(err)
	}
	f := w.forger("development")
	ek := f.pk.EnvKey(w.proj.Project, w.envID("development"), 2)
	c := ek.Cipher(w.envID("development"), 2)
	b, _ := wrap.ParseBlob([]byte(head.Text))
	found := false
	for _, s := range b.Snippets {
		if name, v, _, err := c.OpenAny(s); err == nil && name == "SECRET" && v == "after-kick" {
			found = true
		}
	}
	if !found {
		t.Fatal("the documented limit no longer holds: M no longer reads a rotated environment (update docs/threat-model.md)")
	}
}

// TestStolenLaptop: whoever has an unlocked laptop (home and repository
// copied as they are) reads everything, until the session is revoked
// (then 401) or the member kicked (then 403). key.enc copied to another
// machine, without that machine's device.key, opens nothing.
func TestStolenLaptop(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	thief := w.s.person(a.email)
	copyTree(t, a.home, thief.home)
	copyTree(t, a.dir, thief.dir)
	// LIMIT: the laptop as it is reads.
	if got := thief.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("stolen laptop: %q", got)
	}
	// key.enc and the session, but another device key: nothing opens.
	other := w.s.person(a.email)
	copyTree(t, a.home, other.home)
	copyTree(t, a.dir, other.dir)
	os.WriteFile(filepath.Join(other.home, "device.key"), randBytes(32), 0o600)
	if r := other.capy("--json", "get", "A"); r.exit != 1 || !strings.Contains(r.stderr, "device key") {
		t.Fatalf("key.enc on another device: %s", r)
	}
	// Alice, from another machine, revokes the stolen session.
	ctx := context.Background()
	alice2 := w.s.apiLogin(a.email)
	sessions, err := alice2.Sessions(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	stolen := thief.token()
	for _, s := range sessions.Items {
		if !s.Current {
			if err := alice2.RevokeSession(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := thief.capy("--json", "get", "A")
	if r.exit != 1 || r.code() != string(api.PUnauthenticated) || strings.Contains(r.stdout, "alpha") {
		t.Fatalf("stolen laptop after the session was revoked: %s", r)
	}
	// The token itself is dead on every route.
	resp, body := w.s.send(t, stolen, call{"GET", "/v1/auth/me", ""})
	if problemSlug(t, resp, body) != api.PUnauthenticated {
		t.Fatalf("revoked token: %s", body)
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, fi.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(to, 0o700)
}

// TestDatabaseAndKEKThief: everything the service stores (the SQLite
// database and its WAL) and logs, after init, values, an invite, a
// redeem, a deploy code and a CI run, holds no plaintext value, no key of
// the hierarchy (M, PK, EK, signing seed), no device secret, no session
// token, no login code and no invite or deploy token. With the KEK as
// well, a stored invite opens to an inner blob that still needs T and the
// e-mail.
func TestDatabaseAndKEKThief(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	redeem := strings.TrimSpace(a.ok("invite", "bob@example.com").stdout)
	rc, err := wrap.ParseRedeemCode(redeem)
	if err != nil {
		t.Fatal(err)
	}
	deploy := lastLine(a.ok("deploy", "--name", "ci").stdout)
	dc, err := wrap.ParseDeployCode(deploy)
	if err != nil {
		t.Fatal(err)
	}
	ci := w.ciCheckout(deploy)
	ci.ok("ci")
	carol := w.s.person("carol@example.com")
	w.clone(carol)
	w.join(carol, "admin")
	carol.ok("sync")

	canon, _ := keys.ParsePhrase(w.phrase)
	m, _ := keys.MasterKeyFromPhrase(canon)
	pk := w.projectKey()
	secrets := map[string][]byte{"M": m[:], "PK": pk[:], "invite T": rc.Token[:], "deploy DT": dc.Token[:],
		"phrase": []byte(canon), "redeem code": []byte(redeem), "deploy code": []byte(deploy)}
	for _, env := range []string{"development", "production"} {
		ek := pk.EnvKey(w.proj.Project, w.envID(env), 1)
		secrets["EK "+env] = bytes.Clone(ek[:])
		secrets["signing seed "+env] = pk.SigningKey(w.envID(env), 1).Seed()
	}
	for _, p := range []*person{a, carol} {
		d, _ := os.ReadFile(filepath.Join(p.home, "device.key"))
		secrets["device key of "+p.email] = d
		tok := p.token()
		secrets["session token of "+p.email] = []byte(tok)
		raw, _ := wrap.DecodeB64(strings.TrimPrefix(tok, "capys_"))
		secrets["raw session token of "+p.email] = raw
	}
	ekLine := ci.read(".capy/decrypt")
	secrets["CI key file"] = []byte(strings.Fields(ekLine)[4])
	for _, v := range []string{"alpha", "bravo", "charlie", "delta", "papa"} {
		secrets["value "+v] = []byte(v)
	}
	w.s.mail.mu.Lock()
	for i, msg := range w.s.mail.msgs {
		secrets["login code "+string(rune('a'+i))] = []byte(msg.Code)
	}
	w.s.mail.mu.Unlock()

	var stored []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, _ := os.ReadFile(w.s.dbPath + suffix)
		stored = append(stored, b...)
	}
	stored = append(stored, []byte(w.s.logs.String())...)
	// Control: this is the service's storage (it names the org and holds
	// the snippets of the head).
	head := lines(w.genuine("development", 2))
	if !bytes.Contains(stored, []byte(w.proj.Org)) || !bytes.Contains(stored, []byte(head[len(head)-1])) {
		t.Fatalf("the scanned bytes (%d) are not the service's storage", len(stored))
	}
	for name, s := range secrets {
		if len(s) < 4 {
			t.Fatalf("secret %s is empty", name)
		}
		if bytes.Contains(stored, s) || bytes.Contains(stored, []byte(hex.EncodeToString(s))) ||
			bytes.Contains(stored, []byte(wrap.B64.EncodeToString(s))) {
			t.Fatalf("the service's storage or log holds %s", name)
		}
	}
	// With the KEK: the invite's outer blob opens to the inner blob, which
	// is M sealed under a key from T and the e-mail: still closed.
	db, err := sql.Open("sqlite", "file:"+w.s.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var outer []byte
	if err := db.QueryRow(`SELECT blob FROM invites WHERE id = ?`, rc.InviteID).Scan(&outer); err != nil {
		t.Fatal(err)
	}
	inner, _, err := w.s.kr.Unwrap(w.proj.Org, "invite", rc.InviteID, outer)
	if err != nil {
		t.Fatalf("the KEK does not open the stored invite: %v", err)
	}
	if bytes.Contains(inner, m[:]) {
		t.Fatal("the inner invite blob holds M in the clear")
	}
	var guess keys.InviteToken
	if _, err := guess.OpenMaster(inner, w.proj.Org, "bob@example.com"); err == nil {
		t.Fatal("the inner invite blob opens without T")
	}
	t2 := keys.InviteToken(rc.Token)
	if got, err := t2.OpenMaster(inner, w.proj.Org, "bob@example.com"); err != nil || got != m {
		t.Fatalf("control: T and the e-mail open it: %v", err)
	}
	if _, err := t2.OpenMaster(inner, w.proj.Org, "mallory@example.com"); err == nil {
		t.Fatal("the inner invite blob opens with T and another e-mail")
	}
}

// TestMetadataVisibleToService pins a documented limit: the service
// cannot read values, but it sees their sizes, who changed the
// environment and when, and (because an unchanged value keeps its
// snippet) which variable a version changed.
func TestMetadataVisibleToService(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	a.okStdin("short", "set", "SMALL")
	a.okStdin(strings.Repeat("x", 3000), "set", "BIG")
	v3, v4 := lines(w.genuine("development", 3)), lines(w.genuine("development", 4))
	longest := 0
	for _, l := range v4[2:] {
		longest = max(longest, len(l))
	}
	if longest < 4000 {
		t.Fatalf("the limit no longer holds: a 3000-byte value's snippet is %d characters (update docs/threat-model.md)", longest)
	}
	shared := 0
	for _, l := range v3[2:] {
		for _, m := range v4[2:] {
			if l == m {
				shared++
			}
		}
	}
	if shared != len(v3)-2 || len(v4)-2 != shared+1 {
		t.Fatalf("the limit no longer holds: v4 shares %d of v3's %d snippets (update docs/threat-model.md)", shared, len(v3)-2)
	}
	list, err := w.s.apiClient(a.token()).Versions(context.Background(), w.proj.Org, w.proj.Project, w.envID("development"), "", 0)
	if err != nil || list.Items[0].CreatedBy.Email != a.email || list.Items[0].CreatedAt.IsZero() {
		t.Fatalf("versions %+v %v", list, err)
	}
}

// TestPullRecordsSeen: `get`, `run` and `export --pull` record the version
// they verified as seen (state.json's seen_version; the base stays), so a
// later rollback below it is refused like after a sync. (This closed the
// limit "a rollback below a version read only with --pull is accepted".)
func TestPullRecordsSeen(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")
	bob.ok("sync")
	dev := w.envID("development")
	v2 := w.genuine("development", 2)
	for i, args := range [][]string{{"get", "--pull", "E"}, {"export", "--pull"}, {"run", "--pull", "--", "true"}} {
		bob.okStdin(fmt.Sprintf("echo%d", i), "set", "E") // v3, v4, v5
		version, _ := w.headNow("development")
		a.ok(args...)
		var st struct {
			Environments map[string]struct {
				BaseVersion uint64 `json:"base_version"`
				SeenVersion uint64 `json:"seen_version"`
			} `json:"environments"`
		}
		if err := json.Unmarshal([]byte(a.read(".capy/state.json")), &st); err != nil {
			t.Fatal(err)
		}
		if e := st.Environments[dev]; e.SeenVersion != version || e.BaseVersion != 2 {
			t.Fatalf("%v: state.json records seen v%d, base v%d; want seen v%d, base v2", args, e.SeenVersion, e.BaseVersion, version)
		}
		w.s.setModify(rewriteHeads(dev, func(string, uint64) (string, uint64) { return v2, 2 }))
		before := a.snapshotFiles(".env", ".capy/state.json")
		if r := a.capy("--json", "sync"); r.exit != 1 || r.code() != "tampered" || !strings.Contains(r.stderr, "older version than this machine has already seen") {
			t.Fatalf("%v, then a rollback to v2: %s", args, r)
		}
		a.unchangedFiles(before, "a refused rollback")
		w.s.setModify(nil)
	}
	a.ok("sync")
	if got := a.ok("get", "E").stdout; got != "echo2\n" {
		t.Fatalf("E = %q after the honest sync", got)
	}
}
