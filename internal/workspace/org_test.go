package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/privfile"
)

// service is the service the tests' org lives at; evil reuses its org id.
const (
	service = "https://capy.example.com"
	evil    = "https://capy.evil.example"
)

// scopedPath is where a file of the tests' org (rel, below orgs/<org>)
// lives for service, spelled out as docs/cli.md §1.2 gives it.
func scopedPath(t *testing.T, h *Home, rel ...string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(service))
	return filepath.Join(append([]string{h.Dir, "services", hex.EncodeToString(sum[:16]), "orgs", org}, rel...)...)
}

func legacyPath(h *Home, rel ...string) string {
	return filepath.Join(append([]string{h.Dir, "orgs", org}, rel...)...)
}

// orgFiles writes key.enc, the key check and one audit head for the org
// at one service, all derived from tag.
func orgFiles(t *testing.T, o Org, tag string) {
	t.Helper()
	if err := o.WriteKeyEnc(user, []byte("outer-"+tag)); err != nil {
		t.Fatal(err)
	}
	if err := o.SetKeyCheck(tag); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordAuditHead(AuditHead{Seq: 5, Hash: hx(tag)}); err != nil {
		t.Fatal(err)
	}
}

// wantOrgFiles checks that o reads what orgFiles wrote with tag.
func wantOrgFiles(t *testing.T, o Org, tag string) {
	t.Helper()
	ke, err := o.ReadKeyEnc(user)
	if err != nil || string(ke) != "outer-"+tag {
		t.Errorf("key.enc %q, %v; want outer-%s", ke, err, tag)
	}
	if kc, err := o.KeyCheck(); err != nil || kc != tag {
		t.Errorf("key check %q, %v; want %s", kc, err, tag)
	}
	if a, err := o.AuditHead(); err != nil || a != (AuditHead{Seq: 5, Hash: hx(tag)}) {
		t.Errorf("audit head %+v, %v; want #5 %s", a, err, hx(tag))
	}
}

// Two services with orgs of the same id (one of them an attacker's) have
// files of their own: writing one's key.enc, key check or audit head
// leaves the other's as it was, and a head one service named is no fork
// of the other's chain.
func TestOrgScopedByService(t *testing.T) {
	h := home(t)
	mine, other := h.Org(service, org), h.Org(evil, org)
	orgFiles(t, mine, "aa")
	before := map[string][]byte{}
	for _, rel := range [][]string{{"users", user, "key.enc"}, {"key_check"}, {"audit_head.json"}} {
		p := scopedPath(t, h, rel...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = b
	}
	if _, err := other.ReadKeyEnc(user); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the other service reads a key.enc: %v", err)
	}
	if kc, err := other.KeyCheck(); kc != "" || err != nil {
		t.Fatalf("the other service reads a key check %q, %v", kc, err)
	}
	orgFiles(t, other, "bb") // #5 with another hash: no fork, another chain
	wantOrgFiles(t, mine, "aa")
	wantOrgFiles(t, other, "bb")
	for p, b := range before {
		if got, _ := os.ReadFile(p); !bytes.Equal(got, b) {
			t.Errorf("%s changed: %q, was %q", p, got, b)
		}
	}
	if _, err := os.Lstat(filepath.Join(h.Dir, "orgs")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the unscoped orgs directory was created: %v", err)
	}
}

// A service's directory is named by a hash of its canonical URL, whatever
// the URL holds, and names the URL in a private service file; a URL that
// is not canonical (a second name for one service) or not allowed is
// refused.
func TestOrgServiceDir(t *testing.T) {
	h := home(t)
	name := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]string{}
	for _, u := range []string{service, evil, "https://capy.example.com:8443", "https://capy.example.com/../../x",
		"https://capy.example.com/a%2F..%2F..", "http://127.0.0.1:8787", "http://[::1]:8787"} {
		if err := h.Org(u, org).SetKeyCheck("cc"); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		dir := h.serviceDir(u)
		if filepath.Dir(dir) != filepath.Join(h.Dir, "services") || !name.MatchString(filepath.Base(dir)) {
			t.Fatalf("%s: directory %s", u, dir)
		}
		if prev, ok := seen[dir]; ok {
			t.Fatalf("%s and %s share %s", u, prev, dir)
		}
		seen[dir] = u
		p := filepath.Join(dir, "service")
		if b, err := privfile.ReadPrivate(p, 4096); err != nil || string(b) != u+"\n" {
			t.Fatalf("%s: service file %q, %v", u, b, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "orgs", org, "key_check")); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"https://CAPY.example.com", "https://capy.example.com/", "https://capy.example.com:443",
		"http://capy.example.com", "", "capy.example.com"} {
		if err := h.Org(u, org).SetKeyCheck("cc"); err == nil {
			t.Errorf("service %q accepted", u)
		}
		if _, err := h.Org(u, org).KeyCheck(); err == nil {
			t.Errorf("service %q accepted for a read", u)
		}
	}
	if len(seen) != 7 {
		t.Fatal(seen)
	}
}

