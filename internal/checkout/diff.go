package checkout

import (
	"context"
	"errors"
	"fmt"

	"github.com/capy-oss/capy/internal/envsync"
)

// DiffEntry is one name that differs between the local file and a
// version: Local and Remote are its values there ("" where absent).
type DiffEntry struct {
	Name          string
	Local, Remote string
}

// Diff is what `capy diff` shows: the names whose values differ between
// an environment's file and the service's head (or one version).
type Diff struct {
	Env, File string
	Version   uint64 // the version compared with (0: the environment has none)
	// Added: only in the file; Changed: in both, different; Removed: only
	// in the version.
	Added, Changed, Removed []DiffEntry
}

// Diff compares an environment's file with the service's verified head,
// or with version (when not 0, fetched by number and verified), and
// changes nothing. The personal layer is not part of it: it is never
// pushed.
func (p *Project) Diff(ctx context.Context, envName string, version uint64) (*Diff, error) {
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return nil, err
	}
	env, err := p.checkedEnv(pin)
	if err != nil {
		return nil, err
	}
	r := p.remote(a, pin)
	head, err := r.Head(ctx)
	if err != nil {
		return nil, err
	}
	hb, remote, err := envsync.VerifyHead(head, kr, env)
	if err != nil {
		return nil, err
	}
	d := &Diff{Env: name, File: pin.File}
	if hb != nil {
		d.Version = hb.Version
	}
	if version != 0 {
		if hb == nil || version > hb.Version {
			return nil, refuse(fmt.Errorf("environment %s has no version %d (the newest is %d)", name, version, d.Version), "not-found", "see `capy history`")
		}
		if version != hb.Version {
			if _, remote, err = envsync.FetchVersion(ctx, r, kr, env, version, ""); err != nil {
				return nil, err
			}
		}
		d.Version = version
	}
	cipher, err := kr.Cipher(p.localEpoch(pin))
	if err != nil {
		return nil, err
	}
	local, err := envsync.ReadLocal(p.Repo.EnvFile(pin), cipher)
	if err != nil {
		return nil, err
	}
	if !local.Exists {
		return nil, refuse(errors.New(pin.File+" does not exist"), "no-env-file", "run `capy` to pull environment "+name)
	}
	ch := envsync.Changes(remote, local.Side)
	for _, n := range ch.Added {
		d.Added = append(d.Added, DiffEntry{Name: n, Local: local.Side.Values[n].Text})
	}
	for _, n := range ch.Changed {
		d.Changed = append(d.Changed, DiffEntry{Name: n, Local: local.Side.Values[n].Text, Remote: remote.Values[n].Text})
	}
	for _, n := range ch.Removed {
		d.Removed = append(d.Removed, DiffEntry{Name: n, Remote: remote.Values[n].Text})
	}
	return d, nil
}
