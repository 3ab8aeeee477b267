package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/urfave/cli/v2"
)

func cmdEnvList(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	cur, _, _ := p.Env("")
	type row struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		File    string `json:"file"`
		Epoch   uint32 `json:"epoch"`
		Current bool   `json:"current"`
	}
	var rows []row
	for _, n := range p.Repo.EnvNames() {
		e := p.Repo.Project.Environments[n]
		rows = append(rows, row{n, e.ID, e.File, e.Epoch, n == cur})
	}
	return u.data(rows, func(w io.Writer) {
		for _, r := range rows {
			mark := " "
			if r.Current {
				mark = "*"
			}
			fmt.Fprintf(w, "%s %-14s %-20s epoch %d  %s\n", mark, r.Name, r.File, r.Epoch, r.ID)
		}
	})
}

func cmdEnvCreate(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("env create takes one argument: the name")
	}
	name := c.Args().First()
	if !workspace.ValidEnvName(name) {
		return usageError("environment names use lowercase letters, digits, '-' and '_'")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	if _, ok := p.Repo.Project.Environments[name]; ok {
		return usageError("environment %s already exists", name)
	}
	file := c.String("file")
	if file == "" {
		file = member.DefaultEnvFile(name)
	}
	if err := p.CreateEnv(c.Context, name, file); err != nil {
		return err
	}
	u.done("created environment %s (file %s); `capy env switch %s` to use it", name, file, name)
	u.say("Commit .capy/project.json (it now names %s, with the key that signs it) and .gitignore; never %s.", name, file)
	return nil
}

func cmdEnvSwitch(u *ui, c *cli.Context) error {
	if c.Args().Len() != 1 {
		return usageError("env switch takes one argument: the name")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, pin, err := p.Switch(c.Args().First())
	if err != nil {
		return err
	}
	u.done("now using %s (%s)", name, pin.File)
	return nil
}

func cmdEnvRotate(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, _, err := p.Env(c.Args().First())
	if err != nil {
		return err
	}
	if !c.Bool("yes") {
		if !u.stdinIsTTY() {
			return usageError("rotating revokes every deploy code of %s; pass --yes to confirm", name)
		}
		if !u.confirm(fmt.Sprintf("Rotate %s to a new key? Every deploy code of %s stops working.", name, name)) {
			return withHint(errors.New("nothing was changed"), "declined", "")
		}
	}
	res, err := p.Rotate(c.Context, name, func(name string, epoch uint32, revoked int) {
		u.done("%s is at epoch %d; %d deploy code(s) revoked: mint new ones with `capy deploy --env %s`", name, epoch, revoked, name)
		u.say("Commit .capy/project.json (it pins the new key).")
	})
	return reportSync(u, res, err)
}
