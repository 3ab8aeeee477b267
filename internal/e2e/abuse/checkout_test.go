package abuse

import (
	"strings"
	"testing"
)

// This file holds what a checkout must survive (issue 13): files that git,
// a teammate or another tool changed under capy.

// TestStatusAfterTeammateRotation: a teammate rotated development and
// committed project.json; this checkout pulled it (the pin is at epoch 2)
// but its .env still holds epoch-1 snippets. `capy status` reads the file
// with the epoch it was written in, and the next sync moves it on.
func TestStatusAfterTeammateRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	bob := w.s.person("bob@example.com")
	w.clone(bob)
	w.join(bob, "admin")
	bob.ok("sync")
	bob.ok("env", "rotate", "--yes", "development")
	a.write(".capy/project.json", bob.read(".capy/project.json")) // git pull
	r := a.ok("--json", "status")
	if !strings.Contains(r.stdout, `"remote_version": 3`) {
		t.Fatalf("status after a teammate's rotation: %s", r)
	}
	a.ok("sync")
	if got := a.ok("get", "D").stdout; got != "delta\n" {
		t.Fatalf("D = %q after syncing into the new epoch", got)
	}
	a.ok("--json", "status")
}
