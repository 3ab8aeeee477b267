package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// CreateEnv creates an environment at epoch 1 with its signing key derived
// from the project key, pins it in project.json and keeps its file out of
// git (`capy env create`).
func (p *Project) CreateEnv(ctx context.Context, name, file string) error {
	a, err := p.Account()
	if err != nil {
		return err
	}
	m, err := p.unlock(ctx, a)
	if err != nil {
		return err
	}
	if _, err := a.NewEnv(ctx, &m, &p.Repo.Project, name, file); err != nil {
		return err
	}
	if err := p.Repo.SaveProject(); err != nil {
		return err
	}
	return ignoreFiles(p.Repo)
}

// Switch makes an environment the current one (`capy env switch`) and
// returns its name and pin.
func (p *Project) Switch(envName string) (string, workspace.EnvPin, error) {
	release, err := p.lock()
	if err != nil {
		return "", workspace.EnvPin{}, err
	}
	defer release()
	name, pin, err := p.Env(envName)
	if err != nil {
		return "", pin, err
	}
	p.state.Current = name
	if err := p.saveState(); err != nil {
		return "", pin, err
	}
	return name, pin, nil
}

// Rotated reports a rotation the service accepted: the environment, its
// new epoch and how many deploy codes the service revoked with it.
type Rotated func(env string, epoch uint32, revokedDeploys int)

// Rotate moves an environment to the next key epoch (`capy env rotate`):
// the verified head's values are re-signed under the new epoch and sent
// with the new public key, the pin in project.json moves, rotated is told,
// and the local file is synced (re-encrypted). The file must be synced
// first: the rotation is pushed before the sync at the end would check it.
func (p *Project) Rotate(ctx context.Context, envName string, rotated Rotated) (*SyncResult, error) {
	t, err := p.startPush(ctx, envName, "a rotation")
	if err != nil {
		return nil, err
	}
	defer t.release()
	name, pin, g, kr, a := t.name, t.pin, t.g, t.kr, t.a
	env, err := a.Client.Env(ctx, p.Repo.Project.Org, p.Repo.Project.Project, pin.ID)
	if err != nil {
		return nil, err
	}
	side := envsync.NewSide()
	parent, version := wrap.NoParent, uint64(1)
	head, err := p.remote(a, pin).Head(ctx)
	if err != nil {
		return nil, err
	}
	senv, err := p.checkedEnv(pin)
	if err != nil {
		return nil, err
	}
	// Checked as a sync checks it: the rotation re-signs the head's values
	// under the new epoch, so a rolled-back, forked or emptied head would
	// be made permanent.
	hb, hside, err := envsync.VerifyHead(head, kr, senv)
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("%w (the service says %s is at epoch %d; this checkout has seen epoch %d)", wrap.ErrEpochRollback, name, env.Epoch, seenEpoch)
	}
	nb, err := envsync.BuildVersion(kr, p.Repo.Project.Project, pin.ID, next, version, parent, side.Values)
	if err != nil {
		return nil, err
	}
	pub, _ := kr.PublicKey(next)
	res, err := a.Client.Rotate(ctx, p.Repo.Project.Org, p.Repo.Project.Project, pin.ID,
		api.RotateRequest{Epoch: next, SigningPublicKey: api.Bytes(pub), Text: string(nb.Raw())})
	if err != nil {
		return nil, err
	}
	pin.Epoch, pin.SigningKey = next, wrap.B64.EncodeToString(pub)
	pin.Recipient = member.Recipient(&kr.PK, p.Repo.Project.Project, pin.ID, next)
	p.Repo.Project.Environments[name] = pin
	if err := p.Repo.SaveProject(); err != nil {
		return nil, err
	}
	rotated(name, next, len(res.RevokedDeploys))
	return p.sync(ctx, g, p.remote(a, pin), kr, name, pin, envsync.Options{})
}

// RollbackSteps are the rollback's questions and news for the person.
type RollbackSteps struct {
	// Confirm is asked once the head and version v are verified, before
	// anything is signed: may v of env become the newest, as version next?
	Confirm func(env string, v, next uint64) error
	// Pushed tells that version next of env now holds v's values.
	Pushed func(env string, next, v uint64)
}

