package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/member"
)

// newClient returns a client for service. Under a command budget
// (CAPY_TIMEOUT) one attempt of a request may use all of it: the budget's
// context ends the attempt, and a raised CAPY_TIMEOUT must help a slow
// link, which a fixed 30 s per attempt would not. Without one (off), the
// client's own 30 s per attempt applies.
func newClient(u *ui, service string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("capy/" + userAgentVersion()), client.WithRetry(3, 200*time.Millisecond)}
	if u.budget != nil && u.budget.limit > 0 {
		opts = append(opts, client.WithAttemptTimeout(u.budget.limit))
	}
	return client.New(service, opts...)
}

// checkoutConfig is what the checkout use-cases get from this process:
// the terminal, the client settings, and the runner's key sources.
func checkoutConfig(u *ui) checkout.Config {
	return checkout.Config{
		UI:         terminal{u},
		NewClient:  func(service string) (*client.Client, error) { return newClient(u, service) },
		Key:        os.Getenv("CAPY_KEY"),
		DeployCode: os.Getenv("CAPY_DEPLOY_CODE"),
	}
}

// openProject opens the linked repository around the working directory.
// The audit head an unlock or push records is written while the command
// goes on (docs/decisions.md #21); run waits for the write.
func openProject(u *ui) (*checkout.Project, error) {
	p, err := checkout.Open(checkoutConfig(u))
	if err != nil {
		return nil, err
	}
	u.deferred = append(u.deferred, p.Home)
	return p, nil
}

// openAccount opens the project and its signed-in account, the start of
// every command that talks to the service as a member.
func openAccount(u *ui) (*checkout.Project, *member.Account, error) {
	p, err := openProject(u)
	if err != nil {
		return nil, nil, err
	}
	a, err := p.Account()
	if err != nil {
		return nil, nil, err
	}
	return p, a, nil
}

// terminal is the checkout use-cases' way to the person (checkout.UI).
type terminal struct{ u *ui }

func (t terminal) Say(format string, a ...any)              { t.u.say(format, a...) }
func (t terminal) Warn(format string, a ...any)             { t.u.warn(format, a...) }
func (t terminal) Wait(label string, fn func() error) error { return t.u.wait(label, fn) }
func (t terminal) Pause() (resume func())                   { return t.u.budget.pause() }

// ConfirmReplacement asks before a file that changed outside capy deletes
// names on the service (or replaces every snippet with plaintext): git
// checks out a branch's tracked .env without a word, and its absence of a
// variable would delete that variable for the whole team.
func (t terminal) ConfirmReplacement(file string, r checkout.Replacement) error {
	var what []string
	if len(r.Removed) > 0 {
		what = append(what, "delete "+strings.Join(r.Removed, ", "))
	}
	if len(r.Changed) > 0 {
		what = append(what, "change "+strings.Join(r.Changed, ", "))
	}
	if len(r.Added) > 0 {
		what = append(what, "add "+strings.Join(r.Added, ", "))
	}
	if r.NoSnippets {
		what = append(what, "replace every encrypted value with the file's plaintext")
	}
	if len(r.Sealed) > 0 {
		what = append(what, "take values a contributor sealed: "+strings.Join(r.Sealed, ", "))
	}
	if r.CopiedSnippets {
		what = append(what, "take encrypted values that were copied into the file (not typed here)")
	}
	desc := fmt.Sprintf("%s changed outside capy and would %s for everyone", file, strings.Join(what, "; "))
	u := t.u
	defer u.hush()()
	if u.stdinIsTTY() {
		u.warn("%s", desc)
		if u.confirm("Push these changes?") {
			return nil
		}
		return withHint(errors.New("nothing was changed"), "declined", "")
	}
	return &cliError{code: "confirm-changes", exit: exitUsage, msg: desc + "; nothing was changed",
		hint: "check `git status` (a branch may have replaced the file); if the changes are yours, run `capy sync --yes`"}
}

// ConfirmPush asks before the first sync of a checkout pushes names the
// file held before capy came (a personal value would go to everyone).
func (t terminal) ConfirmPush(env string, n checkout.PushNames) error {
	u := t.u
	defer u.hush()()
	count := len(n.Added) + len(n.Changed) + len(n.Removed)
	u.say("The first sync of this checkout would push to %s:", env)
	listPush(u, n)
	u.say("Personal values belong in the environment's local file (.env.local), which is never pushed.")
	if u.stdinIsTTY() {
		if u.confirm(fmt.Sprintf("Push these %d name(s) to %s?", count, env)) {
			return nil
		}
		return withHint(errors.New("nothing was pushed"), "declined", "move personal values to .env.local, then run `capy` again")
	}
	return &cliError{code: "confirm-push", exit: exitUsage,
		msg:  fmt.Sprintf("the first sync of this checkout would push %d name(s) to %s; without a terminal it needs --yes; nothing was pushed", count, env),
		hint: "check the names above (`capy sync --dry-run` lists them); if they are for everyone, run `capy sync --yes`"}
}

// listPush prints what a push changes, names only, one line per kind.
func listPush(u *ui, n checkout.PushNames) {
	for _, x := range []struct {
		what  string
		names []string
	}{{"add", n.Added}, {"change", n.Changed}, {"remove", n.Removed}} {
		if len(x.names) > 0 {
			u.say("  %-7s %s", x.what, inert(strings.Join(x.names, ", ")))
		}
	}
}

// collect reads every page of a list (bounded: a service's cursors cannot
// loop it forever).
func collect[T any](fetch func(cursor string) (*api.List[T], error)) ([]T, error) {
	return client.Collect(fetch)
}
