package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

func cmdHistory(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	names := c.Int("names")
	if names < 0 {
		return usageError("--names takes a number of versions (0: none)")
	}
	_, items, changes, err := p.History(c.Context, envFlagValue(c), names)
	if err != nil {
		return err
	}
	type row struct {
		api.BlobMeta
		// Changes: the names this version added, changed and removed;
		// absent for versions older than --names.
		Changes map[string][]string `json:"changes,omitempty"`
	}
	rows := make([]row, len(items))
	for i, b := range items {
		rows[i] = row{BlobMeta: b}
		if n, ok := changes[b.Version]; ok {
			rows[i].Changes = pushJSON(n)
		}
	}
	return u.data(rows, func(w io.Writer) {
		for _, b := range items {
			fmt.Fprintf(w, "v%-5d %s  epoch %d  %s  %s\n", b.Version, b.CreatedAt.Format("2006-01-02 15:04"), b.Epoch, inert(b.CreatedBy.Email), inert(short(b.ID, 12)))
			if n, ok := changes[b.Version]; ok {
				text := pushText(n)
				if text == "" {
					text = "no names changed"
				}
				fmt.Fprintf(w, "       %s\n", text)
			}
		}
		if len(items) > len(changes) && len(changes) > 0 {
			fmt.Fprintf(w, "(names for the newest %d versions; --names N for more)\n", len(changes))
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
	yes := c.Bool("yes")
	res, err := p.Rollback(ctx, envFlagValue(c), v, checkout.RollbackSteps{
		Confirm: func(name string, v, next uint64) error {
			if yes {
				return nil
			}
			if !u.stdinIsTTY() {
				return usageError("pass --yes to roll %s back without a prompt", name)
			}
			if !u.confirm(fmt.Sprintf("Make version %d of %s the newest (as v%d)?", v, name, next)) {
				return withHint(errors.New("nothing was changed"), "declined", "")
			}
			return nil
		},
		Pushed: func(name string, next, v uint64) { u.done("%s v%d now holds the values of v%d", name, next, v) },
	})
	return reportSync(u, res, err)
}

func cmdAudit(u *ui, c *cli.Context) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	org := p.Repo.Project.Org
	// What this machine saw is read before the log is fetched, so every
	// recorded position was named by the service before it served the
	// log and must be in it.
	var seen workspace.AuditHeads
	if c.Bool("verify") {
		if seen, err = p.Home.Org(a.Client.BaseURL(), org).AuditHeads(); err != nil {
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
	// E-mail addresses for the actors' user ids (revoked members too).
	members, err := collect(func(cursor string) (*api.List[api.Member], error) {
		return a.Client.Members(c.Context, org, "all", "", cursor, 200)
	})
	if err != nil {
		return err
	}
	email := map[string]string{}
	for _, m := range members {
		email[m.ID] = m.Email
	}
	f, err := auditFilterOf(c, p, members)
	if err != nil {
		return err
	}
	var kept []api.AuditEntry
	for _, r := range rows {
		if f.keep(r) {
			kept = append(kept, r)
		}
	}
	if n := c.Int("limit"); n > 0 && len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	// --json keeps every row; the text folds repeated co-decrypts.
	type jsonRow struct {
		api.AuditEntry
		ActorEmail string `json:"actor_email,omitempty"`
	}
	out := []jsonRow{}
	for _, r := range kept {
		out = append(out, jsonRow{r, email[r.Actor]})
	}
	who := func(id string) string {
		if e, ok := email[id]; ok {
			return e
		}
		return id
	}
	return u.data(out, func(w io.Writer) {
		lines := foldAudit(kept)
		if c.Bool("no-fold") {
			lines = lines[:0]
			for _, r := range kept {
				lines = append(lines, auditLine{first: r, last: r, count: 1})
			}
		}
		for _, l := range lines {
			r := l.first
			if l.count == 1 {
				fmt.Fprintf(w, "#%-5d %s  %-15s %-7s %s  by %s\n", r.Seq, inert(short(r.Time, 19)), inert(r.Action), inert(r.Result), inert(r.Target), inert(who(r.Actor)))
				continue
			}
			fmt.Fprintf(w, "#%-5d %s  %-15s %-7s ×%d within the hour (#%d–#%d, last %s)  by %s\n", r.Seq, inert(short(r.Time, 19)), inert(r.Action), inert(r.Result),
				l.count, r.Seq, l.last.Seq, inert(clockOf(l.last.Time)), inert(who(r.Actor)))
		}
	})
}

// auditFilterOf reads audit's filter flags: --user takes an e-mail
// address or a usr_/dep_ id, --env a name of this repository or an id.
func auditFilterOf(c *cli.Context, p *checkout.Project, members []api.Member) (auditFilter, error) {
	var f auditFilter
	if who := c.String("user"); who != "" {
		f.actors = map[string]bool{who: true}
		if strings.Contains(who, "@") {
			canon, err := ident.CanonicalEmail(who)
			if err != nil {
				return f, err
			}
			f.actors = map[string]bool{}
			for _, m := range members {
				if m.Email == canon {
					f.actors[m.ID] = true
				}
			}
			if len(f.actors) == 0 {
				return f, withHint(fmt.Errorf("%s is not a member of this organisation, now or before", canon), "not-found", "see `capy members --all`")
			}
		}
	}
	f.action = c.String("action")
	if s := c.String("since"); s != "" {
		t, err := parseSince(s, time.Now())
		if err != nil {
			return f, usageError("%v", err)
		}
		f.since = t
	}
	if e := c.String("env"); e != "" {
		f.envID = e
		if pin, ok := p.Repo.Project.Environments[e]; ok {
			f.envID = pin.ID
		}
	}
	return f, nil
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// clockOf is the HH:MM:SS of an audit time (the whole text if it is not
// of the fixed form).
func clockOf(t string) string {
	if len(t) >= 19 {
		return t[11:19]
	}
	return t
}
