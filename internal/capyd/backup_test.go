package capyd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/postgres"
	"github.com/capy-oss/capy/internal/store/sqlite"
)

var testPepper = bytes.Repeat([]byte{5}, 32)

// team is an org with three members, a project and two environments,
// written through the store API.
type team struct {
	org   string
	toks  []store.TokenHash // owner first
	users []string
	envs  []string
}

func newTeam(t *testing.T, ctx context.Context, st store.Store) team {
	t.Helper()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	var tm team
	login := func(addr string) {
		_, err := st.CreateLoginCode(ctx, addr, "12345678", 0)
		must("CreateLoginCode", err)
		u, err := st.VerifyLoginCode(ctx, addr, "12345678")
		must("VerifyLoginCode", err)
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		tok := store.HashToken(raw)
		_, err = st.CreateSession(ctx, u.ID, tok, "laptop")
		must("CreateSession", err)
		tm.toks, tm.users = append(tm.toks, tok), append(tm.users, u.ID)
	}
	login("owner@example.com")
	tm.org = ident.NewID(ident.Org)
	_, _, err := st.CreateOrg(ctx, tm.toks[0], store.NewOrg{ID: tm.org, Name: "Acme", KeyCheck: strings.Repeat("0f", 16)})
	must("CreateOrg", err)
	for i := range 2 {
		addr := fmt.Sprintf("member%d@example.com", i)
		inv, _, err := st.CreateInvite(ctx, tm.toks[0], store.NewInvite{ID: ident.NewID(ident.Invite), OrgID: tm.org, Email: addr,
			Kind: store.InviteMember, Role: store.RoleMember, ExpiresAt: time.Now().Add(time.Hour), Blob: []byte("\x01\x00\x00\x00\x01invite")})
		must("CreateInvite", err)
		login(addr)
		_, err = st.Redeem(ctx, tm.toks[i+1], inv.ID, nil)
		must("Redeem", err)
		_, err = st.Wrap(ctx, tm.toks[i+1], tm.org, tm.users[i+1])
		must("Wrap", err)
	}
	prj := ident.NewID(ident.Project)
	_, err = st.CreateProject(ctx, tm.toks[0], store.NewProject{ID: prj, OrgID: tm.org, Name: "web"})
	must("CreateProject", err)
	for _, name := range []string{"development", "production"} {
		e, err := st.CreateEnv(ctx, tm.toks[0], store.NewEnv{ID: ident.NewID(ident.Env), OrgID: tm.org, ProjectID: prj, Name: name, SigningKey: make([]byte, 32)})
		must("CreateEnv", err)
		tm.envs = append(tm.envs, e.ID)
	}
	return tm
}

// pushed is a version a pusher was told was stored.
type pushed struct {
	env     string
	version int64
	id      string
}

