package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

func cmdHistory(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	_, pin, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	a, err := p.account()
	if err != nil {
		return err
	}
	items, err := collect(func(cursor string) (*api.List[api.BlobMeta], error) {
		return a.Client.Versions(c.Context, p.repo.Project.Org, p.repo.Project.Project, pin.ID, cursor, 200)
	})
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		for _, b := range items {
			fmt.Fprintf(w, "v%-5d %s  epoch %d  %s  %s\n", b.Version, b.CreatedAt.Format("2006-01-02 15:04"), b.Epoch, inert(b.CreatedBy.Email), inert(short(b.ID, 12)))
		}
	})
}

func cmdRollback(u *ui, c *cli.Context) error {
	ctx := c.Context
	if c.Args().Len() != 1 {
		return usageError("rollback takes one argument: the version (see `capy history`)")
	}
	v, err := strconv.ParseUint(c.Args().First(), 10, 53)
	if err != nil || v == 0 {
		return usageError("VERSION is a positive number")
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
	name, pin, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	// Checked before anything is pushed: the sync at the end would check
	// the local file only after the rollback is on the service.
	g, err := p.guardCheckout(pin, false)
	if err != nil {
		return err
	}
	if err := g.refuseChanged("a rollback"); err != nil {
		return err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return err
	}
	r := p.remote(a, pin)
	env, err := p.checkedEnv(name, pin)
	if err != nil {
		return err
	}
	// The head first, checked as a sync checks it: a null head, an older
	// version or a fork is refused before anything is signed on top of it.
	head, err := r.Head(ctx)
	if err != nil {
		return err
	}
	hb, _, err := envsync.VerifyHead(head, kr, env)
	if err != nil {
		return err
	}
	if hb == nil {
		return withHint(fmt.Errorf("environment %s has no versions yet", name), "not-found", "see `capy history`")
	}
	if v > hb.Version {
		return withHint(fmt.Errorf("environment %s has no version %d (the newest is %d)", name, v, hb.Version), "not-found", "see `capy history`")
	}
	// The version to bring back must be exactly the one asked for (and the
	// very blob this machine saw, if it is the one state.json recorded):
	// a service answering with another version would make the message
	// below a lie.
	oldID := ""
	if st := env.State; v == st.BaseVersion {
		oldID = st.BaseID
	} else if v == st.SeenVersion {
		oldID = st.SeenID
	}
	_, oldSide, err := envsync.FetchVersion(ctx, r, kr, env, v, oldID)
	if err != nil {
		return err
	}
	if hb.Version == v {
		return withHint(errors.New("that version is already the newest"), "noop", "")
	}
	if !c.Bool("yes") {
		if !u.stdinIsTTY() {
			return usageError("pass --yes to roll %s back without a prompt", name)
		}
		if !u.confirm(fmt.Sprintf("Make version %d of %s the newest (as v%d)?", v, name, hb.Version+1)) {
			return withHint(errors.New("nothing was changed"), "declined", "")
		}
	}
	nb, err := envsync.BuildVersion(kr, p.repo.Project.Project, pin.ID, hb.Epoch, hb.Version+1, hb.ID(), oldSide.Values)
	if err != nil {
		return err
	}
	if err := r.Push(ctx, string(nb.Raw())); err != nil {
		return err
	}
	u.done("%s v%d now holds the values of v%d", name, hb.Version+1, v)
	// Bring the local file along: the rollback is a remote change.
	return runSync(u, c, p, g, a, kr, name, pin, envsync.Options{Prefer: envsync.PreferRemote})
}

func cmdAudit(u *ui, c *cli.Context) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	org := p.repo.Project.Org
	// What this machine saw is read before the log is fetched, so every
	// recorded position was named by the service before it served the
	// log and must be in it.
	var seen workspace.AuditHeads
	if c.Bool("verify") {
		if seen, err = p.home.Org(a.Client.BaseURL(), org).AuditHeads(); err != nil {
			return err
		}
	}
	var rows []api.AuditEntry
	var head api.AuditHead
	var pages client.Pager
	for cursor, more := "", true; more; {
		page, err := a.Client.Audit(c.Context, org, 1, cursor, 1000)
		if err != nil {
			return err
		}
		rows = append(rows, page.Items...)
		head = page.Head
		if cursor, more, err = pages.Next(page.NextCursor); err != nil {
			return err
		}
	}
	if c.Bool("verify") {
		checked, err := member.VerifyAudit(rows, append([]workspace.AuditHead{seen.Highest}, seen.Recent...))
		if err != nil {
			return withHint(err, "audit-broken", "the service's audit log was altered; tell your administrator")
		}
		if checked == 0 {
			u.done("audit chain of %d entries verifies; this machine has recorded no entry of it yet", len(rows))
		} else {
			u.done("audit chain of %d entries verifies; it contains the %d entries this machine saw (newest #%d)", len(rows), checked, seen.Highest.Seq)
		}
		return u.data(map[string]any{"valid": true, "rows": len(rows), "head": head, "seen": seen.Highest, "checked": checked}, nil)
	}
	if n := c.Int("limit"); n > 0 && len(rows) > n {
		rows = rows[len(rows)-n:]
	}
	if rows == nil {
		rows = []api.AuditEntry{}
	}
	return u.data(rows, func(w io.Writer) {
		for _, r := range rows {
			fmt.Fprintf(w, "#%-5d %s  %-15s %-7s %s  by %s\n", r.Seq, inert(short(r.Time, 19)), inert(r.Action), inert(r.Result), inert(r.Target), inert(r.Actor))
		}
	})
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
