package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/urfave/cli/v2"
)

func parsePrefer(s string) (checkout.Prefer, error) {
	switch s {
	case "":
		return checkout.PreferNone, nil
	case "local":
		return checkout.PreferLocal, nil
	case "remote":
		return checkout.PreferRemote, nil
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
	res, err := p.Sync(c.Context, envName, checkout.SyncOptions{Prefer: pref, DryRun: dryRun, Yes: c.Bool("yes")})
	return reportSync(u, res, err)
}

// reportSync reports what a sync did (nothing when there was no sync), or
// passes its error on.
func reportSync(u *ui, res *checkout.SyncResult, err error) error {
	if err != nil || res == nil {
		return err
	}
	out := map[string]any{
		"environment": res.Env, "version": res.Version, "pushed": res.Pushed, "file_changed": res.FileChanged,
		"added": nonNil(res.Added), "updated": nonNil(res.Updated), "removed": nonNil(res.Removed), "dry_run": res.DryRun,
		"adopted": nonNil(res.Adopted),
		"push":    pushJSON(res.Push),
	}
	if len(res.Adopted) > 0 && !u.json {
		u.say("%s %s: value(s) a contributor sealed (capy encrypt), now encrypted for the team", tense(res.DryRun, "adopted", "would adopt"), strings.Join(res.Adopted, ", "))
	}
	if !u.json {
		var parts []string
		if res.Pushed || (res.DryRun && res.PushedChanges > 0) {
			parts = append(parts, fmt.Sprintf("%s %d change(s) (%s)", tense(res.DryRun, "pushed", "would push"), res.PushedChanges, pushText(res.Push)))
		}
		for _, x := range []struct {
			done, would string
			names       []string
		}{{"added", "would add", res.Added}, {"updated", "would update", res.Updated}, {"removed", "would remove", res.Removed}} {
			if len(x.names) > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", tense(res.DryRun, x.done, x.would), strings.Join(x.names, ", ")))
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "up to date")
		}
		u.done("%s v%d: %s", res.Env, res.Version, strings.Join(parts, "; "))
	}
	return u.data(out, nil)
}

// pushJSON is what a push changes on the service, for --json.
func pushJSON(n checkout.PushNames) map[string][]string {
	return map[string][]string{"added": nonNil(n.Added), "changed": nonNil(n.Changed), "removed": nonNil(n.Removed)}
}

// pushText names what a push changes on the service, on one line.
func pushText(n checkout.PushNames) string {
	var parts []string
	for _, x := range []struct {
		what  string
		names []string
	}{{"add", n.Added}, {"change", n.Changed}, {"remove", n.Removed}} {
		if len(x.names) > 0 {
			parts = append(parts, x.what+" "+inert(strings.Join(x.names, ", ")))
		}
	}
	return strings.Join(parts, "; ")
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
	s, err := p.Status(c.Context, envFlagValue(c))
	if err != nil {
		return err
	}
	rep := s.Remote
	st := map[string]any{"environment": s.Env, "file": s.File, "plaintext": nonNil(s.Plaintext),
		"base_version": s.BaseVersion, "conflicts": s.Conflicts,
		"local_file": s.LocalFile, "local_override": nonNil(s.Local)}
	if rep != nil {
		st["remote_version"] = rep.HeadVersion
		st["to_push"] = rep.PushedChanges
		st["push"] = pushJSON(rep.Push)
		st["incoming_added"], st["incoming_updated"], st["incoming_removed"] = nonNil(rep.Added), nonNil(rep.Updated), nonNil(rep.Removed)
	}
	return u.data(st, func(w io.Writer) {
		fmt.Fprintf(w, "environment %s (%s), synced at v%d\n", s.Env, s.File, s.BaseVersion)
		if len(s.Plaintext) > 0 {
			fmt.Fprintf(w, "  not yet encrypted: %s\n", strings.Join(s.Plaintext, ", "))
		}
		if len(s.Local) > 0 {
			fmt.Fprintf(w, "  local override (%s, never pushed): %s\n", s.LocalFile, strings.Join(s.Local, ", "))
		}
		if len(s.LocalPlaintext) > 0 {
			fmt.Fprintf(w, "  not yet encrypted in %s: %s\n", s.LocalFile, strings.Join(s.LocalPlaintext, ", "))
		}
		if len(s.Conflicts) > 0 {
			fmt.Fprintf(w, "  conflicts: %s (capy sync --prefer local|remote)\n", strings.Join(s.Conflicts, ", "))
			return
		}
		if rep != nil {
			fmt.Fprintf(w, "  service at v%d; %d change(s) to push\n", rep.HeadVersion, rep.PushedChanges)
			if rep.PushedChanges > 0 {
				fmt.Fprintf(w, "  to push: %s\n", pushText(rep.Push))
			}
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
