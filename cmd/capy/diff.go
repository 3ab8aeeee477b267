package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/urfave/cli/v2"
)

// mask stands for a value `capy diff` does not show.
const mask = "••••••"

func cmdDiff(u *ui, c *cli.Context) error {
	if c.Args().Len() > 1 {
		return usageError("diff takes at most one argument: a version (see `capy history`)")
	}
	var version uint64
	if c.Args().Len() == 1 {
		v, err := strconv.ParseUint(c.Args().First(), 10, 53)
		if err != nil || v == 0 {
			return usageError("VERSION is a positive number")
		}
		version = v
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	d, err := p.Diff(c.Context, envFlagValue(c), version)
	if err != nil {
		return err
	}
	show := c.Bool("show")
	value := func(s string) string {
		if show {
			return s
		}
		return mask
	}
	entries := func(es []checkout.DiffEntry, local, remote bool) []map[string]string {
		out := []map[string]string{}
		for _, e := range es {
			m := map[string]string{"name": e.Name}
			if show && local {
				m["local"] = e.Local
			}
			if show && remote {
				m["remote"] = e.Remote
			}
			out = append(out, m)
		}
		return out
	}
	out := map[string]any{"environment": d.Env, "file": d.File, "version": d.Version,
		"added": entries(d.Added, true, false), "changed": entries(d.Changed, true, true), "removed": entries(d.Removed, false, true)}
	return u.data(out, func(w io.Writer) {
		if len(d.Added)+len(d.Changed)+len(d.Removed) == 0 {
			fmt.Fprintf(w, "%s is the same as %s v%d\n", d.File, d.Env, d.Version)
			return
		}
		fmt.Fprintf(w, "%s against %s v%d (+ only in the file, - only in the version, ~ different):\n", d.File, d.Env, d.Version)
		for _, e := range d.Added {
			fmt.Fprintf(w, "+ %s=%s\n", e.Name, inert(value(e.Local)))
		}
		for _, e := range d.Changed {
			fmt.Fprintf(w, "~ %s: %s → %s\n", e.Name, inert(value(e.Remote)), inert(value(e.Local)))
		}
		for _, e := range d.Removed {
			fmt.Fprintf(w, "- %s=%s\n", e.Name, inert(value(e.Remote)))
		}
	})
}
