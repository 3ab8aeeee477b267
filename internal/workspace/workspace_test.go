package workspace

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/wrap"
)

const (
	org  = "org_abcdefghijklmnopqrstuvwxyz"
	prj  = "prj_234567abcdefghijklmnopqrst"
	env  = "env_zyxwvutsrqponmlkjihgfedcba"
	user = "usr_mnopqrstuvwxyz234567abcdef"
)

func home(t testing.TB) *Home {
	t.Helper()
	t.Setenv("CAPY_HOME", filepath.Join(t.TempDir(), "capyhome"))
	h, err := OpenHome()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mode(t *testing.T, p string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestHomeIsPrivate(t *testing.T) {
	h := home(t)
	if m := mode(t, h.Dir); m != 0o700 {
		t.Fatalf("home mode %04o", m)
	}
	os.Chmod(h.Dir, 0o755)
	if _, err := OpenHome(); !errors.Is(err, ErrInsecure) {
		t.Fatalf("world-readable home accepted: %v", err)
	}
}

func TestKeyEnc(t *testing.T) {
	h := home(t)
	o := h.Org(service, org)
	if _, err := o.ReadKeyEnc(user); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key.enc: %v", err)
	}
	if err := o.WriteKeyEnc(user, []byte("outer-1")); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteKeyEnc(user, []byte("outer-2")); err != nil {
		t.Fatal(err)
	}
	got, err := o.ReadKeyEnc(user)
	if err != nil || string(got) != "outer-2" {
		t.Fatalf("read back %q %v", got, err)
	}
	p := scopedPath(t, h, "users", user, "key.enc")
	if m := mode(t, p); m != 0o600 {
		t.Fatalf("key.enc mode %04o", m)
	}
	for d := filepath.Dir(p); d != h.Dir; d = filepath.Dir(d) {
		if m := mode(t, d); m != 0o700 {
			t.Fatalf("%s mode %04o", d, m)
		}
	}
	os.Chmod(p, 0o644)
	if _, err := o.ReadKeyEnc(user); err == nil {
		t.Fatal("group-readable key.enc accepted")
	}
	if err := h.Org(service, "../../etc").WriteKeyEnc(user, []byte("x")); err == nil {
		t.Fatal("path traversal in org id accepted")
	}
	if err := o.WriteKeyEnc("../../etc", []byte("x")); err == nil {
		t.Fatal("path traversal in user id accepted")
	}
}

func TestCredentials(t *testing.T) {
	h := home(t)
	svc := "https://capy.example.com"
	if _, ok, err := h.Credential(svc); ok || err != nil {
		t.Fatalf("empty credentials: %v %v", ok, err)
	}
	cred := Credential{Token: "capys_secret", Email: "a@example.com", UserID: user, SessionID: "ses_x"}
	if err := h.SetCredential(svc, cred); err != nil {
		t.Fatal(err)
	}
	got, ok, err := h.Credential(svc)
	if !ok || err != nil || got != cred {
		t.Fatalf("credential %v %v %v", got, ok, err)
	}
	if m := mode(t, h.credentialsPath()); m != 0o600 {
		t.Fatalf("credentials mode %04o", m)
	}
	if strings.Contains(cred.String(), "capys_secret") {
		t.Fatal("Credential.String leaks the token")
	}
	if err := h.SetCredential(svc, Credential{}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := h.Credential(svc); ok {
		t.Fatal("logout kept the credential")
	}
}

func testProject() Project {
	return Project{Version: 1, Service: "https://capy.example.com", Org: org, Project: prj,
		DefaultEnvironment: "development",
		Environments: map[string]EnvPin{"development": {ID: env, File: ".env", Epoch: 1,
			SigningKey: wrap.B64.EncodeToString(bytes.Repeat([]byte{7}, 32))}}}
}

func TestProjectRoundTripAndValidation(t *testing.T) {
	dir := t.TempDir()
	r := &Repo{Root: dir, Project: testProject()}
	if err := r.SaveProject(); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "a", "b")
	os.MkdirAll(sub, 0o755)
	found, err := FindRepo(sub)
	if err != nil || found.Root != dir || found.Project.Org != org {
		t.Fatalf("FindRepo: %+v %v", found, err)
	}
	if _, err := FindRepo(t.TempDir()); !errors.Is(err, ErrNoProject) {
		t.Fatalf("no project: %v", err)
	}
	bad := []func(p *Project){
		func(p *Project) { p.Service = "http://capy.example.com" },
		func(p *Project) { p.Org = "../x" },
		func(p *Project) {
			e := p.Environments["development"]
			e.File = "../../.bashrc"
			p.Environments["development"] = e
		},
		func(p *Project) {
			e := p.Environments["development"]
			e.File = "/etc/passwd"
			p.Environments["development"] = e
		},
		func(p *Project) {
			e := p.Environments["development"]
			e.File = ".capy/decrypt"
			p.Environments["development"] = e
		},
		func(p *Project) {
			e := p.Environments["development"]
			e.SigningKey = "short"
			p.Environments["development"] = e
		},
		func(p *Project) { p.DefaultEnvironment = "prod" },
		func(p *Project) { p.Version = 2 },
		// the personal layer: a clean path, never an environment's file
		// (it would be pushed there), never shared by two environments
		func(p *Project) {
			e := p.Environments["development"]
			e.Local = "../.env.local"
			p.Environments["development"] = e
		},
		func(p *Project) {
			e := p.Environments["development"]
			e.Local = e.File
			p.Environments["development"] = e
		},
		func(p *Project) {
			e := p.Environments["development"]
			p.Environments["local"] = EnvPin{ID: "env_bbbbbbbbbbbbbbbbbbbbbbbbbb", File: e.File + ".local", Epoch: 1, SigningKey: e.SigningKey}
		},
		func(p *Project) {
			e := p.Environments["development"]
			p.Environments["other"] = EnvPin{ID: "env_bbbbbbbbbbbbbbbbbbbbbbbbbb", File: ".env.other", Local: e.LocalFile(), Epoch: 1, SigningKey: e.SigningKey}
		},
	}
	good := testProject()
	e := good.Environments["development"]
	if e.LocalFile() != e.File+".local" {
		t.Fatalf("default local file %q", e.LocalFile())
	}
	e.Local = "secrets/mine.env"
	good.Environments["development"] = e
	if err := good.Validate(); err != nil || good.Environments["development"].LocalFile() != "secrets/mine.env" {
		t.Fatalf("a configured local file: %v", err)
	}
	for i, mutate := range bad {
		p := testProject()
		mutate(&p)
		if err := p.Validate(); err == nil {
			t.Errorf("bad project %d accepted", i)
		} else {
			t.Logf("bad project %d: %v", i, err)
		}
	}
}

func TestStateAndIgnore(t *testing.T) {
	dir := t.TempDir()
	r := &Repo{Root: dir, Project: testProject()}
	s, err := r.LoadState()
	if err != nil || len(s.Environments) != 0 {
		t.Fatalf("empty state: %v", err)
	}
	s.Current = "development"
	s.Environments[env] = EnvState{Epoch: 1, BaseVersion: 3, BaseID: "ab", SeenVersion: 4, SeenID: "cd"}
	if err := r.SaveState(s); err != nil {
		t.Fatal(err)
	}
	s2, err := r.LoadState()
	if err != nil || s2.Environments[env] != s.Environments[env] || s2.Current != "development" {
		t.Fatalf("state round trip: %+v %v", s2, err)
	}
	gi := filepath.Join(dir, ".gitignore")
	os.WriteFile(gi, []byte("node_modules"), 0o644)
	for i := 0; i < 2; i++ {
		if err := r.EnsureIgnored(".gitignore", []string{".env", ".capy/decrypt"}); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(gi)
	if string(data) != "node_modules\n# capy\n.env\n.capy/decrypt\n" {
		t.Fatalf(".gitignore = %q", data)
	}
	// A later environment's file joins the block (no second "# capy"),
	// and what follows the block stays after it.
	os.WriteFile(gi, []byte("node_modules\n# capy\n.env\n.capy/decrypt\n\ndist\n"), 0o644)
	if err := r.EnsureIgnored(".gitignore", []string{".env", ".env.production"}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(gi)
	if string(data) != "node_modules\n# capy\n.env\n.capy/decrypt\n.env.production\n\ndist\n" {
		t.Fatalf(".gitignore = %q", data)
	}
	os.WriteFile(gi, []byte("a\r\n# capy\r\n.env\r\n"), 0o644)
	if err := r.EnsureIgnored(".gitignore", []string{".env.staging"}); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(gi)
	if string(data) != "a\r\n# capy\r\n.env\r\n.env.staging\r\n" {
		t.Fatalf(".gitignore = %q", data)
	}
}

// hx returns a well-formed audit hash (64 lowercase hex characters) made
// of one repeated pair, so tests can name distinct hashes briefly.
func hx(pair string) string { return strings.Repeat(pair, 32) }

func TestAuditHeadFork(t *testing.T) {
	h := home(t)
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 5, Hash: hx("aa")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 3, Hash: hx("bb")}); err != nil {
		t.Fatal("an older head is fine (another client's answer)")
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 5, Hash: hx("cc")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork not reported: %v", err)
	}
	// The older head was recorded too: a rewrite there is caught as well.
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 3, Hash: hx("dd")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork at a lower seen position not reported: %v", err)
	}
	if a, _ := h.Org(service, org).AuditHead(); a.Seq != 5 || a.Hash != hx("aa") {
		t.Fatalf("head %+v", a)
	}
}

