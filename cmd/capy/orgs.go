package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

// table writes rows under a header, columns aligned.
func table(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, inert(c))
		}
		fmt.Fprintln(tw)
	}
	line(header)
	for _, r := range rows {
		line(r)
	}
	tw.Flush()
}

// signedInOrgs signs in and lists the account's organisations (every
// page): what `capy orgs` and `capy projects` both start from.
func signedInOrgs(u *ui, c *cli.Context) (*member.Account, []api.Org, error) {
	a, err := signedIn(u, c)
	if err != nil {
		return nil, nil, err
	}
	orgs, err := a.Orgs(c.Context)
	return a, orgs, err
}

func cmdOrgs(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("orgs takes no arguments")
	}
	_, orgs, err := signedInOrgs(u, c)
	if err != nil {
		return err
	}
	return u.data(orgs, func(w io.Writer) {
		if len(orgs) == 0 {
			fmt.Fprintln(w, "no organisations (join one with `capy redeem CODE`, or create one with `capy init --new-org NAME`)")
			return
		}
		rows := make([][]string, len(orgs))
		for i, o := range orgs {
			rows[i] = []string{o.Name, o.ID, string(o.Role), o.CreatedAt.UTC().Format(time.DateOnly)}
		}
		table(w, []string{"NAME", "ID", "ROLE", "CREATED"}, rows)
	})
}

// projectRow is a project as `capy projects --json` shows it: with its
// organisation's name.
type projectRow struct {
	api.Project
	OrgName string `json:"org_name"`
}

func cmdProjects(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("projects takes no arguments (--org NAME|ID)")
	}
	a, orgs, err := signedInOrgs(u, c)
	if err != nil {
		return err
	}
	// --org names one; in a linked repository its organisation is the
	// default; elsewhere every organisation's projects are listed.
	arg := c.String("org")
	if arg == "" {
		wd, _ := os.Getwd()
		if r, err := workspace.FindRepo(wd); err == nil {
			arg = r.Project.Org
		}
	}
	if arg != "" {
		org, err := member.FindOrg(orgs, arg)
		if err != nil {
			return usageError("%v (`capy orgs` lists yours)", err)
		}
		orgs = []api.Org{*org}
	}
	rows := []projectRow{}
	for _, o := range orgs {
		prjs, err := a.Projects(c.Context, o.ID)
		if err != nil {
			return err
		}
		for _, p := range prjs {
			rows = append(rows, projectRow{Project: p, OrgName: o.Name})
		}
	}
	return u.data(rows, func(w io.Writer) {
		if len(rows) == 0 {
			fmt.Fprintln(w, "no projects (create one with `capy init --org NAME` in a repository)")
			return
		}
		cells := make([][]string, len(rows))
		for i, r := range rows {
			cells[i] = []string{r.Name, r.ID, r.OrgName, r.CreatedAt.UTC().Format(time.DateOnly)}
		}
		table(w, []string{"NAME", "ID", "ORGANISATION", "CREATED"}, cells)
	})
}

// parseGrace reads --offline-grace: a Go duration (30m, 8h) or whole days
// (2d), 0 or off for off; whole seconds, at most 7 days.
func parseGrace(v string) (time.Duration, error) {
	if v == "0" || strings.EqualFold(v, "off") {
		return 0, nil
	}
	var d time.Duration
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 7 {
			return 0, usageError("--offline-grace %q: days must be 1 to 7 (or a duration such as 8h; 0 or off: off)", v)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, usageError("--offline-grace %q is not a duration (30m, 8h, 2d; 0 or off: off)", v)
		}
	}
	if d < time.Second || d > maxGrace || d%time.Second != 0 {
		return 0, usageError("--offline-grace %q: from 1s to 7d in whole seconds (0 or off: off)", v)
	}
	return d, nil
}

// maxGrace is the longest offline grace (keys.MaxOfflineGrace).
const maxGrace = 7 * 24 * time.Hour

// fmtGrace shows an offline grace: "off", "8h", "1h30m", "7d".
func fmtGrace(d time.Duration) string {
	switch {
	case d <= 0:
		return "off"
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// orgArg resolves --org (a name or id), else this repository's org, else
// the only one the account has.
func orgArg(c *cli.Context, orgs []api.Org) (*api.Org, error) {
	arg := c.String("org")
	if arg == "" {
		wd, _ := os.Getwd()
		if r, err := workspace.FindRepo(wd); err == nil {
			arg = r.Project.Org
		}
	}
	if arg == "" {
		if len(orgs) == 1 {
			return &orgs[0], nil
		}
		return nil, usageError("pass --org NAME|ID (`capy orgs` lists yours)")
	}
	org, err := member.FindOrg(orgs, arg)
	if err != nil {
		return nil, usageError("%v (`capy orgs` lists yours)", err)
	}
	return org, nil
}

func cmdOrgPolicy(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("org policy takes no arguments (--offline-grace DURATION, --org NAME|ID)")
	}
	set := c.IsSet("offline-grace")
	var grace time.Duration
	if set {
		var err error
		if grace, err = parseGrace(c.String("offline-grace")); err != nil {
			return err
		}
	}
	a, err := signedIn(u, c)
	if err != nil {
		return err
	}
	orgs, err := a.Orgs(c.Context)
	if err != nil {
		return err
	}
	org, err := orgArg(c, orgs)
	if err != nil {
		return err
	}
	if set {
		if org, err = a.SetOfflineGrace(c.Context, org.ID, grace); err != nil {
			return err
		}
	}
	g := member.OfflineGrace(*org)
	if set {
		u.done("offline grace of %s set to %s", inert(org.Name), fmtGrace(g))
	}
	return u.data(map[string]any{"org": org.ID, "name": org.Name, "offline_grace_seconds": int64(g / time.Second)}, func(w io.Writer) {
		fmt.Fprintf(w, "%s (%s): offline grace %s\n", inert(org.Name), org.ID, fmtGrace(g))
		if g > 0 {
			fmt.Fprintf(w, "members' machines may read for %s after their last unlock while the service cannot be reached\n", fmtGrace(g))
		}
	})
}