// Rollback makes version v of an environment the newest again (`capy
// rollback`): v's values are signed as the version after the verified
// head and pushed, then the local file is synced to it. The file must be
// synced first, as for Rotate.
func (p *Project) Rollback(ctx context.Context, envName string, v uint64, steps RollbackSteps) (*SyncResult, error) {
	t, err := p.startPush(ctx, envName, "a rollback")
	if err != nil {
		return nil, err
	}
	defer t.release()
	name, pin, g, kr, a := t.name, t.pin, t.g, t.kr, t.a
	r := p.remote(a, pin)
	env, err := p.checkedEnv(pin)
	if err != nil {
		return nil, err
	}
	// The head first, checked as a sync checks it: a null head, an older
	// version or a fork is refused before anything is signed on top of it.
	head, err := r.Head(ctx)
	if err != nil {
		return nil, err
	}
	hb, _, err := envsync.VerifyHead(head, kr, env)
	if err != nil {
		return nil, err
	}
	if hb == nil {
		return nil, refuse(fmt.Errorf("environment %s has no versions yet", name), "not-found", "see `capy history`")
	}
	if v > hb.Version {
		return nil, refuse(fmt.Errorf("environment %s has no version %d (the newest is %d)", name, v, hb.Version), "not-found", "see `capy history`")
	}
	// The version to bring back must be exactly the one asked for (and the
	// very blob this machine saw, if it is the one state.json recorded):
	// a service answering with another version would make the report a
	// lie.
	oldID := ""
	if st := env.State; v == st.BaseVersion {
		oldID = st.BaseID
	} else if v == st.SeenVersion {
		oldID = st.SeenID
	}
	_, oldSide, err := envsync.FetchVersion(ctx, r, kr, env, v, oldID)
	if err != nil {
		return nil, err
	}
	if hb.Version == v {
		return nil, refuse(errors.New("that version is already the newest"), "noop", "")
	}
	if err := steps.Confirm(name, v, hb.Version+1); err != nil {
		return nil, err
	}
	nb, err := envsync.BuildVersion(kr, p.Repo.Project.Project, pin.ID, hb.Epoch, hb.Version+1, hb.ID(), oldSide.Values)
	if err != nil {
		return nil, err
	}
	if err := r.Push(ctx, string(nb.Raw())); err != nil {
		return nil, err
	}
	steps.Pushed(name, hb.Version+1, v)
	// Bring the local file along: the rollback is a remote change.
	return p.sync(ctx, g, p.remote(a, pin), kr, name, pin, envsync.Options{Prefer: envsync.PreferRemote})
}

// MintDeploy mints a deploy code for an environment at its pinned epoch
// (`capy deploy`); the code is shown once and never stored.
func (p *Project) MintDeploy(ctx context.Context, envName, label string, ttl time.Duration) (string, *api.Deploy, error) {
	a, err := p.Account()
	if err != nil {
		return "", nil, err
	}
	m, err := p.unlock(ctx, a)
	if err != nil {
		return "", nil, err
	}
	return a.MintDeploy(ctx, &m, &p.Repo.Project, envName, label, ttl)
}

// Invite mints a redeem code for email (kind api.InviteMember) or for
// this account's next machine (api.InviteDevice).
func (p *Project) Invite(ctx context.Context, a *member.Account, kind, email string, role api.Role, ttl time.Duration) (string, *api.Invite, error) {
	m, err := p.unlock(ctx, a)
	if err != nil {
		return "", nil, err
	}
	return a.Invite(ctx, &m, p.Repo.Project.Org, kind, email, role, ttl)
}

// pushTurn is where Rotate and Rollback start: the checkout lock held,
// the environment, its guard and the member's keys.
type pushTurn struct {
	release func()
	name    string
	pin     workspace.EnvPin
	g       *guard
	kr      *envsync.MemberKeys
	a       *member.Account
}

// startPush takes the checkout lock and refuses a local file capy did not
// write before anything is unlocked or pushed: the sync at the end of a
// rotation or rollback would check the file only after the service had
// changed. what names the operation in the refusal.
func (p *Project) startPush(ctx context.Context, envName, what string) (*pushTurn, error) {
	release, err := p.lock()
	if err != nil {
		return nil, err
	}
	t, err := p.startPushLocked(ctx, envName, what)
	if err != nil {
		release()
		return nil, err
	}
	t.release = release
	return t, nil
}

func (p *Project) startPushLocked(ctx context.Context, envName, what string) (*pushTurn, error) {
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	g, err := p.guardEnv(pin, false)
	if err != nil {
		return nil, err
	}
	if err := g.refuseChanged(what); err != nil {
		return nil, err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return nil, err
	}
	return &pushTurn{name: name, pin: pin, g: g, kr: kr, a: a}, nil
}