// With DeferAuditHead the fork check still happens in RecordAuditHead;
// the write finishes in the background, is waited for by the next
// RecordAuditHead and by Flush, and its error comes out of Flush.
func TestAuditHeadDeferred(t *testing.T) {
	h := home(t)
	h.DeferAuditHead = true
	release := make(chan struct{})
	write := writeAuditHead
	t.Cleanup(func() { writeAuditHead = write })
	writeAuditHead = func(p string, data []byte) error {
		<-release
		return write(p, data)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 5, Hash: hx("aa")}); err != nil {
		t.Fatal(err)
	}
	if a, _ := h.Org(service, org).AuditHead(); a.Seq != 0 {
		t.Fatalf("head %+v on disk before the deferred write ran", a)
	}
	close(release)
	// The next record waits for the first write, so its check sees seq 5.
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 5, Hash: hx("cc")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork not reported after a deferred write: %v", err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 6, Hash: hx("dd")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if a, _ := h.Org(service, org).AuditHead(); a.Seq != 6 || a.Hash != hx("dd") {
		t.Fatalf("head %+v after Flush, want seq 6", a)
	}
	if p := scopedPath(t, h, "audit_head.json"); mode(t, p) != 0o600 {
		t.Errorf("audit_head.json mode %04o", mode(t, p))
	}

	boom := errors.New("disk full")
	writeAuditHead = func(string, []byte) error { return boom }
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 7, Hash: hx("ee")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); !errors.Is(err, boom) {
		t.Fatalf("Flush = %v, want the write's error", err)
	}
	if err := h.Flush(); err != nil {
		t.Fatalf("second Flush = %v, want nil (the error is reported once)", err)
	}
	// A failed deferred write also fails the next record, before its check.
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 8, Hash: hx("ff")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Org(service, org).RecordAuditHead(AuditHead{Seq: 9, Hash: hx("01")}); !errors.Is(err, boom) {
		t.Fatalf("RecordAuditHead after a failed write = %v, want its error", err)
	}
}

