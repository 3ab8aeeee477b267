//go:build unix

package abuse

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// This file holds the symbolic links, FIFOs and devices a repository, a
// branch or a hand-made file can put where capy reads and writes a
// checkout's files (docs/cli.md §1.3). Every command that meets one
// refuses it with code unsafe-path before reading it: nothing is pushed
// (capyd's head is unchanged), nothing outside the repository is read
// into the environment or written, and a /dev/zero or a FIFO neither
// exhausts memory nor hangs.

// outsideSecret is another project's plaintext .env, outside the
// repository.
const outsideSecret = "OTHER_PROJECT_SECRET=hunter2\n"

// secondCheckout is another checkout of alice's repository on her machine
// (her session and key; project.json as git gives it, no state.json).
func (w *world) secondCheckout() *person {
	w.s.t.Helper()
	p := w.s.person(w.alice.email)
	p.home = w.alice.home
	w.clone(p)
	return p
}

// tree lists every file below dir with its content (links as "->
// target"), to check that a refused command changed nothing there.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, rel+": "+string(b))
		default:
			out = append(out, rel+" "+d.Type().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// bounded runs capy --json ARGS in dir (stdin "x\n", for set) within a
// bound. The run gets 20 seconds and a 1 GiB data limit: a capy that reads
// /dev/zero to the end dies of it, one that waits on a FIFO is killed, and
// both fail the test instead of the machine.
func (p *person) bounded(dir string, extra []string, args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"--json"}, args...)
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", `ulimit -d 1048576 && exec "$0" "$@"`, p.bin}, full...)...)
	cmd.Dir = dir
	cmd.Env = append(p.baseEnv(), extra...)
	cmd.Stdin = strings.NewReader("x\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: full, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		p.t.Fatalf("capy %v did not finish within 20s (it waits on a FIFO?):\n%s", args, r)
	case errors.As(err, &ee):
		r.exit = ee.ExitCode()
	case err != nil:
		p.t.Fatalf("run capy %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "out of memory") {
		p.t.Fatalf("capy crashed (out of memory reading /dev/zero?):\n%.2000s", r)
	}
	return r
}

// refusedWith fails the test unless r exited 1 with code want and a
// message containing say.
func refusedWith(t *testing.T, r result, want, say string) {
	t.Helper()
	if r.exit != 1 || r.code() != want || !strings.Contains(r.stderr, say) {
		t.Fatalf("want exit 1 %s saying %q, got\n%s", want, say, r)
	}
}

// refused is bounded and refusedWith, for a run whose side effects need
// no check before its error.
func (p *person) refused(dir string, extra []string, want, say string, args ...string) {
	p.t.Helper()
	refusedWith(p.t, p.bounded(dir, extra, args...), want, say)
}

// TestSymlinkedEnvFile: .env is a link to another project's plaintext
// .env. Before, `capy sync` read it, merged it and pushed it (the other
// project's secret uploaded, every variable of this environment deleted)
// and only then refused to write through the link. Now every command
// that reads or writes .env refuses it first: nothing is pushed, the
// other file is unchanged, the command of `run` never starts.
func TestSymlinkedEnvFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	a.ok("sync")
	version, id := w.headNow("development")
	outside := t.TempDir()
	secret := filepath.Join(outside, ".env")
	if err := os.WriteFile(secret, []byte(outsideSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(a.path(".env"), a.path(".env.mine")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, a.path(".env")); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "plain.env")
	os.WriteFile(plain, []byte("IMPORTED=1\n"), 0o600)
	ran := filepath.Join(t.TempDir(), "ran")
	before, beforeOutside := tree(t, a.dir), tree(t, outside)
	for _, args := range [][]string{
		{"sync"}, {"set", "X"}, {"unset", "A"}, {"import", plain},
		{"run", "--", "touch", ran}, {"get", "A"}, {"export"}, {"ls"}, {"status"},
	} {
		r := a.bounded(a.dir, nil, args...)
		if v, i := w.headNow("development"); v != version || i != id {
			t.Fatalf("%v pushed: head v%d %s, was v%d %s\n%s", args, v, i, version, id, r)
		}
		if got := tree(t, outside); got != beforeOutside {
			t.Fatalf("%v changed the other project's files:\n%s", args, got)
		}
		if got := tree(t, a.dir); got != before {
			t.Fatalf("%v changed the checkout:\n%s\nwas\n%s", args, got, before)
		}
		refusedWith(t, r, "unsafe-path", a.path(".env")+" is a symbolic link")
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("run started its command")
	}
	// The message says what to do; the hint why.
	r := a.capy("get", "A")
	if !strings.Contains(r.stderr, "capy reads and writes only regular files inside the repository: replace the link with the file itself") {
		t.Fatalf("message: %s", r)
	}
	// With the file itself back, everything works as before.
	os.Remove(a.path(".env"))
	os.Rename(a.path(".env.mine"), a.path(".env"))
	if got := a.ok("get", "A").stdout; got != "alpha\n" {
		t.Fatalf("A = %q", got)
	}
}

