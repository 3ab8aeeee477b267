package abuse

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// TestOrgIDReusedByAnotherService: the client chooses an org's id, so an
// attacker can run a second service (B) with an org of the same id as a
// member's real org on A, invite the member and have them redeem (which
// caches B's key check); B may also name the member's user id on A as
// theirs when they log in to B, so that B's key.enc would land on the
// path of A's (alice, bob); and in the attacker's branch (project.json
// naming B) every unlock on B forges audit heads at the next positions of
// A's chain. None of it reaches A's files: the member's key.enc, key
// check and audit heads for A stay byte-identical, and the next sync and
// get on A work (no wrong-key, no audit-fork; `capy audit --verify`
// passes). carol and alice have fresh homes; bob's is laid out as an
// older capy left it (orgs/<org>, no service), which A and B both read
// and neither writes; A's first unlock copies it into A's own directory.
func TestOrgIDReusedByAnotherService(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	org := w.proj.Org
	bob, carol := w.s.person("bob@example.com"), w.s.person("carol@example.com")
	for _, p := range []*person{bob, carol} {
		w.clone(p)
		w.join(p, "member")
		p.ok("sync")
	}
	legacyDir := olderHome(t, bob, w.s.url, org)

	// The attacker's service and org (its own M, the same org id).
	b := newService(t, "sqlite")
	ctx := context.Background()
	mallory := b.apiLogin("mallory@evil.example")
	var mb keys.MasterKey
	copy(mb[:], randBytes(32))
	if _, err := mallory.CreateOrg(ctx, api.CreateOrgRequest{ID: org, Name: "Acme", KeyCheck: mb.KeyCheck(org)}); err != nil {
		t.Fatal(err)
	}
	invite := func(email string) string {
		t.Helper()
		tok, err := keys.NewInviteToken()
		if err != nil {
			t.Fatal(err)
		}
		inner, err := tok.SealMaster(&mb, org, email)
		if err != nil {
			t.Fatal(err)
		}
		role := api.RoleMember
		inv, err := mallory.CreateInvite(ctx, org, api.CreateInviteRequest{Kind: api.InviteMember, Email: email, Role: &role, Inner: inner})
		if err != nil {
			t.Fatal(err)
		}
		return wrap.RedeemCode{URL: b.url, OrgID: org, InviteID: inv.ID, Token: tok}.Encode()
	}
	branch := w.branchNaming(t, b.url)
	forged := strings.Repeat("ab", 32)

	for _, c := range []struct {
		who    *person
		sameID bool // B names the user id v has on A
		legacy bool // v's home is laid out as an older capy left it
	}{{carol, false, false}, {w.alice, true, false}, {bob, true, true}} {
		v := c.who
		userID := userIDOn(t, v, w.s.url)
		dir := orgDir(v.home, w.s.url, org)
		if c.legacy {
			dir = legacyDir
		}
		files := []string{filepath.Join(dir, "key_check"), filepath.Join(dir, "audit_head.json"),
			filepath.Join(dir, "users", userID, "key.enc")}
		before := snapshotPaths(files)

		// v logs in to B (which may name v's user id on A) and redeems.
		if c.sameID {
			b.setModify(b.rewriteAnswer("/auth/verify", func(_ *http.Request, m map[string]json.RawMessage) {
				var u map[string]any
				if json.Unmarshal(m["user"], &u) == nil {
					u["id"] = userID
					m["user"], _ = json.Marshal(u)
				}
			}))
		}
		onB := *v
		onB.s = b
		if r := onB.loginWith(b.url); r.exit != 0 {
			t.Fatalf("login to B: %s", r)
		}
		b.setModify(nil)
		if got := userIDOn(t, v, b.url); (got == userID) != c.sameID {
			t.Fatalf("user id on B %s, on A %s: the test tests something else than it says", got, userID)
		}
		code := invite(v.email)
		if r := v.capyStdin(code+"\n", "redeem", "--yes", "-"); r.exit != 0 {
			t.Fatalf("redeem on B: %s", r)
		}
		// Unlocks on B (in the branch) with heads at A's next positions.
		head, err := w.s.apiClient(w.alice.token()).Audit(ctx, org, 1, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(1); i <= 3; i++ {
			b.setModify(b.rewriteAnswer("/co-decrypt", func(_ *http.Request, m map[string]json.RawMessage) {
				m["audit_head"], _ = json.Marshal(auditHead{head.Head.Seq + i, forged})
			}))
			// The unlock gets through; then B has no such project, or
			// (B's key is not A's) the age recipient A pinned is not the
			// one B's key derives and the sync stops as tampered
			// (decisions.md #60). Both come after the unlock.
			if r := v.capyIn(branch, nil, "", "--json", "sync"); r.code() != "not-found" && r.code() != "tampered" {
				t.Fatalf("sync in B's branch: want the unlock to pass and not-found or tampered after it; got\n%s", r)
			}
		}
		b.setModify(nil)

		// A's files are as they were; A works.
		for _, f := range files {
			if got := snapshotPaths([]string{f})[f]; got != before[f] {
				t.Fatalf("%s changed by service B:\nbefore %q\nafter  %q", f, before[f], got)
			}
		}
		v.ok("sync")
		if got := v.ok("get", "D").stdout; got != "delta\n" {
			t.Fatalf("get D on A = %q", got)
		}
		if got, err := os.ReadFile(filepath.Join(orgDir(v.home, b.url, org), "audit_head.json")); err != nil || !strings.Contains(string(got), forged) {
			t.Fatalf("B's forged heads are not in B's directory (%v): %s", err, got)
		}
		if c.legacy {
			// The verified unlock copied the legacy key.enc and key check
			// into A's directory, and changed no legacy file.
			for _, rel := range []string{"key_check", filepath.Join("users", userID, "key.enc")} {
				p := filepath.Join(orgDir(v.home, w.s.url, org), rel)
				if got := snapshotPaths([]string{p})[p]; got != before[filepath.Join(dir, rel)] {
					t.Fatalf("%s not copied into A's directory: %q", rel, got)
				}
			}
			for _, f := range files {
				if got := snapshotPaths([]string{f})[f]; got != before[f] {
					t.Fatalf("legacy %s changed", f)
				}
			}
		}
	}
	w.alice.ok("audit", "--verify")
}

// TestSecondURLForgesAuditHeads: a second URL in front of the real
// service (a proxy the attacker runs, named by the project.json of their
// branch) passes every request on and forges the audit heads of the
// co-decrypt answers at the next positions of the org's chain. What the
// member is shown there is kept for that URL only: the next unlock at the
// real URL is no audit-fork. With a fresh home the second URL has no
// key.enc of its own (no-key, nothing recorded); bob's home of an older
// capy (orgs/<org>) unlocks there, since the real service opens its
// key.enc, and the forged heads go to the second URL's directory.
func TestSecondURLForgesAuditHeads(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	org := w.proj.Org
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "member")
	bob.ok("sync")
	olderHome(t, bob, w.s.url, org)

	var mu sync.Mutex
	var forge auditHead
	target, _ := url.Parse(w.s.url)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasSuffix(resp.Request.URL.Path, "/co-decrypt") || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			mu.Lock()
			m["audit_head"], _ = json.Marshal(forge)
			mu.Unlock()
			body, _ = json.Marshal(m)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		return nil
	}
	second := httptest.NewServer(rp)
	t.Cleanup(second.Close)
	branch := w.branchNaming(t, second.URL)
	ctx := context.Background()
	for _, v := range []*person{w.alice, bob} {
		if r := v.loginWith(second.URL); r.exit != 0 {
			t.Fatalf("login at the second URL: %s", r)
		}
		head, err := w.s.apiClient(w.alice.token()).Audit(ctx, org, 1, "", 1)
		if err != nil {
			t.Fatal(err)
		}
		// Each run's co-decrypt writes a row at the real service too (when
		// v's key.enc opens there), so the next ones at the real URL are
		// #head+4 and on: those are forged.
		var runs []result
		for i := uint64(1); i <= 3; i++ {
			mu.Lock()
			forge = auditHead{head.Head.Seq + 3 + i, strings.Repeat("ab", 32)}
			mu.Unlock()
			runs = append(runs, v.capyIn(branch, nil, "", "--json", "get", "--pull", "D"))
		}
		v.ok("sync")
		if got := v.ok("get", "D").stdout; got != "delta\n" {
			t.Fatalf("get D = %q", got)
		}
		for _, r := range runs {
			switch {
			case v == bob && r.exit != 0:
				t.Fatalf("bob at the second URL (his key.enc of an older capy opens there): %s", r)
			case v == w.alice && r.code() != "no-key":
				t.Fatalf("alice at the second URL: want no-key (she enrolled at the real URL only); got\n%s", r)
			}
		}
	}
	if got, err := os.ReadFile(filepath.Join(orgDir(bob.home, second.URL, org), "audit_head.json")); err != nil || !strings.Contains(string(got), strings.Repeat("ab", 32)) {
		t.Fatalf("the forged heads are not in the second URL's directory (%v): %s", err, got)
	}
	w.alice.ok("audit", "--verify")
}