// A key file counts as written by capy ci only with the exact content
// recorded for its path; another path or other content does not.
func TestKeyFileRecord(t *testing.T) {
	h := &Home{Dir: t.TempDir()}
	path := filepath.Join(t.TempDir(), "decrypt")
	if err := h.RecordKeyFile(path, []byte("capy-ek 1 a")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, content string
		want          bool
	}{{path, "capy-ek 1 a", true}, {path, "capy-ek 1 b", false}, {path + "2", "capy-ek 1 a", false}} {
		if got, err := h.KeyFileWritten(c.path, []byte(c.content)); err != nil || got != c.want {
			t.Errorf("KeyFileWritten(%s, %q) = %v, %v; want %v", c.path, c.content, got, err, c.want)
		}
	}
}

// A read started ahead (ReadAuditHeadsAhead) first waits for this
// process's deferred write, so the record that uses it checks against
// that write's head: a fork is still caught, and its heads are kept.
func TestAuditHeadAhead(t *testing.T) {
	h := home(t)
	h.DeferAuditHead = true
	o := h.Org(service, org)
	if err := o.RecordAuditHead(AuditHead{Seq: 5, Hash: hx("aa")}); err != nil {
		t.Fatal(err)
	}
	ahead := o.ReadAuditHeadsAhead()
	if err := o.RecordAuditHeadAhead(ahead, AuditHead{Seq: 5, Hash: hx("cc")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork not reported through a read ahead: %v", err)
	}
	ahead = o.ReadAuditHeadsAhead()
	if err := o.RecordAuditHeadAhead(ahead, AuditHead{Seq: 6, Hash: hx("bb")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	hs, err := o.AuditHeads()
	if err != nil || hs.Highest.Seq != 6 || len(hs.Recent) != 2 {
		t.Fatalf("heads %+v, %v", hs, err)
	}

	// Another capy process (another Home on the same directory) records
	// a head while the read ahead waits for its answer: the file is read
	// again, so both heads are kept and a fork at the other one is seen.
	other, err := OpenHome()
	if err != nil {
		t.Fatal(err)
	}
	ahead = o.ReadAuditHeadsAhead()
	read := <-ahead.done // the read ahead has happened
	ahead.done <- read
	if err := other.Org(service, org).RecordAuditHead(AuditHead{Seq: 7, Hash: hx("dd")}); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordAuditHeadAhead(ahead, AuditHead{Seq: 8, Hash: hx("ee")}); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordAuditHead(AuditHead{Seq: 7, Hash: hx("ff")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("the other process's head was lost: %v", err)
	}
}
