package checkout

import (
	"context"
	"errors"

	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
)

// The sync's words, for cmd/capy (which does not import envsync).
type (
	// Prefer settles conflicts: PreferLocal or PreferRemote wins.
	Prefer = envsync.Prefer
	// Replacement is what a file changed outside capy would do to the
	// service (see UI.ConfirmReplacement).
	Replacement = envsync.Replacement
	// Report says what a sync did.
	Report = envsync.Report
	// PushNames names what a push changes on the service (see
	// UI.ConfirmPush).
	PushNames = envsync.PushNames
)

const (
	PreferNone   = envsync.PreferNone
	PreferLocal  = envsync.PreferLocal
	PreferRemote = envsync.PreferRemote
)

// SyncOptions tune Sync.
type SyncOptions struct {
	Prefer Prefer
	DryRun bool
	// Yes agrees beforehand to what a file changed outside capy pushes,
	// and to the first push of a checkout (`capy sync --yes`):
	// UI.ConfirmReplacement and UI.ConfirmPush are not asked.
	Yes bool
}

// SyncResult is what a sync did to one environment, for the report.
type SyncResult struct {
	Env    string
	DryRun bool
	*Report
}

// Sync pulls, merges, pushes and rewrites one environment's file (`capy`,
// `capy sync`), under the checkout lock and guard. A runner with a key but
// no session syncs read-only: any local change is refused.
func (p *Project) Sync(ctx context.Context, envName string, opt SyncOptions) (*SyncResult, error) {
	release, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	// The checkout is checked before the unlock (which may repair a pin
	// in project.json): a refused sync writes nothing.
	g, err := p.guardEnv(pin, opt.Yes)
	if err != nil {
		return nil, err
	}
	sopt := envsync.Options{Prefer: opt.Prefer, DryRun: opt.DryRun}
	kr, _, remote, err := p.memberKeysAndHead(ctx, pin)
	if errors.Is(err, member.ErrNotSignedIn) {
		// A CI runner has a key but no session: it may sync read-only,
		// and any local change is refused (exit 4).
		// readKeys reports what went wrong with the key it found (a
		// revoked deploy code, one for another environment): that, not
		// "not signed in", is what the runner needs to see.
		ckr, _, remote, kerr := p.readKeys(ctx, pin, "", false)
		if kerr != nil {
			return nil, kerr
		}
		if remote == nil {
			if _, remote, kerr = p.deployCode(ctx, pin); kerr != nil {
				return nil, kerr
			}
		}
		if remote == nil {
			return nil, err // a key but no way to reach the service: sign in
		}
		return p.sync(ctx, g, remote, ckr, name, pin, sopt)
	}
	if err != nil {
		return nil, err
	}
	g.askFirstPush = true
	return p.sync(ctx, g, remote, kr, name, pin, sopt)
}

// sync syncs one environment with the checkout guard g and records the
// result.
func (p *Project) sync(ctx context.Context, g *guard, remote *member.Remote, kr envsync.EnvKeys, name string, pin workspace.EnvPin, opt envsync.Options) (*SyncResult, error) {
	opt = g.options(opt)
	if g.askFirstPush && !opt.DryRun && g.first() {
		// The first sync of a checkout pushes whatever the file held
		// before capy came: a personal value would go to everyone. The
		// names the command itself just set are what it was asked to do.
		own := opt.OwnEdits
		opt.ConfirmPush = func(n envsync.PushNames) error {
			n = n.Without(own)
			if len(n.Added)+len(n.Changed) == 0 || g.yes {
				return nil
			}
			return p.ui.ConfirmPush(name, n)
		}
	}
	var rep *envsync.Report
	err := p.ui.Wait("syncing "+name, func() error {
		var err error
		rep, err = envsync.Sync(ctx, remote, kr, p.syncEnv(pin), opt)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !opt.DryRun {
		fromEpoch := p.localEpoch(pin)
		if err := p.record(name, pin, rep.State, kr); err != nil {
			return nil, err
		}
		// The local file follows the environment's file: plaintext typed
		// into it is sealed, and a new epoch re-seals it (read-only keys
		// cannot derive another epoch: then it waits for a member).
		if from, err := kr.Cipher(fromEpoch); err == nil {
			if to, err := kr.Cipher(rep.State.Epoch); err == nil {
				if err := p.sealLayer(pin, from, to); err != nil {
					p.ui.Warn("%s was not encrypted: %v", pin.LocalFile(), err)
				}
			}
		}
		if g.changed && !rep.FileChanged {
			// An edit made outside capy that the sync took as it was: the
			// file is now what the service holds, as if capy wrote it.
			if err := g.wrote(rep.File); err != nil {
				return nil, err
			}
		}
	}
	return &SyncResult{Env: name, DryRun: opt.DryRun, Report: rep}, nil
}

// Status is what `capy status` shows: the local file against the
// service's head, computed as a dry-run sync.
type Status struct {
	Env, File   string
	Plaintext   []string // names in the file not encrypted yet
	BaseVersion uint64   // the version the file was last synced at
	Conflicts   []string // names changed on both sides
	Remote      *Report  // the dry run's report; nil on conflicts
	// LocalFile is the environment's personal layer; Local the names in
	// it (overriding the file's or added to them, never pushed), and
	// LocalPlaintext those of them not encrypted yet.
	LocalFile      string
	Local          []string
	LocalPlaintext []string
}

// Status compares an environment's file with the service's head and
// changes nothing.
func (p *Project) Status(ctx context.Context, envName string) (*Status, error) {
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	kr, _, remote, err := p.memberKeysAndHead(ctx, pin)
	if err != nil {
		return nil, err
	}
	env, err := p.checkedEnv(pin)
	if err != nil {
		return nil, err
	}
	cipher, err := kr.Cipher(p.localEpoch(pin))
	if err != nil {
		return nil, err
	}
	local, err := envsync.ReadLocal(env.File, cipher)
	if err != nil {
		return nil, err
	}
	// A dry run computes the merge without writing or pushing anything.
	rep, err := envsync.Sync(ctx, remote, kr, env, envsync.Options{DryRun: true})
	st := &Status{Env: name, File: pin.File, Plaintext: local.Plaintext, BaseVersion: env.State.BaseVersion, Conflicts: []string{}, Remote: rep}
	st.LocalFile = pin.LocalFile()
	layer, lerr := p.readLayer(pin, cipher)
	if lerr != nil {
		return nil, lerr
	}
	if layer != nil {
		st.Local, st.LocalPlaintext = layer.Doc.Names(), layer.Plaintext
	}
	if ce, ok := err.(*envsync.ConflictError); ok {
		for _, x := range ce.Conflicts {
			st.Conflicts = append(st.Conflicts, x.Name)
		}
	} else if err != nil {
		return nil, err
	}
	return st, nil
}