// TestSymlinkedEnvDirectory: project.json names config/.env (as a branch
// may), and config is a link to a directory outside the repository.
// Before, a sync wrote the pulled environment there, and pushed a
// plaintext .env found there. Now it is refused: nothing written outside,
// nothing pushed, `capy ci` writes nothing either.
func TestSymlinkedEnvDirectory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code := lastLine(w.alice.ok("deploy", "--name", "ci").stdout)
	version, id := w.headNow("development")
	p := w.secondCheckout()
	p.write(".capy/project.json", strings.Replace(p.read(".capy/project.json"), `"file": ".env"`, `"file": "config/.env"`, 1))
	outside := t.TempDir()
	empty := tree(t, outside)
	if err := os.Symlink(outside, p.path("config")); err != nil {
		t.Fatal(err)
	}
	say := p.path("config") + " is a symbolic link"
	check := func(r result) {
		t.Helper()
		if v, i := w.headNow("development"); v != version || i != id {
			t.Fatalf("pushed: head v%d, was v%d\n%s", v, version, r)
		}
	}
	// An empty directory outside: nothing may be written into it.
	for _, args := range [][]string{{"sync"}, {"set", "X"}, {"get", "A"}, {"status"}} {
		r := p.bounded(p.dir, nil, args...)
		if got := tree(t, outside); got != empty {
			t.Fatalf("%v wrote outside the repository:\n%s\n%s", args, got, r)
		}
		check(r)
		refusedWith(t, r, "unsafe-path", say)
	}
	r := p.bounded(p.dir, []string{"CAPY_DEPLOY_CODE=" + code}, "ci")
	if got := tree(t, outside); got != empty {
		t.Fatalf("ci wrote outside the repository:\n%s\n%s", got, r)
	}
	refusedWith(t, r, "unsafe-path", say)
	// Another project's plaintext there: not read, not pushed.
	if err := os.WriteFile(filepath.Join(outside, ".env"), []byte(outsideSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	beforeOutside := tree(t, outside)
	for _, args := range [][]string{{"sync"}, {"set", "X"}, {"run", "--", "true"}} {
		r := p.bounded(p.dir, nil, args...)
		check(r)
		if got := tree(t, outside); got != beforeOutside {
			t.Fatalf("%v changed the other project's files:\n%s", args, got)
		}
		refusedWith(t, r, "unsafe-path", say)
	}
}

// TestSymlinkedCapyDirectory: a checkout whose .capy is a link to another
// checkout's. Before, capy used that checkout's project.json and
// state.json (and wrote them). Now FindRepo refuses the link (it does not
// skip it for a parent either), and `capy init` refuses one before it
// creates anything.
func TestSymlinkedCapyDirectory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	version, id := w.headNow("development")
	p := w.s.person(a.email)
	p.home = a.home
	if err := os.Symlink(a.path(".capy"), p.path(".capy")); err != nil {
		t.Fatal(err)
	}
	p.write(".env", "NEW_SECRET=from-the-other-checkout\n")
	beforeAlice, beforeP := tree(t, a.path(".capy")), tree(t, p.dir)
	say := p.path(".capy") + " is a symbolic link"
	for _, args := range [][]string{{"sync"}, {"get", "A"}, {"status"}, {"set", "X"}, {"env", "switch", "production"}, {"ls"}} {
		r := p.bounded(p.dir, nil, args...)
		if v, i := w.headNow("development"); v != version || i != id {
			t.Fatalf("%v pushed:\n%s", args, r)
		}
		if got := tree(t, a.path(".capy")); got != beforeAlice {
			t.Fatalf("%v changed the other checkout's .capy:\n%s\n%s", args, got, r)
		}
		if got := tree(t, p.dir); got != beforeP {
			t.Fatalf("%v changed the checkout:\n%s\n%s", args, got, r)
		}
		refusedWith(t, r, "unsafe-path", say)
	}
	// A subdirectory does not find a parent's .capy past the link.
	sub := p.path("sub")
	os.MkdirAll(sub, 0o755)
	p.refused(sub, nil, "unsafe-path", say, "get", "A")

	// init into a .capy linked to a directory outside.
	q := w.s.person(a.email)
	q.home = a.home
	outside := t.TempDir()
	empty := tree(t, outside)
	os.Symlink(outside, q.path(".capy"))
	mark := w.s.mark()
	r := q.bounded(q.dir, nil, "init", "--yes", "--service", w.s.url, "--new-org", "Evil", "--project", "evil")
	if got := tree(t, outside); got != empty {
		t.Fatalf("init wrote outside the repository:\n%s\n%s", got, r)
	}
	if got := w.s.requestLog(mark); len(got) != 0 {
		t.Fatalf("init sent requests: %v\n%s", got, r)
	}
	refusedWith(t, r, "unsafe-path", q.path(".capy")+" is a symbolic link")
}

