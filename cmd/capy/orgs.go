package main

import (
	"fmt"
	"io"
	"os"
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

func cmdOrgs(u *ui, c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageError("orgs takes no arguments")
	}
	a, err := signedIn(u, c)
	if err != nil {
		return err
	}
	orgs, err := a.Orgs(c.Context)
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
	a, err := signedIn(u, c)
	if err != nil {
		return err
	}
	orgs, err := a.Orgs(c.Context)
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
