package main

import (
	"context"

	"fmt"
	"github.com/capy-oss/capy/internal/api"
	"os"
	"time"

	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/sync"
	"github.com/capy-oss/capy/internal/workspace"
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
}

// newClient returns a client for service. Under a command budget
// (CAPY_TIMEOUT) one attempt of a request may use all of it: the budget's
// context ends the attempt, and a raised CAPY_TIMEOUT must help a slow
// link, which a fixed 30 s per attempt would not. Without one (off), the
// client's own 30 s per attempt applies.
func newClient(u *ui, service string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent("capy/" + version), client.WithRetry(3, 200*time.Millisecond)}
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
func (p *project) memberKeys(ctx context.Context, pin workspace.EnvPin) (*sync.MemberKeys, *member.Account, error) {
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
func (p *project) memberKeysAndHead(ctx context.Context, pin workspace.EnvPin) (*sync.MemberKeys, *member.Account, *member.Remote, error) {
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

func (p *project) unlockEnv(ctx context.Context, a *member.Account, pin workspace.EnvPin) (*sync.MemberKeys, error) {
	m, err := p.unlock(ctx, a)
	if err != nil {
		return nil, err
	}
	return &sync.MemberKeys{PK: m.ProjectKey(p.repo.Project.Org, p.repo.Project.Project),
		ProjectID: p.repo.Project.Project, EnvID: pin.ID}, nil
}

func (p *project) remote(a *member.Account, pin workspace.EnvPin) *member.Remote {
	cl := p.cl
	if a != nil {
		cl = a.Client
	}
	return &member.Remote{Client: cl, Home: p.home, Org: p.repo.Project.Org, Project: p.repo.Project.Project, EnvID: pin.ID}
}

func (p *project) syncEnv(name string, pin workspace.EnvPin) sync.Env {
	s := p.state.Environments[pin.ID]
	return sync.Env{ProjectID: p.repo.Project.Project, EnvID: pin.ID, File: p.repo.EnvFile(pin), PinnedEpoch: pin.Epoch,
		State: sync.State{Epoch: s.Epoch, BaseVersion: s.BaseVersion, BaseID: s.BaseID, SeenVersion: s.SeenVersion, SeenID: s.SeenID}}
}

// record stores a sync's new state, and moves a stale pin forward when a
// member verified a newer epoch with keys derived from PK.
func (p *project) record(name string, pin workspace.EnvPin, st sync.State, kr sync.Keyring) error {
	next := workspace.EnvState{Epoch: st.Epoch, BaseVersion: st.BaseVersion, BaseID: st.BaseID,
		SeenVersion: st.SeenVersion, SeenID: st.SeenID}
	// A no-change sync leaves state.json alone: rewriting it costs two
	// fsyncs on every command. (A changed Current, e.g. from `capy ci`, is
	// still written.)
	if prev, ok := p.state.Environments[pin.ID]; !ok || prev != next || p.state.Current != p.savedCurrent {
		p.state.Environments[pin.ID] = next
		if err := p.repo.SaveState(p.state); err != nil {
			return err
		}
		p.savedCurrent = p.state.Current
	}
	if mk, ok := kr.(*sync.MemberKeys); ok && st.Epoch > pin.Epoch {
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

// collect reads every page of a list.
func collect[T any](fetch func(cursor string) (*api.List[T], error)) ([]T, error) {
	items := []T{}
	cursor := ""
	for {
		page, err := fetch(cursor)
		if err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
		if page.NextCursor == nil {
			return items, nil
		}
		cursor = *page.NextCursor
	}
}
