package main

import (
	"context"

	"fmt"
	"github.com/capy-oss/capy/internal/api"
	"os"
	"time"

	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// project is what a command run inside a linked repository has at hand.
type project struct {
	u     *ui
	home  *workspace.Home
	repo  *workspace.Repo
	state *workspace.State
	cl    *client.Client
	// savedCurrent is state.Current as it is on disk, so record can tell
	// whether state.json needs writing.
	savedCurrent string
	rec          *workspace.CheckoutRecord // see checkout
	stateChecked bool                      // see checkStateFile
}

// newClient returns a client for service. Under a command budget
// (CAPY_TIMEOUT) one attempt of a request may use all of it: the budget's
// context ends the attempt, and a raised CAPY_TIMEOUT must help a slow
// link, which a fixed 30 s per attempt would not. Without one (off), the
// client's own 30 s per attempt applies.
func newClient(u *ui, service string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("capy/" + userAgentVersion()), client.WithRetry(3, 200*time.Millisecond)}
	if u.budget != nil && u.budget.limit > 0 {
		opts = append(opts, client.WithAttemptTimeout(u.budget.limit))
	}
	return client.New(service, opts...)
}

func openProject(u *ui) (*project, error) {
	home, err := workspace.OpenHome()
	if err != nil {
		return nil, err
	}
	// The audit head an unlock or push records is written while the
	// command goes on (docs/decisions.md #21); run waits for the write.
	home.DeferAuditHead = true
	u.deferred = append(u.deferred, home)
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	repo, err := workspace.FindRepo(wd)
	if err != nil {
		return nil, err
	}
	st, err := repo.LoadState()
	if err != nil {
		return nil, err
	}
	cl, err := newClient(u, repo.Project.Service)
	if err != nil {
		return nil, err
	}
	return &project{u: u, home: home, repo: repo, state: st, cl: cl, savedCurrent: st.Current}, nil
}

// env resolves an environment name: the flag, else the current one, else
// the project's default.
func (p *project) env(name string) (string, workspace.EnvPin, error) {
	if name == "" {
		name = p.state.Current
	}
	if name == "" {
		name = p.repo.Project.DefaultEnvironment
	}
	pin, ok := p.repo.Project.Environments[name]
	if !ok {
		return "", pin, withHint(fmt.Errorf("no environment %q in this project", name), "no-env", "see `capy env` for the list")
	}
	return name, pin, nil
}

// openAccount opens the project and its signed-in account, the start of
// every command that talks to the service as a member.
func openAccount(u *ui) (*project, *member.Account, error) {
	p, err := openProject(u)
	if err != nil {
		return nil, nil, err
	}
	a, err := p.account()
	if err != nil {
		return nil, nil, err
	}
	return p, a, nil
}

func (p *project) account() (*member.Account, error) {
	return member.SignedIn(p.home, p.cl)
}

// unlock returns M after a co-decrypt, with a spinner on a terminal.
func (p *project) unlock(ctx context.Context, a *member.Account) (keys.MasterKey, error) {
	var m keys.MasterKey
	err := p.u.wait("unlocking", func() error {
		var err error
		m, err = a.Unlock(ctx, p.repo.Project.Org)
		return err
	})
	return m, err
}

// memberKeys unlocks and returns the keyring for one environment.
func (p *project) memberKeys(ctx context.Context, pin workspace.EnvPin) (*envsync.MemberKeys, *member.Account, error) {
	a, err := p.account()
	if err != nil {
		return nil, nil, err
	}
	kr, err := p.unlockEnv(ctx, a, pin)
	return kr, a, err
}

// memberKeysAndHead is memberKeys for a command that reads the head next
// (sync, status, --pull): the head request goes out before the co-decrypt,
// which it does not depend on, so the two round trips overlap. The head is
// verified with the unlocked keys like any other.
func (p *project) memberKeysAndHead(ctx context.Context, pin workspace.EnvPin) (*envsync.MemberKeys, *member.Account, *member.Remote, error) {
	a, err := p.account()
	if err != nil {
		return nil, nil, nil, err
	}
	r := p.remote(a, pin)
	r.Prefetch(ctx)
	kr, err := p.unlockEnv(ctx, a, pin)
	if err != nil {
		return nil, nil, nil, err
	}
	return kr, a, r, nil
}

func (p *project) unlockEnv(ctx context.Context, a *member.Account, pin workspace.EnvPin) (*envsync.MemberKeys, error) {
	m, err := p.unlock(ctx, a)
	if err != nil {
		return nil, err
	}
	mk := &envsync.MemberKeys{PK: m.ProjectKey(p.repo.Project.Org, p.repo.Project.Project),
		ProjectID: p.repo.Project.Project, EnvID: pin.ID}
	if err := p.repairPin(mk, pin); err != nil {
		return nil, err
	}
	return mk, nil
}

// repairPin puts the key derived from PK into project.json when the pinned
// signing key of the environment differs (protocol.md §6: members never
// trust the pin, CI runners do). A wrong pin may have come with a branch:
// runners would then trust a key of the attacker's choosing, so the repair
// is said loudly, and the member commits it.
func (p *project) repairPin(mk *envsync.MemberKeys, pin workspace.EnvPin) error {
	want := member.PinnedKey(&mk.PK, pin)
	if pin.SigningKey == want {
		return nil
	}
	for name, e := range p.repo.Project.Environments {
		if e.ID != pin.ID {
			continue
		}
		e.SigningKey = want
		p.repo.Project.Environments[name] = e
		if err := p.repo.SaveProject(); err != nil {
			return fmt.Errorf("repair the pinned key of %s: %w", name, err)
		}
		p.u.warn("the signing key pinned for %s in .capy/project.json was not this environment's key (a branch may have changed it; CI runners trust it): repaired, commit .capy/project.json", name)
	}
	return nil
}

