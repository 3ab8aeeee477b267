package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
	"github.com/urfave/cli/v2"
)

func cmdEnvList(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	cur, _, _ := p.env("")
	type row struct {
		Name    string `json:"name"`
		ID      string `json:"id"`
		File    string `json:"file"`
		Epoch   uint32 `json:"epoch"`
		Current bool   `json:"current"`
	}
	var rows []row
	for _, n := range p.repo.EnvNames() {
		e := p.repo.Project.Environments[n]
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
	if _, ok := p.repo.Project.Environments[name]; ok {
		return usageError("environment %s already exists", name)
	}
	file := c.String("file")
	if file == "" {
		file = member.DefaultEnvFile(name)
	}
	a, err := p.account()
	if err != nil {
		return err
	}
	m, err := p.unlock(c.Context, a)
	if err != nil {
		return err
	}
	if _, err := a.NewEnv(c.Context, &m, &p.repo.Project, name, file); err != nil {
		return err
	}
	if err := p.repo.SaveProject(); err != nil {
		return err
	}
	if err := ignoreFiles(p.repo); err != nil {
		return err
	}
	u.done("created environment %s (file %s); `capy env switch %s` to use it", name, file, name)
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
	release, err := p.lockCheckout()
	if err != nil {
		return err
	}
	defer release()
	name, pin, err := p.env(c.Args().First())
	if err != nil {
		return err
	}
	p.state.Current = name
	if err := p.saveState(); err != nil {
		return err
	}
	u.done("now using %s (%s)", name, pin.File)
	return nil
}

func cmdEnvRotate(u *ui, c *cli.Context) error {
	ctx := c.Context
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, pin, err := p.env(c.Args().First())
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
	release, err := p.lockCheckout()
	if err != nil {
		return err
	}
	defer release()
	// Checked before the rotation: the sync at the end would check the
	// local file only after the service had rotated.
	g, err := p.guardCheckout(pin, false)
	if err != nil {
		return err
	}
	if err := g.refuseChanged("a rotation"); err != nil {
		return err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return err
	}
	env, err := a.Client.Env(ctx, p.repo.Project.Org, p.repo.Project.Project, pin.ID)
	if err != nil {
		return err
	}
	side := envsync.NewSide()
	parent, version := wrap.NoParent, uint64(1)
	head, err := p.remote(a, pin).Head(ctx)
	if err != nil {
		return err
	}
	senv, err := p.checkedEnv(name, pin)
	if err != nil {
		return err
	}
	// Checked as a sync checks it: the rotation re-signs the head's values
	// under the new epoch, so a rolled-back, forked or emptied head would
	// be made permanent.
	hb, hside, err := envsync.VerifyHead(head, kr, senv)
	if err != nil {
		return err
	}
	seenEpoch := max(pin.Epoch, senv.State.Epoch)
	if hb != nil {
		side, parent, version = hside, hb.ID(), hb.Version+1
		seenEpoch = max(seenEpoch, hb.Epoch)
	}
	// The service's epoch says which epoch it will accept next; it must
	// move above every epoch this machine knows of. A lower one would
	// re-encrypt under an epoch whose key may already have leaked (a
	// revoked deploy code's) and lower the pin.
	next := env.Epoch + 1
	if next <= seenEpoch {
		return fmt.Errorf("%w (the service says %s is at epoch %d; this checkout has seen epoch %d)", wrap.ErrEpochRollback, name, env.Epoch, seenEpoch)
	}
	nb, err := envsync.BuildVersion(kr, p.repo.Project.Project, pin.ID, next, version, parent, side.Values)
	if err != nil {
		return err
	}
	pub, _ := kr.PublicKey(next)
	res, err := a.Client.Rotate(ctx, p.repo.Project.Org, p.repo.Project.Project, pin.ID,
		api.RotateRequest{Epoch: next, SigningPublicKey: api.Bytes(pub), Text: string(nb.Raw())})
	if err != nil {
		return err
	}
	pin.Epoch, pin.SigningKey = next, b64(pub)
	p.repo.Project.Environments[name] = pin
	if err := p.repo.SaveProject(); err != nil {
		return err
	}
	u.done("%s is at epoch %d; %d deploy code(s) revoked: mint new ones with `capy deploy --env %s`", name, next, len(res.RevokedDeploys), name)
	u.say("Commit .capy/project.json (it pins the new key).")
	return runSync(u, c, p, g, a, kr, name, pin, envsync.Options{})
}
