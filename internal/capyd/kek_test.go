package capyd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/storeopen"
	"github.com/capy-oss/capy/internal/wrap"
)

// runCapyd runs capyd in-process and returns its exit status and output.
func runCapyd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"capyd"}, args...), &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)})
	return code, out.String(), errb.String()
}

// kekWorld is a database with one org, an invite and a deploy token whose
// outer blobs were made under KEK 1, and a key file rotated to KEK 2.
type kekWorld struct {
	st      store.Store
	kr      *kekring.Ring // KEKs 1 and 2
	dataDir string
	db      string
	tok     store.TokenHash
	org     string
	inv     string
	dep     string
	ver     []byte
}

func newKEKWorld(t *testing.T, db string) *kekWorld {
	t.Helper()
	w := &kekWorld{dataDir: t.TempDir(), db: db}
	if w.db == "" {
		w.db = filepath.Join(w.dataDir, "capyd.db")
	}
	ctx := context.Background()
	st, err := storeopen.Open(ctx, w.db, store.Config{CodePepper: bytes.Repeat([]byte{7}, 32), AutoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	kr1, err := kekring.LoadOrCreate(filepath.Join(w.dataDir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = st.CreateLoginCode(ctx, "owner@example.com", "12345678", 0)
	must(err)
	u, err := st.VerifyLoginCode(ctx, "owner@example.com", "12345678")
	must(err)
	w.tok = store.HashToken(bytes.Repeat([]byte{1}, 32))
	_, err = st.CreateSession(ctx, u.ID, w.tok, "laptop")
	must(err)
	w.org = ident.NewID(ident.Org)
	_, _, err = st.CreateOrg(ctx, w.tok, store.NewOrg{ID: w.org, Name: "Acme", KeyCheck: strings.Repeat("ab", 16)})
	must(err)
	prj := ident.NewID(ident.Project)
	_, err = st.CreateProject(ctx, w.tok, store.NewProject{ID: prj, OrgID: w.org, Name: "web"})
	must(err)
	envID := ident.NewID(ident.Env)
	_, err = st.CreateEnv(ctx, w.tok, store.NewEnv{ID: envID, OrgID: w.org, ProjectID: prj, Name: "prod", SigningKey: bytes.Repeat([]byte{2}, 32)})
	must(err)
	inner := bytes.Repeat([]byte{3}, 61)
	w.inv = ident.NewID(ident.Invite)
	blob, err := kr1.Wrap(w.org, wrap.PurposeInvite, w.inv, inner)
	must(err)
	_, _, err = st.CreateInvite(ctx, w.tok, store.NewInvite{ID: w.inv, OrgID: w.org, Email: "bob@example.com", Kind: store.InviteMember,
		Role: store.RoleMember, ExpiresAt: time.Now().Add(time.Hour), Blob: blob})
	must(err)
	w.dep = ident.NewID(ident.Deploy)
	blob, err = kr1.Wrap(w.org, wrap.PurposeDeploy, w.dep, inner)
	must(err)
	sum := sha256.Sum256([]byte("auth key"))
	w.ver = sum[:]
	_, _, err = st.CreateDeploy(ctx, w.tok, store.NewDeploy{ID: w.dep, OrgID: w.org, EnvID: envID, Name: "ci", Epoch: 1, Verifier: w.ver, Blob: blob})
	must(err)
	// `capyd kek rotate`: KEK 2 is the primary from now on.
	code, out, errs := runCapyd(t, "kek", "rotate", "--data-dir", w.dataDir)
	if code != 0 || out != "2\n" {
		t.Fatalf("kek rotate: %d %q %s", code, out, errs)
	}
	if w.kr, err = kekring.Load(filepath.Join(w.dataDir, "kek")); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestKEKRetire: `capyd kek retire ID` refuses while a stored invite or
// deploy token is still under KEK ID and says how many, refuses the
// primary and ids the file lacks, and otherwise drops the key from the
// file (atomically, 0600) and prints the ids left.
func TestKEKRetire(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			db := ""
			if kind == "postgres" {
				db = pgURL(t)
			}
			w := newKEKWorld(t, db)
			kekFile := filepath.Join(w.dataDir, "kek")
			retire := func(id string) (int, string, string) {
				t.Helper()
				return runCapyd(t, "kek", "retire", "--data-dir", w.dataDir, "--database", w.db, id)
			}
			before, _ := os.ReadFile(kekFile)

			code, out, errs := retire("1")
			if code != ExitError || out != "" ||
				!strings.Contains(errs, "capyd: error: KEK 1 still opens 2 stored outer blobs (1 invite, 1 deploy token)") ||
				!strings.Contains(errs, "capyd: hint: each moves to the primary KEK 2 when it is used") {
				t.Fatalf("retire with blobs under KEK 1: %d %q\n%s", code, out, errs)
			}
			if after, _ := os.ReadFile(kekFile); !bytes.Equal(after, before) {
				t.Fatal("a refused retire changed the key file")
			}
			for _, c := range []struct{ id, want string }{
				{"2", "capyd: error: KEK 2 is the primary"},
				{"7", "capyd: error: there is no KEK 7 in " + kekFile},
			} {
				if code, _, errs := retire(c.id); code != ExitError || !strings.Contains(errs, c.want) {
					t.Fatalf("retire %s: %d\n%s", c.id, code, errs)
				}
			}
			if code, _, errs := retire("01"); code != ExitUsage || !strings.Contains(errs, `"01" is not a KEK id`) {
				t.Fatalf("retire 01: %d\n%s", code, errs)
			}
			if code, _, errs := runCapyd(t, "kek", "retire", "1", "--data-dir", w.dataDir); code != ExitUsage || !strings.Contains(errs, "flags go before the KEK id") {
				t.Fatalf("retire with flags after the id: %d\n%s", code, errs)
			}

			// The deploy token is used on a replica with the rotated keyring
			// (re-wrapped under KEK 2); the invite is revoked.
			ctx := context.Background()
			open := func(orgID string, blob []byte) ([]byte, error) {
				_, re, err := w.kr.Unwrap(orgID, wrap.PurposeDeploy, w.dep, blob)
				return re, err
			}
			if _, err := w.st.DeployDecrypt(ctx, w.dep, w.ver, open); err != nil {
				t.Fatal(err)
			}
			code, _, errs = retire("1")
			if code != ExitError || !strings.Contains(errs, "KEK 1 still opens 1 stored outer blob (1 invite, 0 deploy tokens)") {
				t.Fatalf("retire with the invite left: %d\n%s", code, errs)
			}
			if _, _, err := w.st.RevokeInvite(ctx, w.tok, w.org, w.inv); err != nil {
				t.Fatal(err)
			}

			// Nothing needs KEK 1 in the database any more: retired, with a
			// note about key.enc files.
			code, out, errs = retire("1")
			if code != ExitOK || out != "2 primary\n" || !strings.Contains(errs, "capyd: KEK 1 retired from "+kekFile) ||
				!strings.Contains(errs, "key.enc files are on their machines and cannot be counted") {
				t.Fatalf("retire: %d %q\n%s", code, out, errs)
			}
			kr, err := kekring.Load(kekFile)
			if err != nil || kr.Has(1) || !kr.Has(2) || kr.Primary() != 2 {
				t.Fatalf("key file after the retire: %v %v", kr, err)
			}
			// The deploy token still opens: it is under KEK 2.
			if _, err := w.st.DeployDecrypt(ctx, w.dep, w.ver, func(orgID string, blob []byte) ([]byte, error) {
				_, re, err := kr.Unwrap(orgID, wrap.PurposeDeploy, w.dep, blob)
				return re, err
			}); err != nil {
				t.Fatalf("deploy decrypt after the retire: %v", err)
			}
		})
	}
}

// TestKEKRetireEnv: with CAPYD_KEK there is no file to change; after the
// same checks capyd says which entry to drop.
func TestKEKRetireEnv(t *testing.T) {
	w := newKEKWorld(t, "")
	t.Setenv("CAPYD_KEK", strings.ReplaceAll(strings.TrimSpace(w.kr.Encode()), "\n", ";"))
	code, _, errs := runCapyd(t, "kek", "retire", "--data-dir", w.dataDir, "1")
	if code != ExitError || !strings.Contains(errs, "KEK 1 still opens 2 stored outer blobs") {
		t.Fatalf("retire with blobs: %d\n%s", code, errs)
	}
	ctx := context.Background()
	if _, _, err := w.st.RevokeInvite(ctx, w.tok, w.org, w.inv); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.st.RevokeDeploy(ctx, w.tok, w.org, w.dep); err != nil {
		t.Fatal(err)
	}
	code, _, errs = runCapyd(t, "kek", "retire", "--data-dir", w.dataDir, "1")
	if code != ExitUsage || !strings.Contains(errs, "capyd: error: CAPYD_KEK is set, so there is no key file to change") ||
		!strings.Contains(errs, "remove the entry 'capyd-kek 1 1 …' from CAPYD_KEK") || strings.Contains(errs, hexKey(w.kr)) {
		t.Fatalf("retire with CAPYD_KEK: %d\n%s", code, errs)
	}
	// A database that is not there is not created.
	empty := t.TempDir()
	code, _, errs = runCapyd(t, "kek", "retire", "--data-dir", empty, "1")
	if code != ExitUsage || !strings.Contains(errs, "no database at "+filepath.Join(empty, "capyd.db")) {
		t.Fatalf("retire without a database: %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(empty, "capyd.db")); err == nil {
		t.Fatal("retire created a database")
	}
}
