package checkout

import (
	"context"
	"fmt"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/wrap"
)

// VersionChange is what one version did to the one before it, names
// only (computed on this machine: the service never learns names).
type VersionChange struct {
	Version uint64
	PushNames
}

// History lists every version of an environment, newest first, with the
// names each of the newest `names` versions added, changed and removed
// (each costs fetching two versions). Those versions are fetched by
// number and id and verified (FetchVersion), and each must descend from
// the one before it: a service that reorders or swaps versions is refused
// (tampered), not reported as changes.
func (p *Project) History(ctx context.Context, envName string, names int) (name string, metas []api.BlobMeta, changes map[uint64]PushNames, err error) {
	name, pin, err := p.Env(envName)
	if err != nil {
		return "", nil, nil, err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return "", nil, nil, err
	}
	metas, err = a.Versions(ctx, p.Repo.Project.Org, p.Repo.Project.Project, pin.ID)
	if err != nil {
		return "", nil, nil, err
	}
	named := metas
	if len(named) > names {
		named = named[:names]
	}
	env, err := p.checkedEnv(pin)
	if err != nil {
		return "", nil, nil, err
	}
	r := p.remote(a, pin)
	type opened struct {
		b    *wrap.Blob
		side envsync.Side
	}
	cache := map[uint64]opened{}
	fetch := func(v uint64, id string) (opened, error) {
		if o, ok := cache[v]; ok {
			if id != "" && o.b.ID() != id {
				return opened{}, fmt.Errorf("version %d: %w", v, wrap.ErrForked)
			}
			return o, nil
		}
		b, side, err := envsync.FetchVersion(ctx, r, kr, env, v, id)
		if err != nil {
			return opened{}, err
		}
		cache[v] = opened{b, side}
		return cache[v], nil
	}
	changes = make(map[uint64]PushNames, len(named))
	if len(named) == 0 {
		return name, metas, changes, nil
	}
	err = p.ui.Wait("reading "+name+"'s versions", func() error {
		for _, m := range named {
			cur, err := fetch(m.Version, m.ID)
			if err != nil {
				return err
			}
			prev := envsync.NewSide()
			if m.Version > 1 {
				o, err := fetch(m.Version-1, "")
				if err != nil {
					return err
				}
				if cur.b.Parent != o.b.ID() {
					return fmt.Errorf("version %d: %w (its parent is not version %d)", m.Version, wrap.ErrParentMismatch, m.Version-1)
				}
				prev = o.side
			}
			changes[m.Version] = envsync.Changes(prev, cur.side)
		}
		return nil
	})
	if err != nil {
		return "", nil, nil, err
	}
	return name, metas, changes, nil
}
