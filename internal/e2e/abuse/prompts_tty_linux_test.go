//go:build linux

package abuse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitAsksForTheOrgOnATerminal: `capy init` without --org or --new-org,
// on a terminal, lists the organisations the account belongs to and asks
// for one (issue #15 §1); a number not shown creates nothing; the first
// sync of the new checkout then asks before it pushes the names its .env
// held (§2), and "y" pushes them into the chosen organisation.
func TestInitAsksForTheOrgOnATerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := *w.alice
	a.dir = filepath.Join(filepath.Dir(w.alice.dir), "api")
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	a.write(".env", "API_KEY=api-key-4k2\n")

	ts := a.capyTTY(t, "init", "--project", "api")
	ts.waitFor(t, "Create the project in which organisation?")
	ts.waitFor(t, "Number: ")
	if !strings.Contains(ts.text(), "Acme") || !strings.Contains(ts.text(), w.proj.Org) {
		t.Fatalf("the prompt does not list Acme (%s):\n%s", w.proj.Org, ts.text())
	}
	ts.typeLine(t, "7")
	if st := ts.wait(t); st == 0 || !strings.Contains(ts.text(), "nothing was created") {
		t.Fatalf("a number not shown: exit %d\n%s", st, ts.text())
	}
	if _, err := os.Stat(a.path(".capy/project.json")); err == nil {
		t.Fatal("a refused choice left a project.json")
	}

	ts = a.capyTTY(t, "init", "--project", "api")
	ts.waitFor(t, "Number: ")
	ts.typeLine(t, "1")
	ts.waitFor(t, "Push these 1 name(s) to development? [y/N]")
	if !strings.Contains(ts.text(), "add     API_KEY") {
		t.Fatalf("the first push does not name what it pushes:\n%s", ts.text())
	}
	ts.typeLine(t, "y")
	if st := ts.wait(t); st != 0 {
		t.Fatalf("init: exit %d\n%s", st, ts.text())
	}
	if strings.Contains(ts.text(), "recovery phrase") {
		t.Fatalf("a project in an existing organisation showed a recovery phrase:\n%s", ts.text())
	}
	if got := a.read(".capy/project.json"); !strings.Contains(got, w.proj.Org) {
		t.Fatalf("the project is not in Acme:\n%s", got)
	}
	if r := a.ok("get", "API_KEY"); strings.TrimSpace(r.stdout) != "api-key-4k2" {
		t.Fatalf("get API_KEY: %s", r)
	}
}

// TestFirstPushDeclinedOnATerminal: bob's clone already had a .env with a
// personal name; his first sync, on a terminal, names it and asks; "n"
// pushes nothing and leaves his files as they were.
func TestFirstPushDeclinedOnATerminal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	bob := w.s.person("bob@example.com")
	w.join(bob, "member")
	w.clone(bob)
	bob.write(".env", "A=alpha\nBOB_PERSONAL=bob-own-7c1\n")
	before := bob.snapshotFiles(".env")

	ts := bob.capyTTY(t, "sync")
	ts.waitFor(t, "Push these 1 name(s) to development? [y/N]")
	if !strings.Contains(ts.text(), "add     BOB_PERSONAL") || !strings.Contains(ts.text(), ".env.local") {
		t.Fatalf("the question does not name the push or the personal file:\n%s", ts.text())
	}
	ts.typeLine(t, "n")
	if st := ts.wait(t); st == 0 || !strings.Contains(ts.text(), "nothing was pushed") {
		t.Fatalf("declining: exit %d\n%s", st, ts.text())
	}
	bob.unchangedFiles(before, "a declined first push")
	w.alice.ok("sync")
	if r := w.alice.capy("get", "BOB_PERSONAL"); r.exit == 0 {
		t.Fatalf("bob's personal name reached the service: %s", r)
	}
}