// TestBackupUnderLoad: `capyd backup` runs while members push and
// co-decrypt (each an audit row) through the store on the same SQLite
// file. Everything acknowledged before the backup started is in it; it
// holds a consistent snapshot (every stored version has its push row,
// every head its version) and nothing that was never written; its chain
// verifies; restore-check passes it; and a store opened on it in a new
// data directory, as capyd serves a restored backup, serves all of it.
func TestBackupUnderLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	live, err := sqlite.Open(ctx, filepath.Join(dataDir, "capyd.db"), store.Config{CodePepper: testPepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	tm := newTeam(t, ctx, live)

	var (
		started  atomic.Bool // set just before the backup starts
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		mu       sync.Mutex
		before   []pushed            // acknowledged before the backup started
		all      = map[string]bool{} // every acknowledged version id
		heads    []store.AuditHead   // audit heads handed out before the backup started
		after    atomic.Int64        // operations acknowledged once it had started
		failures []error
	)
	record := func(p *pushed, hd store.AuditHead, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if !errors.Is(err, store.ErrConflict) {
				failures = append(failures, err)
			}
			return
		}
		if p != nil {
			all[p.id] = true
		}
		if started.Load() {
			after.Add(1)
			return
		}
		if p != nil {
			before = append(before, *p)
		}
		heads = append(heads, hd)
	}
	// Two pushers per environment (they race for each version: conflicts
	// are part of the load), and co-decrypts by every member.
	for i, env := range append(tm.envs, tm.envs...) {
		tok := tm.toks[i%len(tm.toks)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				e, h, err := live.GetEnvHead(ctx, tok, env)
				if err != nil {
					record(nil, store.AuditHead{}, err)
					return
				}
				parent := store.FirstParent
				if h != nil {
					parent = h.ID
				}
				blob := make([]byte, 16<<10)
				_, _ = rand.Read(blob)
				sum := sha256.Sum256(blob)
				v := store.NewVersion{Version: e.HeadVersion + 1, Epoch: e.Epoch, ID: hex.EncodeToString(sum[:]), ParentID: parent, Blob: blob}
				_, hd, err := live.Push(ctx, tok, env, v)
				record(&pushed{env: env, version: v.Version, id: v.ID}, hd, err)
			}
		}()
	}
	for i, tok := range tm.toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				g, err := live.AuthorizeCoDecrypt(ctx, tok, tm.org, tm.users[i])
				record(nil, g.Audit, err)
			}
		}()
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				close(stop)
				wg.Wait()
				t.Fatalf("waiting for %s: %v", what, ctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitFor("40 pushes", func() bool { mu.Lock(); defer mu.Unlock(); return len(before) >= 40 })

	to := filepath.Join(t.TempDir(), "backup.db")
	var out, errb bytes.Buffer
	started.Store(true)
	code := run([]string{"capyd", "backup", "--data-dir", dataDir, "--to", to}, &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)})
	waitFor("writes after the backup", func() bool { return after.Load() >= 20 })
	close(stop)
	wg.Wait()
	if code != 0 {
		t.Fatalf("capyd backup: exit %d: %s", code, errb.String())
	}
	if len(failures) > 0 {
		t.Fatalf("the load failed: %v", failures)
	}
	if st, err := os.Stat(to); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the backup: %v, %v", st, err)
	}
	t.Logf("%d pushes and %d audit heads before the backup, %d operations after it started", len(before), len(heads), after.Load())

	// restore-check passes it.
	var check bytes.Buffer
	if code := run([]string{"capyd", "restore-check", to}, &env{stdout: &check, stderr: &errb, signals: make(chan os.Signal)}); code != 0 {
		t.Fatalf("restore-check: exit %d: %s\n%s", code, check.String(), errb.String())
	}

	// Restore: the backup as the database of a new data directory.
	restoredDir := t.TempDir()
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restoredDir, "capyd.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	restored, err := sqlite.Open(ctx, filepath.Join(restoredDir, "capyd.db"), store.Config{CodePepper: testPepper, AutoMigrate: true})
	if err != nil {
		t.Fatalf("open the restored database: %v", err)
	}
	defer restored.Close()
	owner := tm.toks[0]

	// Every version acknowledged before the backup is there, byte for
	// byte as acknowledged (its id is the SHA-256 of its blob).
	for _, p := range before {
		v, err := restored.GetVersion(ctx, owner, p.env, p.version)
		if err != nil || v.ID != p.id {
			t.Fatalf("version %d of %s acknowledged before the backup: %+v, %v", p.version, p.env, v.ID, err)
		}
		if sum := sha256.Sum256(v.Blob); hex.EncodeToString(sum[:]) != p.id {
			t.Fatalf("version %d of %s: the blob does not match its id", p.version, p.env)
		}
	}
	// Every audit head handed out before the backup is in its chain.
	evs, hd, err := restored.ListAudit(ctx, owner, tm.org, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for hd.Seq > int64(len(evs)) {
		more, _, err := restored.ListAudit(ctx, owner, tm.org, int64(len(evs)), 0)
		if err != nil || len(more) == 0 {
			t.Fatalf("ListAudit after %d: %v", len(evs), err)
		}
		evs = append(evs, more...)
	}
	for _, h := range heads {
		if h.Seq < 1 || h.Seq > int64(len(evs)) || evs[h.Seq-1].Hash != h.Hash {
			t.Fatalf("audit head #%d handed out before the backup is not in the restored chain (%d rows)", h.Seq, len(evs))
		}
	}
	if v, err := restored.AuditStatus(ctx, tm.org); err != nil || !v.Valid {
		t.Fatalf("the restored chain: %+v, %v", v, err)
	}
	// One snapshot: each environment's head is its newest stored version,
	// every stored version was acknowledged and has its push row.
	pushRows := map[string]bool{}
	for _, e := range evs {
		if e.Action == store.ActionPush {
			pushRows[e.Target] = true
		}
	}
	for _, envID := range tm.envs {
		e, err := restored.GetEnv(ctx, owner, envID)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := restored.ListVersions(ctx, owner, envID)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) == 0 || vs[0].Version != e.HeadVersion || vs[0].ID != e.HeadID || int64(len(vs)) != e.HeadVersion {
			t.Fatalf("%s: head %d %s, %d versions stored", envID, e.HeadVersion, e.HeadID, len(vs))
		}
		for _, v := range vs {
			if !all[v.ID] {
				t.Fatalf("%s version %d in the backup was never acknowledged", envID, v.Version)
			}
			if !pushRows[fmt.Sprintf("%s version=%d id=%s", envID, v.Version, v.ID)] {
				t.Fatalf("%s version %d is in the backup without its push row", envID, v.Version)
			}
		}
	}
	// The restored service takes the same sessions and goes on.
	if _, err := restored.AuthorizeCoDecrypt(ctx, tm.toks[1], tm.org, tm.users[1]); err != nil {
		t.Fatalf("a co-decrypt on the restored database: %v", err)
	}
}

