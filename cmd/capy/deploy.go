package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
	"github.com/urfave/cli/v2"
)

func cmdDeploy(u *ui, c *cli.Context) error {
	p, err := openProject(u)
	if err != nil {
		return err
	}
	name, _, err := p.env(envFlagValue(c))
	if err != nil {
		return err
	}
	a, err := p.account()
	if err != nil {
		return err
	}
	m, err := p.unlock(c.Context, a)
	if err != nil {
		return err
	}
	code, d, err := a.MintDeploy(c.Context, &m, &p.repo.Project, name, c.String("name"), c.Duration("expires"))
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
		_, pin, err := p.env(envFlagValue(c))
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
		return a.Client.Deploys(c.Context, p.repo.Project.Org, envID, "", status, cursor, 200)
	})
	if err != nil {
		return err
	}
	return u.data(items, func(w io.Writer) {
		for _, d := range items {
			fmt.Fprintf(w, "%s  %-12s %-8s env %s epoch %d  by %s  expires %s\n", inert(d.ID), inert(d.Name), inert(d.Status), inert(d.Env), d.Epoch,
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
	d, err := a.Client.RevokeDeploy(c.Context, p.repo.Project.Org, c.Args().First())
	if err != nil {
		return err
	}
	u.done("deploy code %s revoked", d.ID)
	return nil
}

// deployDecrypt checks a deploy code against project.json (or the
// override) and runs the deploy decrypt.
func deployDecrypt(ctx context.Context, p *project, text, override string) (*member.CIGrant, *client.Client, error) {
	code, err := wrap.ParseDeployCode(text)
	if err != nil {
		return nil, nil, fmt.Errorf("CAPY_DEPLOY_CODE: %w", err)
	}
	want := p.repo.Project.Service
	if override != "" {
		if want, err = ident.CheckServiceURL(override); err != nil {
			return nil, nil, err
		}
	}
	if code.URL != want {
		return nil, nil, withHint(fmt.Errorf("the deploy code is for %s but this repository uses %s", code.URL, want),
			"code-url-mismatch", "use a code minted for this service, or --url-override URL if you moved the service")
	}
	cl, err := newClient(p.u, code.URL)
	if err != nil {
		return nil, nil, err
	}
	g, err := member.DeployDecrypt(ctx, cl, code, &p.repo.Project)
	if err != nil {
		return nil, nil, err
	}
	return g, cl, nil
}

func cmdCI(u *ui, c *cli.Context) error {
	text := os.Getenv("CAPY_DEPLOY_CODE")
	if text == "" {
		return usageError("CAPY_DEPLOY_CODE is not set")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	// ci rewrites .env and state.json: it takes its turn like every
	// other writer of the checkout.
	release, err := p.lockCheckout()
	if err != nil {
		return err
	}
	defer release()
	g, _, err := deployDecrypt(c.Context, p, text, c.String("url-override"))
	if err != nil {
		return err
	}
	var name string
	var pin workspace.EnvPin
	for n, e := range p.repo.Project.Environments {
		if e.ID == g.KeyFile.EnvID {
			name, pin = n, e
		}
	}
	if name == "" {
		return &cliError{code: "code-mismatch", exit: exitForbidden, msg: "the deploy code is for an environment this repository does not list",
			hint: "commit an up-to-date .capy/project.json"}
	}
	kr, err := member.CIKeyring(g.KeyFile, pin)
	if err != nil {
		return err
	}
	// A runner that keeps its checkout has seen versions before: the head
	// is checked against state.json exactly as a member's sync checks it
	// (no older version, no other blob at a seen version, no "no versions",
	// base + 1 on the base). Only a runner that has seen nothing takes
	// whatever verifies (the documented limit of a fresh machine).
	env, err := p.checkedEnv(name, pin)
	if err != nil {
		return err
	}
	var head *envsync.RemoteBlob
	if g.Head != nil {
		head = &envsync.RemoteBlob{Version: g.Head.Version, Text: g.Head.Text}
	}
	b, side, err := envsync.VerifyHead(head, kr, env)
	if err != nil {
		return err
	}
	if c.Bool("no-write") {
		u.done("deploy code works for %s (epoch %d); nothing written", name, g.KeyFile.Epoch)
		return nil
	}
	// A runner takes the verified head as it is: the file is rebuilt from
	// its snippets (still ciphertext) and replaced atomically.
	doc, _ := envfile.Parse(nil)
	st := envsync.State{Epoch: g.KeyFile.Epoch}
	version := uint64(0)
	if b != nil {
		for _, v := range sideVars(side) {
			if err := doc.Set(v.Name, side.Snippets[v.Name], false); err != nil {
				return err
			}
		}
		version = b.Version
		st = envsync.State{Epoch: b.Epoch, BaseVersion: b.Version, BaseID: b.ID(), SeenVersion: b.Version, SeenID: b.ID()}
	}
	envData := doc.Bytes()
	if err := p.repo.EnvFile(pin).WriteFile(envData); err != nil {
		return err
	}
	rec, err := p.checkout()
	if err != nil {
		return err
	}
	rec.Files[filepath.ToSlash(pin.File)] = workspace.FileDigest(envData)
	if err := rec.SaveLight(); err != nil { // lost in a crash: the file only looks changed next time
		return err
	}
	p.state.Current = name // `capy run` after `capy ci` uses this environment
	if err := p.record(name, pin, st, kr); err != nil {
		return err
	}
	keyPath := c.String("key-file")
	if keyPath == "" {
		keyPath = p.repo.KeyFilePath()
	}
	line := g.KeyFile.Encode()
	if err := p.repo.WriteKeyFile(keyPath, line); err != nil {
		return err
	}
	if err := p.home.RecordKeyFile(keyPath, []byte(line)); err != nil {
		return fmt.Errorf("record the key file this machine wrote: %w", err)
	}
	u.done("%s v%d written to %s; key file %s", name, version, pin.File, keyPath)
	return nil
}
