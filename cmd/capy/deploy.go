package main

import (
	"fmt"
	"io"
	"os"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/urfave/cli/v2"
)

func cmdDeploy(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, _, err := p.Env(envFlagValue(c))
	if err != nil {
		return err
	}
	code, d, err := p.MintDeploy(c.Context, name, c.String("name"), c.Duration("expires"))
	if err != nil {
		return err
	}
	u.done("deploy code %s for %s (epoch %d), expires %s", d.ID, name, d.Epoch, d.ExpiresAt.Format("2006-01-02"))
	u.say("Store it as the CI secret CAPY_DEPLOY_CODE; it is shown only now. In CI: capy ci && capy run -- CMD")
	return u.data(map[string]any{"code": code, "deploy": d}, func(w io.Writer) { fmt.Fprintln(w, code) })
}

func cmdDeployList(u *ui, c *cli.Context) error {
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	envID := ""
	if envFlagValue(c) != "" {
		_, pin, err := p.Env(envFlagValue(c))
		if err != nil {
			return err
		}
		envID = pin.ID
	}
	status := ""
	if c.Bool("all") {
		status = "all"
	}
	items, err := collect(func(cursor string) (*api.List[api.Deploy], error) {
		return a.Client.Deploys(c.Context, p.Repo.Project.Org, envID, "", status, cursor, 200)
	})
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		if len(items) > 0 {
			fmt.Fprintf(w, "%-30s  %-12s %-8s %-12s %-5s %-24s %s\n", "ID", "NAME", "STATUS", "ENVIRONMENT", "EPOCH", "BY", "EXPIRES")
		}
		for _, d := range items {
			env := envName(p, d.Env)
			fmt.Fprintf(w, "%-30s  %-12s %-8s %-12s %-5d %-24s %s\n", inert(d.ID), inert(d.Name), inert(d.Status), inert(env), d.Epoch,
				inert(d.CreatedBy.Email), d.ExpiresAt.Format("2006-01-02"))
		}
	})
}

func cmdDeployRevoke(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 || ident.CheckID(ident.Deploy, c.Args().First()) != nil {
		return usageError("deploy revoke takes one deploy id (dep_…; see `capy deploy ls`)")
	}
	p, a, err := openAccount(u)
	if err != nil {
		return err
	}
	d, err := a.Client.RevokeDeploy(c.Context, p.Repo.Project.Org, c.Args().First())
	if err != nil {
		return err
	}
	u.done("deploy code %s revoked", d.ID)
	return nil
}

func cmdCI(u *ui, c *cli.Context) error {
	if os.Getenv("CAPY_DEPLOY_CODE") == "" {
		return usageError("CAPY_DEPLOY_CODE is not set")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	res, err := p.SetUpCI(c.Context, checkout.CIOptions{URLOverride: c.String("url-override"), KeyFile: c.String("key-file"), NoWrite: c.Bool("no-write"), Env: envFlagValue(c)})
	if err != nil {
		return err
	}
	if !res.Written {
		u.done("deploy code works for %s (epoch %d); nothing written", res.Env, res.Epoch)
		return nil
	}
	u.done("%s v%d written to %s; key file %s", res.Env, res.Version, res.File, res.KeyFile)
	return nil
}

// envName is an environment's name as project.json gives it; an id this
// repository does not list (another project's) stays an id.
func envName(p *checkout.Project, id string) string {
	for n, e := range p.Repo.Project.Environments {
		if e.ID == id {
			return n
		}
	}
	return id
}