// TestBackupPostgresRecipe: `capyd backup` on PostgreSQL refuses and
// prints the pg_dump recipe (never the URL's password); the recipe
// works: pg_dump of a live database, pg_restore into a new one, and
// restore-check of that database passes.
func TestBackupPostgresRecipe(t *testing.T) {
	db := pgURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, db, store.Config{CodePepper: testPepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tm := newTeam(t, ctx, st)

	var out, errb bytes.Buffer
	withPassword := strings.Replace(db, "postgres://", "postgres://capy:s3cret@", 1)
	if strings.Contains(db, "@") {
		withPassword = db
	}
	to := filepath.Join(t.TempDir(), "x.dump")
	code := run([]string{"capyd", "backup", "--database", withPassword, "--to", to}, &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)})
	if code != ExitError || out.Len() != 0 {
		t.Fatalf("capyd backup on PostgreSQL: exit %d, stdout %q", code, out.String())
	}
	for _, want := range []string{
		"capyd: error: capyd backup copies SQLite databases; this capyd uses PostgreSQL",
		`capyd: hint:   pg_dump --format=custom --file=capyd-$(date +%Y%m%d-%H%M%S).dump "$CAPYD_DATABASE"`,
		"pg_restore --exit-on-error --no-owner --dbname=capyd_restored",
		"capyd restore-check",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("the recipe lacks %q:\n%s", want, errb.String())
		}
	}
	if strings.Contains(errb.String(), "s3cret") {
		t.Error("the recipe repeats the database password")
	}
	if _, err := os.Stat(to); err == nil {
		t.Error("a PostgreSQL backup wrote a file")
	}

	// The recipe, followed.
	pgDump, err1 := exec.LookPath("pg_dump")
	pgRestore, err2 := exec.LookPath("pg_restore")
	if err1 != nil || err2 != nil {
		t.Skipf("pg_dump or pg_restore not on PATH: the recipe is not run (%v, %v)", err1, err2)
	}
	dump := filepath.Join(t.TempDir(), "capyd.dump")
	if b, err := exec.CommandContext(ctx, pgDump, "--format=custom", "--file="+dump, db).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, b)
	}
	target := pgURL(t)
	if b, err := exec.CommandContext(ctx, pgRestore, "--exit-on-error", "--no-owner", "--dbname="+target, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, b)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"capyd", "restore-check", "--json", "--database", target}, &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)}); code != 0 {
		t.Fatalf("restore-check of the restored database: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{`"kind": "postgres"`, `"problems": []`, `"id": "` + tm.org + `"`, `"env_versions": 0`, `"users": 3`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("restore-check --json lacks %s:\n%s", want, out.String())
		}
	}
}

// TestRestoreCheckDamagedIndex: a backup whose index disagrees with its
// table (one key byte of memberships_user_id changed on disk) has the right
// row counts and sound audit chains, so only SQLite's own structure check
// can see it: restore-check must report it and exit 1.
func TestRestoreCheckDamagedIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dataDir := t.TempDir()
	live, err := sqlite.Open(ctx, filepath.Join(dataDir, "capyd.db"), store.Config{CodePepper: testPepper, AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	tm := newTeam(t, ctx, live)
	live.Close()
	to := filepath.Join(t.TempDir(), "backup.db")
	var out, errb bytes.Buffer
	if code := run([]string{"capyd", "backup", "--data-dir", dataDir, "--to", to}, &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)}); code != 0 {
		t.Fatalf("capyd backup: exit %d: %s", code, errb.String())
	}
	check := func() (int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"capyd", "restore-check", to}, &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)})
		return code, out.String() + errb.String()
	}
	if code, text := check(); code != 0 || !strings.Contains(text, "structure check: ok") {
		t.Fatalf("restore-check of a sound backup: exit %d\n%s", code, text)
	}

	// Where the index's root page is (a leaf: three memberships fit in it).
	db, err := sql.Open("sqlite", to)
	if err != nil {
		t.Fatal(err)
	}
	var root int64
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = 'memberships_user_id'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(to)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int64(b[16])<<8 | int64(b[17])
	if pageSize == 1 {
		pageSize = 65536
	}
	page := b[(root-1)*pageSize : root*pageSize]
	i := bytes.Index(page, []byte(tm.users[0]))
	if i < 0 {
		t.Fatalf("user %s not found in the index page %d", tm.users[0], root)
	}
	last := i + len(tm.users[0]) - 1
	page[last] ^= 0x01 // another character of the id alphabet's neighbourhood: still a valid text
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, text := check()
	if code != 1 || !strings.Contains(text, "structure check: damaged") || !strings.Contains(text, "memberships_user_id") {
		t.Fatalf("restore-check of a backup with a damaged index: exit %d\n%s", code, text)
	}
}
