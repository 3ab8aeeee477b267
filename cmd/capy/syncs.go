package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

func parsePrefer(s string) (envsync.Prefer, error) {
	switch s {
	case "":
		return envsync.PreferNone, nil
	case "local":
		return envsync.PreferLocal, nil
	case "remote":
		return envsync.PreferRemote, nil
	}
	return 0, usageError("--prefer takes local or remote, not %q", s)
}

func cmdSync(u *ui, c *cli.Context, envName, prefer string, dryRun bool) error {
	pref, err := parsePrefer(prefer)
	if err != nil {
		return err
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	release, err := p.lockCheckout()
	if err != nil {
		return err
	}
	defer release()
	name, pin, err := p.env(envName)
	if err != nil {
		return err
	}
	// The checkout is checked before the unlock (which may repair a pin
	// in project.json): a refused sync writes nothing.
	g, err := p.guardCheckout(pin, c.Bool("yes"))
	if err != nil {
		return err
	}
	kr, _, remote, err := p.memberKeysAndHead(c.Context, pin)
	if errors.Is(err, member.ErrNotSignedIn) {
		// A CI runner has a key but no session: it may sync read-only,
		// and any local change is refused (exit 4).
		// readKeys reports what went wrong with the key it found (a
		// revoked deploy code, one for another environment): that, not
		// "not signed in", is what the runner needs to see.
		ckr, _, remote, kerr := p.readKeys(c.Context, pin, "", false)
		if kerr != nil {
			return kerr
		}
		if remote == nil {
			if _, remote, kerr = p.deployCode(c.Context, pin); kerr != nil {
				return kerr
			}
		}
		if remote == nil {
			return err // a key but no way to reach the service: sign in
		}
		return runSyncWith(u, c, p, g, remote, ckr, name, pin, envsync.Options{Prefer: pref, DryRun: dryRun})
	}
	if err != nil {
		return err
	}
	return runSyncWith(u, c, p, g, remote, kr, name, pin, envsync.Options{Prefer: pref, DryRun: dryRun})
}

// runSync syncs one environment, records the result and reports it.
func runSync(u *ui, c *cli.Context, p *project, g *checkoutGuard, a *member.Account, kr envsync.EnvKeys, name string, pin workspace.EnvPin, opt envsync.Options) error {
	return runSyncWith(u, c, p, g, p.remote(a, pin), kr, name, pin, opt)
}

// runSyncWith syncs with the checkout guard g (nil: made here).
func runSyncWith(u *ui, c *cli.Context, p *project, g *checkoutGuard, remote *member.Remote, kr envsync.EnvKeys, name string, pin workspace.EnvPin, opt envsync.Options) error {
	if g == nil {
		var err error
		if g, err = p.guardCheckout(pin, c.Bool("yes")); err != nil {
			return err
		}
	}
	opt = g.options(opt)
	var rep *envsync.Report
	err := u.wait("syncing "+name, func() error {
		var err error
		rep, err = envsync.Sync(c.Context, remote, kr, p.syncEnv(name, pin), opt)
		return err
	})
	if err != nil {
		return err
	}
	if !opt.DryRun {
		if err := p.record(name, pin, rep.State, kr); err != nil {
			return err
		}
		if g.changed && !rep.FileChanged {
			// An edit made outside capy that the sync took as it was: the
			// file is now what the service holds, as if capy wrote it.
			if err := g.wrote(rep.File); err != nil {
				return err
			}
		}
	}
	out := map[string]any{
		"environment": name, "version": rep.Version, "pushed": rep.Pushed, "file_changed": rep.FileChanged,
		"added": nonNil(rep.Added), "updated": nonNil(rep.Updated), "removed": nonNil(rep.Removed), "dry_run": opt.DryRun,
	}
	if !u.json {
		var parts []string
		if rep.Pushed || (opt.DryRun && rep.PushedChanges > 0) {
			parts = append(parts, fmt.Sprintf("%s %d change(s)", tense(opt.DryRun, "pushed", "would push"), rep.PushedChanges))
		}
		for _, x := range []struct {
			done, would string
			names       []string
		}{{"added", "would add", rep.Added}, {"updated", "would update", rep.Updated}, {"removed", "would remove", rep.Removed}} {
			if len(x.names) > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", tense(opt.DryRun, x.done, x.would), strings.Join(x.names, ", ")))
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "up to date")
		}
		u.done("%s v%d: %s", name, rep.Version, strings.Join(parts, "; "))
	}
	return u.data(out, nil)
}

func tense(dry bool, done, would string) string {
	if dry {
		return would
	}
	return done
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cmdStatus(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, pin, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	kr, _, remote, err := p.memberKeysAndHead(c.Context, pin)
	if err != nil {
		return err
	}
	env, err := p.checkedEnv(name, pin)
	if err != nil {
		return err
	}
	// The local snippets are at the epoch the last sync wrote them in; a
	// teammate's rotation moves the pin (project.json comes with git)
	// before this checkout has synced, so the pin is only the fallback.
	localEpoch := env.State.Epoch
	if localEpoch == 0 {
		localEpoch = pin.Epoch
	}
	cipher, err := kr.Cipher(localEpoch)
	if err != nil {
		return err
	}
	local, err := envsync.ReadLocal(env.File, cipher)
	if err != nil {
		return err
	}
	// A dry run computes the merge without writing or pushing anything.
	rep, err := envsync.Sync(c.Context, remote, kr, env, envsync.Options{DryRun: true})
	conflicts := []string{}
	if ce, ok := err.(*envsync.ConflictError); ok {
		for _, x := range ce.Conflicts {
			conflicts = append(conflicts, x.Name)
		}
	} else if err != nil {
		return err
	}
	st := map[string]any{"environment": name, "file": pin.File, "plaintext": nonNil(local.Plaintext),
		"base_version": env.State.BaseVersion, "conflicts": conflicts}
	if rep != nil {
		st["remote_version"] = rep.Version
		st["to_push"] = rep.PushedChanges
		st["incoming_added"], st["incoming_updated"], st["incoming_removed"] = nonNil(rep.Added), nonNil(rep.Updated), nonNil(rep.Removed)
	}
	return u.data(st, func(w io.Writer) {
		fmt.Fprintf(w, "environment %s (%s), synced at v%d\n", name, pin.File, env.State.BaseVersion)
		if len(local.Plaintext) > 0 {
			fmt.Fprintf(w, "  not yet encrypted: %s\n", strings.Join(local.Plaintext, ", "))
		}
		if len(conflicts) > 0 {
			fmt.Fprintf(w, "  conflicts: %s (capy sync --prefer local|remote)\n", strings.Join(conflicts, ", "))
			return
		}
		if rep != nil {
			fmt.Fprintf(w, "  service at v%d; %d change(s) to push\n", rep.Version, rep.PushedChanges)
			for _, x := range []struct {
				what  string
				names []string
			}{{"incoming new", rep.Added}, {"incoming changed", rep.Updated}, {"incoming removed", rep.Removed}} {
				if len(x.names) > 0 {
					fmt.Fprintf(w, "  %s: %s\n", x.what, strings.Join(x.names, ", "))
				}
			}
		}
	})
}
