package abuse

import (
	"os"
	"path/filepath"
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

// TestRunRefusesExecControlNames: a value under a name that makes the
// command load or run code (PATH, LD_PRELOAD, NODE_OPTIONS, BASH_ENV) is
// code execution on every teammate who runs it. `capy run` refuses to
// start the command unless the caller admits the name.
func TestRunRefusesExecControlNames(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	ran := filepath.Join(t.TempDir(), "ran")
	for _, name := range []string{"LD_PRELOAD", "NODE_OPTIONS", "BASH_ENV", "PATH", "npm_config_script_shell"} {
		a.okStdin("/tmp/evil", "set", name)
		r := a.capy("--json", "run", "--", "touch", ran)
		if r.exit != 4 || r.code() != "unsafe-name" || !strings.Contains(r.stderr, name) {
			t.Fatalf("%s: want exit 4 unsafe-name, got\n%s", name, r)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("%s: the command ran", name)
		}
		if name != "PATH" {
			// Admitted by the caller (flag, or CAPY_ALLOW_NAMES in CI), the value reaches the command.
			out := a.ok("run", "--allow-name", name, "--", "sh", "-c", `printenv `+name).stdout
			if out != "/tmp/evil\n" {
				t.Fatalf("%s admitted: %q", name, out)
			}
			if out := a.capyIn(a.dir, []string{"CAPY_ALLOW_NAMES=OTHER," + name}, "", "run", "--", "sh", "-c", `printenv `+name); out.exit != 0 {
				t.Fatalf("%s admitted by CAPY_ALLOW_NAMES: %s", name, out)
			}
		}
		a.ok("unset", name)
	}
}