// olderHome lays p's files for org out as a capy before services/ left
// them: orgs/<org>, which does not say which service they are for. It
// returns that directory. (A capy of that age has written it already.)
func olderHome(t *testing.T, p *person, service, org string) string {
	t.Helper()
	legacy := filepath.Join(p.home, "orgs", org)
	if scoped := orgDir(p.home, service, org); dirExists(scoped) {
		if err := os.Mkdir(filepath.Dir(legacy), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(scoped, legacy); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(p.home, "services")); err != nil {
			t.Fatal(err)
		}
	}
	if !dirExists(legacy) {
		t.Fatalf("no %s", legacy)
	}
	return legacy
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// branchNaming is a checkout of an attacker's branch of alice's
// repository: project.json names service instead of the real one.
func (w *world) branchNaming(t *testing.T, service string) string {
	t.Helper()
	dir := t.TempDir()
	proj := strings.Replace(w.alice.read(".capy/project.json"), w.s.url, service, 1)
	if err := os.MkdirAll(filepath.Join(dir, ".capy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".capy", "project.json"), []byte(proj), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// snapshotPaths reads files (an error stands for a missing one).
func snapshotPaths(paths []string) map[string]string {
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			out[p] = "<" + err.Error() + ">"
			continue
		}
		out[p] = string(b)
	}
	return out
}

// userIDOn is p's user id in the session stored for service.
func userIDOn(t *testing.T, p *person, service string) string {
	t.Helper()
	var c struct {
		Sessions map[string]struct {
			UserID string `json:"user_id"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(readBytes(t, filepath.Join(p.home, "credentials")), &c); err != nil {
		t.Fatal(err)
	}
	return c.Sessions[service].UserID
}