func (p *project) remote(a *member.Account, pin workspace.EnvPin) *member.Remote {
	cl := p.cl
	if a != nil {
		cl = a.Client
	}
	return &member.Remote{Client: cl, Home: p.home, Org: p.repo.Project.Org, Project: p.repo.Project.Project, EnvID: pin.ID}
}

// deployCode is the runner's way to the key and the head: CAPY_DEPLOY_CODE,
// decrypted in memory, for the environment pin (its id decides; the name
// in the service's answer is not trusted). Without a deploy code it
// returns nils. The remote serves the head the deploy decrypt answered
// with (nil when the environment has no versions yet): a deploy code has
// no session to ask for anything else.
func (p *project) deployCode(ctx context.Context, pin workspace.EnvPin) (*member.CIGrant, *member.Remote, error) {
	text := os.Getenv("CAPY_DEPLOY_CODE")
	if text == "" {
		return nil, nil, nil
	}
	g, cl, err := deployDecrypt(ctx, p, text, "")
	if err != nil {
		return nil, nil, err
	}
	if err := p.checkDeployEnv(g, pin); err != nil {
		return nil, nil, err
	}
	return g, &member.Remote{Client: cl, Org: p.repo.Project.Org, Project: p.repo.Project.Project, EnvID: pin.ID,
		Fixed: g.Head, HeadOnly: true}, nil
}

// checkDeployEnv refuses a deploy grant for another environment than the
// one a command reads, naming both from project.json (by id: the name in
// the service's answer is not trusted).
func (p *project) checkDeployEnv(g *member.CIGrant, pin workspace.EnvPin) error {
	if g.KeyFile.EnvID == pin.ID {
		return nil
	}
	return withHint(fmt.Errorf("CAPY_DEPLOY_CODE is for environment %s, not %s", p.envLabel(g.KeyFile.EnvID), p.envLabel(pin.ID)),
		"wrong-env-key", "use a deploy code of this environment, or --env")
}

// envLabel names an environment of project.json by id ("production
// (env_…)"), or the id alone when project.json does not list it.
func (p *project) envLabel(id string) string {
	for n, e := range p.repo.Project.Environments {
		if e.ID == id {
			return n + " (" + id + ")"
		}
	}
	return id
}

func (p *project) syncEnv(name string, pin workspace.EnvPin) envsync.Env {
	s := p.state.Environments[pin.ID]
	return envsync.Env{ProjectID: p.repo.Project.Project, EnvID: pin.ID, File: p.repo.EnvFile(pin), PinnedEpoch: pin.Epoch,
		State: envsync.State{Epoch: s.Epoch, BaseVersion: s.BaseVersion, BaseID: s.BaseID, SeenVersion: s.SeenVersion, SeenID: s.SeenID}}
}

// record stores a sync's new state, and moves a stale pin forward when a
// member verified a newer epoch with keys derived from PK.
func (p *project) record(name string, pin workspace.EnvPin, st envsync.State, kr envsync.EnvKeys) error {
	next := workspace.EnvState{Epoch: st.Epoch, BaseVersion: st.BaseVersion, BaseID: st.BaseID,
		SeenVersion: st.SeenVersion, SeenID: st.SeenID}
	// A no-change sync leaves state.json alone: rewriting it costs two
	// fsyncs on every command. (A changed Current, e.g. from `capy ci`, is
	// still written.)
	if prev, ok := p.state.Environments[pin.ID]; !ok || prev != next || p.state.Current != p.savedCurrent {
		p.state.Environments[pin.ID] = next
		if err := p.saveState(); err != nil {
			return err
		}
		p.savedCurrent = p.state.Current
	}
	if mk, ok := kr.(*envsync.MemberKeys); ok && st.Epoch > pin.Epoch {
		pub, _ := mk.PublicKey(st.Epoch)
		pin.Epoch, pin.SigningKey = st.Epoch, b64(pub)
		p.repo.Project.Environments[name] = pin
		if err := p.repo.SaveProject(); err != nil {
			return err
		}
		p.u.say("updated the pinned key of %s to epoch %d in .capy/project.json (commit it)", name, st.Epoch)
	}
	return nil
}

// recordSeen records a head that a read (get, run or export --pull) verified
// as the newest version this checkout has seen, so that a later rollback
// below it is refused as it is after a envsync. The base is left alone: the
// file was not merged. Under the checkout lock, against state.json as it is
// then: a concurrent sync may have seen more (kept), or another blob at
// this version (a fork, refused). A state.json that cannot be written (a
// read-only checkout) costs only this protection: capy warns and goes on.
func (p *project) recordSeen(pin workspace.EnvPin, b *wrap.Blob) error {
	if b.Version <= p.state.Environments[pin.ID].SeenVersion {
		return nil
	}
	release, err := p.lockCheckout()
	if err != nil {
		p.u.warn("could not record v%d as seen in .capy/state.json: %v", b.Version, err)
		return nil
	}
	defer release()
	st := p.state.Environments[pin.ID]
	switch {
	case b.Version < st.SeenVersion:
		return nil
	case b.Version == st.SeenVersion && b.ID() != st.SeenID:
		return fmt.Errorf("%w (version %d)", wrap.ErrForked, b.Version)
	}
	st.SeenVersion, st.SeenID = b.Version, b.ID()
	p.state.Environments[pin.ID] = st
	if err := p.saveState(); err != nil {
		p.u.warn("could not record v%d as seen in .capy/state.json: %v", b.Version, err)
	}
	return nil
}

// collect reads every page of a list (bounded: a service's cursors cannot
// loop it forever).
func collect[T any](fetch func(cursor string) (*api.List[T], error)) ([]T, error) {
	return client.Collect(fetch)
}
