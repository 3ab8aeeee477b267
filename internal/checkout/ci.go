package checkout

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
)

// CIOptions tune SetUpCI.
type CIOptions struct {
	URLOverride string // accept a code for this service URL (--url-override)
	KeyFile     string // where to write the key file (default .capy/decrypt)
	NoWrite     bool   // check the code; write nothing
	Env         string // refuse a code for any other environment (--env; "" takes the code's)
}

// CIResult is what SetUpCI did.
type CIResult struct {
	Env     string
	Epoch   uint32 // the deploy code's epoch
	Written bool   // false with NoWrite
	Version uint64 // the version written (0: none yet)
	File    string // the environment's file
	KeyFile string // the key file written
}

// SetUpCI sets up a runner from CAPY_DEPLOY_CODE (`capy ci`): the deploy
// decrypt, the head checked against state.json, then the environment's
// file rebuilt from the head's snippets, state.json and the key file
// (recorded in the capy home as this machine's), all under the checkout
// lock.
func (p *Project) SetUpCI(ctx context.Context, opt CIOptions) (*CIResult, error) {
	if p.cfg.DeployCode == "" {
		return nil, refuse(errors.New("CAPY_DEPLOY_CODE is not set"), "usage", "see `capy COMMAND --help`")
	}
	// ci rewrites .env and state.json: it takes its turn like every
	// other writer of the checkout.
	release, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	g, _, err := p.deployDecrypt(ctx, p.cfg.DeployCode, opt.URLOverride)
	if err != nil {
		return nil, err
	}
	var name string
	var pin workspace.EnvPin
	for n, e := range p.Repo.Project.Environments {
		if e.ID == g.KeyFile.EnvID {
			name, pin = n, e
		}
	}
	if name == "" {
		return nil, refuse(errors.New("the deploy code is for an environment this repository does not list"), "code-mismatch",
			"commit an up-to-date .capy/project.json")
	}
	if opt.Env != "" && opt.Env != name {
		return nil, refuse(fmt.Errorf("CAPY_DEPLOY_CODE is for environment %s (%s), not %s; nothing was written", name, pin.ID, opt.Env), "code-mismatch",
			"use the deploy code of "+opt.Env+" (`capy deploy --env "+opt.Env+"`), or name the code's environment")
	}
	kr, err := member.CIKeyring(g.KeyFile, pin)
	if err != nil {
		return nil, err
	}
	// A runner that keeps its checkout has seen versions before: the head
	// is checked against state.json exactly as a member's sync checks it
	// (no older version, no other blob at a seen version, no "no versions",
	// base + 1 on the base). Only a runner that has seen nothing takes
	// whatever verifies (the documented limit of a fresh machine).
	env, err := p.checkedEnv(pin)
	if err != nil {
		return nil, err
	}
	var head *envsync.RemoteBlob
	if g.Head != nil {
		head = &envsync.RemoteBlob{Version: g.Head.Version, Text: g.Head.Text}
	}
	b, side, err := envsync.VerifyHead(head, kr, env)
	if err != nil {
		return nil, err
	}
	res := &CIResult{Env: name, Epoch: g.KeyFile.Epoch, File: pin.File}
	if opt.NoWrite {
		return res, nil
	}
	// A runner takes the verified head as it is: the file is rebuilt from
	// its snippets (still ciphertext) and replaced atomically.
	doc, _ := envfile.Parse(nil)
	st := envsync.State{Epoch: g.KeyFile.Epoch}
	if b != nil {
		for _, v := range sideVars(side) {
			if err := doc.Set(v.Name, side.Snippets[v.Name], false); err != nil {
				return nil, err
			}
		}
		res.Version = b.Version
		st = envsync.State{Epoch: b.Epoch, BaseVersion: b.Version, BaseID: b.ID(), SeenVersion: b.Version, SeenID: b.ID()}
	}
	envData := doc.Bytes()
	if err := p.Repo.EnvFile(pin).WriteFile(envData); err != nil {
		return nil, err
	}
	rec, err := p.checkout()
	if err != nil {
		return nil, err
	}
	rec.Files[filepath.ToSlash(pin.File)] = workspace.FileDigest(envData)
	if err := rec.SaveLight(); err != nil { // lost in a crash: the file only looks changed next time
		return nil, err
	}
	p.state.Current = name // `capy run` after `capy ci` uses this environment
	if err := p.record(name, pin, st, kr); err != nil {
		return nil, err
	}
	keyPath := opt.KeyFile
	if keyPath == "" {
		keyPath = p.Repo.KeyFilePath()
	}
	line := g.KeyFile.Encode()
	if err := p.Repo.WriteKeyFile(keyPath, line); err != nil {
		return nil, err
	}
	if err := p.Home.RecordKeyFile(keyPath, []byte(line)); err != nil {
		return nil, fmt.Errorf("record the key file this machine wrote: %w", err)
	}
	res.Written, res.KeyFile = true, keyPath
	return res, nil
}