// A home an older capy wrote keeps its org files in orgs/<org>, without
// the service. Every service reads them where it has no file of its own
// (so an existing home keeps working); nothing is ever written there, so
// whatever one service writes, the others still read the legacy files.
// An unlock that verified them through a service copies them into its
// directory (AdoptLegacy), leaving the legacy files and any file the
// service already has as they are.
func TestOrgLegacyLayout(t *testing.T) {
	h := home(t)
	legacy := map[string]string{
		legacyPath(h, "users", user, "key.enc"): "outer-aa",
		legacyPath(h, "key_check"):              "aa\n",
		legacyPath(h, "audit_head.json"):        `{"version":2,"seq":5,"hash":"` + hx("aa") + `","recent":[{"seq":5,"hash":"` + hx("aa") + `"}]}`,
	}
	for p, content := range legacy {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unchanged := func() {
		t.Helper()
		for p, content := range legacy {
			if b, err := os.ReadFile(p); err != nil || string(b) != content {
				t.Fatalf("legacy %s is now %q, %v", p, b, err)
			}
		}
	}
	mine, other := h.Org(service, org), h.Org(evil, org)
	wantOrgFiles(t, mine, "aa")
	wantOrgFiles(t, other, "aa")

	// The other service writes: its own directory only.
	if err := other.SetKeyCheck("bb"); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteKeyEnc(user, []byte("outer-bb")); err != nil {
		t.Fatal(err)
	}
	if err := other.RecordAuditHead(AuditHead{Seq: 6, Hash: hx("bb")}); err != nil {
		t.Fatal(err)
	}
	unchanged()
	wantOrgFiles(t, mine, "aa")
	if kc, _ := other.KeyCheck(); kc != "bb" {
		t.Fatalf("other key check %q", kc)
	}
	// The real service's first record starts from the legacy heads and
	// goes to its own directory: a rewrite of #5 is still a fork.
	if err := mine.RecordAuditHead(AuditHead{Seq: 5, Hash: hx("cc")}); !errors.Is(err, ErrAuditFork) {
		t.Fatalf("fork against the legacy head: %v", err)
	}
	if err := mine.RecordAuditHead(AuditHead{Seq: 7, Hash: hx("dd")}); err != nil {
		t.Fatal(err)
	}
	if hs, err := mine.AuditHeads(); err != nil || hs.Highest.Seq != 7 || len(hs.Recent) != 2 {
		t.Fatalf("heads %+v, %v", hs, err)
	}
	unchanged()

	// Adopted after a verified unlock: the real service now has its own
	// copies and no longer needs the legacy directory.
	if err := mine.AdoptLegacy(user, []byte("outer-aa"), "aa"); err != nil {
		t.Fatal(err)
	}
	if err := other.AdoptLegacy(user, []byte("outer-aa"), "aa"); err != nil {
		t.Fatal(err)
	}
	unchanged()
	if b, _ := os.ReadFile(scopedPath(t, h, "users", user, "key.enc")); string(b) != "outer-aa" {
		t.Fatalf("adopted key.enc %q", b)
	}
	if err := os.RemoveAll(filepath.Join(h.Dir, "orgs")); err != nil {
		t.Fatal(err)
	}
	if ke, err := mine.ReadKeyEnc(user); err != nil || string(ke) != "outer-aa" {
		t.Fatalf("key.enc %q, %v", ke, err)
	}
	if kc, err := mine.KeyCheck(); err != nil || kc != "aa" {
		t.Fatalf("key check %q, %v", kc, err)
	}
	// The other service's own files were not replaced by the adoption.
	if ke, _ := other.ReadKeyEnc(user); string(ke) != "outer-bb" {
		t.Fatalf("other key.enc %q", ke)
	}
	if kc, _ := other.KeyCheck(); kc != "bb" {
		t.Fatalf("other key check %q", kc)
	}
}

// A legacy file is a key file like any other: readable by others or a
// symlink, it is refused, not skipped; and a service's own file that is
// refused is never passed over for the legacy one.
func TestOrgLegacyInsecure(t *testing.T) {
	h := home(t)
	o := h.Org(service, org)
	p := legacyPath(h, "key_check")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("aa\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := o.KeyCheck(); !errors.Is(err, keys.ErrInsecureFile) {
		t.Fatalf("group-readable legacy key_check: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.SetKeyCheck("bb"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(scopedPath(t, h, "key_check"), 0o640); err != nil {
		t.Fatal(err)
	}
	if kc, err := o.KeyCheck(); !errors.Is(err, keys.ErrInsecureFile) {
		t.Fatalf("group-readable key_check: %q, %v", kc, err)
	}
}