// TestUnboundedCheckoutFiles: .env, project.json or state.json linked to
// /dev/zero, or a FIFO, is refused at once: no read to the end of an
// endless device, no wait for a writer that never comes. `capy doctor`
// survives a .capy/decrypt linked to /dev/zero.
func TestUnboundedCheckoutFiles(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := w.secondCheckout()
	p.ok("sync")
	version, _ := w.headNow("development")
	// Each case runs on its own (a subtest), so that the old code's crash
	// or hang in one does not hide the others.
	link := func(t *testing.T, rel, target string) {
		t.Helper()
		saved, err := os.ReadFile(p.path(rel))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		os.Remove(p.path(rel))
		if target == "fifo" {
			err = syscall.Mkfifo(p.path(rel), 0o600)
		} else {
			err = os.Symlink(target, p.path(rel))
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			os.Remove(p.path(rel))
			if saved != nil {
				os.WriteFile(p.path(rel), saved, 0o600)
			}
		})
	}
	cases := []struct {
		rel, target string
		say         string // after the file's path
		cmds        [][]string
	}{
		{".env", "/dev/zero", " is a symbolic link", [][]string{{"get", "A"}, {"sync"}, {"ls"}, {"status"}, {"set", "X"}}},
		{".env", "fifo", " is a named pipe (FIFO)", [][]string{{"get", "A"}, {"sync"}, {"ls"}, {"status"}, {"set", "X"}}},
		{".capy/project.json", "/dev/zero", " is a symbolic link", [][]string{{"get", "A"}, {"sync"}, {"ls"}}},
		{".capy/project.json", "fifo", " is a named pipe (FIFO)", [][]string{{"get", "A"}, {"sync"}}},
		{".capy/state.json", "/dev/zero", " is a symbolic link", [][]string{{"get", "A"}, {"sync"}, {"env", "switch", "production"}}},
		{".capy/state.json", "fifo", " is a named pipe (FIFO)", [][]string{{"get", "A"}, {"sync"}}},
	}
	for _, tc := range cases {
		t.Run(tc.rel+" "+tc.target, func(t *testing.T) {
			link(t, tc.rel, tc.target)
			sp := *p
			sp.t = t
			for _, args := range tc.cmds {
				sp.refused(p.dir, nil, "unsafe-path", p.path(tc.rel)+tc.say, args...)
			}
		})
	}
	if v, _ := w.headNow("development"); v != version {
		t.Fatalf("pushed: v%d, was v%d", v, version)
	}
	p.ok("get", "A") // restored

	// doctor reads .capy/decrypt: a link to /dev/zero is reported, bounded.
	t.Run("doctor .capy/decrypt /dev/zero", func(t *testing.T) {
		link(t, ".capy/decrypt", "/dev/zero")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", `ulimit -d 1048576 && exec "$0" "$@"`, p.bin, "doctor")
		cmd.Dir, cmd.Env = p.dir, p.baseEnv()
		out, _ := cmd.CombinedOutput()
		if ctx.Err() != nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(out), "is a symlink") || strings.Contains(string(out), "goroutine ") {
			t.Fatalf("doctor with .capy/decrypt -> /dev/zero: exit %d\n%.2000s", cmd.ProcessState.ExitCode(), out)
		}
	})
}
