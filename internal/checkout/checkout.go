// Package checkout holds the use-cases of one capy checkout: opening a
// linked repository (project.json, state.json, the capy home), choosing
// the key a command reads with (CAPY_KEY, the key file, a deploy code, the
// member unlock), the checkout lock and guard, and every flow that writes
// .env or state.json (sync, set, unset, import, ci, env rotate, rollback,
// init, link) or that holds the organisation's key (env create, deploy
// codes, invites).
//
// cmd/capy is the words around it: it passes flags and CAPY_* settings in
// (Config), answers questions through UI and callbacks, prints what the
// use-cases return, and maps their errors to codes (Error, KindOf). This
// package never reads the terminal or prints by itself.
package checkout

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// UI is how the use-cases reach the person at the terminal; cmd/capy
// implements it.
type UI interface {
	// Say and Warn tell of something a use-case did or passed over on
	// the way (a repaired pin, an ignored key file, a wait).
	Say(format string, a ...any)
	Warn(format string, a ...any)
	// Wait runs fn while showing that capy is busy with label.
	Wait(label string, fn func() error) error
	// Pause stops the command's time budget until resume is called:
	// waiting for another capy's checkout lock is not time with the
	// service.
	Pause() (resume func())
	// ConfirmReplacement decides whether a file that changed outside capy
	// (git may have checked out a branch's file) may do r to the service:
	// nil goes on, an error stops the sync with nothing changed.
	ConfirmReplacement(file string, r Replacement) error
	// ConfirmPush decides whether the first sync of a checkout may push
	// n (names only) to environment env: a file that existed before capy
	// may hold a personal value. nil goes on; an error stops the sync
	// with nothing pushed or written.
	ConfirmPush(env string, n PushNames) error
}

// Config is what a command hands the use-cases: its UI, how to reach a
// service, and the runner's key sources from the environment.
type Config struct {
	UI UI
	// NewClient returns a client for a service URL (the binary chooses
	// the user agent and timeouts).
	NewClient func(service string) (*client.Client, error)
	// Key is CAPY_KEY (an environment key line) and DeployCode is
	// CAPY_DEPLOY_CODE: a runner's ways to the key, empty when unset.
	Key, DeployCode string
}

// Project is a linked repository as a command sees it: the capy home,
// project.json, state.json and a client for the project's service.
type Project struct {
	Home *workspace.Home
	Repo *workspace.Repo

	cfg   Config
	ui    UI
	state *workspace.State
	cl    *client.Client
	// savedCurrent is state.Current as it is on disk, so record can tell
	// whether state.json needs writing.
	savedCurrent string
	rec          *workspace.CheckoutRecord // see checkout
	stateChecked bool                      // see checkStateFile
}

// Open opens the repository around the working directory: the start of
// every command run inside a linked repository. The audit head an unlock
// or push records is written while the command goes on
// (docs/decisions.md #21): the caller flushes p.Home before it exits.
func Open(cfg Config) (*Project, error) {
	home, err := workspace.OpenHome()
	if err != nil {
		return nil, err
	}
	home.DeferAuditHead = true
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
	cl, err := cfg.NewClient(repo.Project.Service)
	if err != nil {
		return nil, err
	}
	return &Project{Home: home, Repo: repo, cfg: cfg, ui: cfg.UI, state: st, cl: cl, savedCurrent: st.Current}, nil
}

// fresh is the project of a repository just linked (init, link): no
// state.json yet, current is the environment it starts with.
func fresh(cfg Config, home *workspace.Home, repo *workspace.Repo, cl *client.Client, current string) *Project {
	return &Project{Home: home, Repo: repo, cfg: cfg, ui: cfg.UI, cl: cl,
		state: &workspace.State{Version: 1, Current: current, Environments: map[string]workspace.EnvState{}}}
}

// Env resolves an environment name: the flag, else the current one, else
// the project's default.
func (p *Project) Env(name string) (string, workspace.EnvPin, error) {
	if name == "" {
		name = p.Repo.CurrentEnv(p.state)
	}
	pin, ok := p.Repo.Project.Environments[name]
	if !ok {
		return "", pin, refuse(fmt.Errorf("no environment %q in this project", name), "no-env", "see `capy env` for the list")
	}
	return name, pin, nil
}

// Account returns the account signed in to the project's service.
func (p *Project) Account() (*member.Account, error) {
	return member.SignedIn(p.Home, p.cl)
}

// unlock returns M after a co-decrypt.
func (p *Project) unlock(ctx context.Context, a *member.Account) (keys.MasterKey, error) {
	m, _, err := p.unlockWithGrace(ctx, a)
	return m, err
}

// unlockWithGrace is unlock that also returns the org's offline grace
// the co-decrypt answered with.
func (p *Project) unlockWithGrace(ctx context.Context, a *member.Account) (keys.MasterKey, time.Duration, error) {
	var (
		m     keys.MasterKey
		grace time.Duration
	)
	err := p.ui.Wait("unlocking", func() error {
		var err error
		m, grace, err = a.UnlockWithGrace(ctx, p.Repo.Project.Org)
		return err
	})
	return m, grace, err
}

// memberKeys unlocks and returns the keyring for one environment.
func (p *Project) memberKeys(ctx context.Context, pin workspace.EnvPin) (*envsync.MemberKeys, *member.Account, error) {
	a, err := p.Account()
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
func (p *Project) memberKeysAndHead(ctx context.Context, pin workspace.EnvPin) (*envsync.MemberKeys, *member.Account, *member.Remote, error) {
	a, err := p.Account()
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

func (p *Project) unlockEnv(ctx context.Context, a *member.Account, pin workspace.EnvPin) (*envsync.MemberKeys, error) {
	// repairPin below derives only the environment's Ed25519 public key,
	// which needs no base-point table (docs/decisions.md #97 replaces the
	// warm-up of #93).
	m, grace, err := p.unlockWithGrace(ctx, a)
	if err != nil {
		return nil, err
	}
	mk := memberKeysOf(&m, &p.Repo.Project, pin)
	if err := p.checkPins(a, mk, pin); err != nil {
		return nil, err
	}
	// The offline grace (decision 88): keep this environment's key at the
	// checkout's epoch, or delete what is kept when the answer says off
	// or shorter. A failure here is said, not fatal: the unlock is good.
	epoch := p.localEpoch(pin)
	if err := a.KeepOffline(p.Repo.Project.Org, p.Repo.Project.Project, pin.ID, epoch,
		mk.PK.EnvKey(p.Repo.Project.Project, pin.ID, epoch), grace, time.Now()); err != nil {
		p.ui.Warn("could not update the key kept for offline use: %v", err)
	}
	return mk, nil
}

// offlineKeys is the keyring of the key this machine kept for the
// environment under the org's offline grace, used only when the unlock
// could not reach the service at all (unreachable: no answer came). It
// says that the command runs offline. Any other failure returns unreach
// itself, so the person sees why the service was needed.
func (p *Project) offlineKeys(a *member.Account, pin workspace.EnvPin, unreach error) (envsync.EnvKeys, error) {
	k, found, err := a.OfflineKey(p.Repo.Project.Org, p.Repo.Project.Project, pin.ID, time.Now())
	if err != nil {
		p.ui.Warn("the key kept for offline use: %v", err)
	}
	if err != nil || !found {
		return nil, unreach
	}
	kr, err := member.CIKeyring(keys.EnvKeyFile{EnvID: k.Env, Epoch: k.Epoch, Key: k.Key}, pin)
	if err != nil {
		return nil, unreach
	}
	p.ui.Warn("the service cannot be reached: ran offline with the key unlocked at %s (offline grace %s, until %s)",
		k.UnlockedAt.Local().Format(time.DateTime), k.Grace, k.ExpiresAt().Local().Format(time.DateTime))
	return kr, nil
}

// memberKeysOf derives an environment's keyring from M.
func memberKeysOf(m *keys.MasterKey, prj *workspace.Project, pin workspace.EnvPin) *envsync.MemberKeys {
	mk := &envsync.MemberKeys{PK: m.ProjectKey(prj.Org, prj.Project), ProjectID: prj.Project, EnvID: pin.ID}
	mk.MoreAge = memberAgeIdentities(&mk.PK, prj)
	return mk
}

// checkPins checks the environment's pinned signing key (repairPin) and
// age recipient (checkRecipientPin) against the ones derived from PK,
// unless this machine has checked these very pins before: then the tag it
// kept (keys.PinCheckTag, a MAC under PK) matches, and one HMAC replaces
// the derivations (decision 99). Pins that pass are tagged for next time.
func (p *Project) checkPins(a *member.Account, mk *envsync.MemberKeys, pin workspace.EnvPin) error {
	org := p.Home.Org(a.Client.BaseURL(), p.Repo.Project.Org)
	if tag, ok := p.pinTag(mk, pin); ok && org.PinChecked(tag) {
		return nil
	}
	if err := p.repairPin(mk, pin); err != nil {
		return err
	}
	if err := p.checkRecipientPin(mk, pin); err != nil {
		return err
	}
	if tag, ok := p.pinTag(mk, pin); ok {
		// A cache: failing to keep the tag costs the next unlock a
		// derivation, nothing else.
		_ = org.RecordPinCheck(tag)
	}
	return nil
}

// pinTag is the tag of the pins project.json holds for the environment:
// ok is false unless every entry with its id has the same epoch, a signing
// key and a recipient, the same ones (anything else takes the full check).
func (p *Project) pinTag(mk *envsync.MemberKeys, pin workspace.EnvPin) ([]byte, bool) {
	var signingKey, recipient string
	for _, e := range p.Repo.Project.Environments {
		if e.ID != pin.ID {
			continue
		}
		if e.Epoch != pin.Epoch || e.SigningKey == "" || e.Recipient == "" ||
			(signingKey != "" && (e.SigningKey != signingKey || e.Recipient != recipient)) {
			return nil, false
		}
		signingKey, recipient = e.SigningKey, e.Recipient
	}
	if signingKey == "" {
		return nil, false
	}
	tag := mk.PK.PinCheckTag(p.Repo.Project.Project, pin.ID, pin.Epoch, signingKey, recipient)
	return tag[:], true
}

// repairPin puts the key derived from PK into project.json when the pinned
// signing key of the environment differs (protocol.md §6: members never
// trust the pin, CI runners do). A wrong pin may have come with a branch:
// runners would then trust a key of the attacker's choosing, so the repair
// is said loudly, and the member commits it.
func (p *Project) repairPin(mk *envsync.MemberKeys, pin workspace.EnvPin) error {
	want := member.PinnedKey(&mk.PK, pin)
	if pin.SigningKey == want {
		return nil
	}
	for name, e := range p.Repo.Project.Environments {
		if e.ID != pin.ID {
			continue
		}
		e.SigningKey = want
		p.Repo.Project.Environments[name] = e
		if err := p.Repo.SaveProject(); err != nil {
			return fmt.Errorf("repair the pinned key of %s: %w", name, err)
		}
		p.ui.Warn("the signing key pinned for %s in .capy/project.json was not this environment's key (a branch may have changed it; CI runners trust it): repaired, commit .capy/project.json", name)
	}
	return nil
}

func (p *Project) remote(a *member.Account, pin workspace.EnvPin) *member.Remote {
	cl := p.cl
	if a != nil {
		cl = a.Client
	}
	return &member.Remote{Client: cl, Home: p.Home, Org: p.Repo.Project.Org, Project: p.Repo.Project.Project, EnvID: pin.ID}
}

// syncState and envState are the one copy between state.json's record of
// an environment and the sync's.
func syncState(s workspace.EnvState) envsync.State {
	return envsync.State{Epoch: s.Epoch, BaseVersion: s.BaseVersion, BaseID: s.BaseID, SeenVersion: s.SeenVersion, SeenID: s.SeenID}
}

func envState(s envsync.State) workspace.EnvState {
	return workspace.EnvState{Epoch: s.Epoch, BaseVersion: s.BaseVersion, BaseID: s.BaseID, SeenVersion: s.SeenVersion, SeenID: s.SeenID}
}

func (p *Project) syncEnv(pin workspace.EnvPin) envsync.Env {
	return envsync.Env{ProjectID: p.Repo.Project.Project, EnvID: pin.ID, File: p.Repo.EnvFile(pin), PinnedEpoch: pin.Epoch,
		State: syncState(p.state.Environments[pin.ID])}
}

// localEpoch is the epoch of the snippets in the environment's file: the
// one the last sync wrote them in. A teammate's rotation moves the pin
// (project.json comes with git) before this checkout has synced, so the
// pin is only the fallback.
func (p *Project) localEpoch(pin workspace.EnvPin) uint32 {
	if e := p.state.Environments[pin.ID].Epoch; e != 0 {
		return e
	}
	return pin.Epoch
}

// record stores a sync's new state, and moves a stale pin forward when a
// member verified a newer epoch with keys derived from PK.
func (p *Project) record(name string, pin workspace.EnvPin, st envsync.State, kr envsync.EnvKeys) error {
	next := envState(st)
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
		pin.Epoch, pin.SigningKey = st.Epoch, wrap.B64.EncodeToString(pub)
		pin.Recipient = member.Recipient(&mk.PK, p.Repo.Project.Project, pin.ID, st.Epoch)
		p.Repo.Project.Environments[name] = pin
		if err := p.Repo.SaveProject(); err != nil {
			return err
		}
		p.ui.Say("updated the pinned key of %s to epoch %d in .capy/project.json (commit it)", name, st.Epoch)
	}
	return nil
}

// recordSeen records a head that a read (get, run or export --pull) verified
// as the newest version this checkout has seen, so that a later rollback
// below it is refused as it is after a sync. The base is left alone: the
// file was not merged. Under the checkout lock, against state.json as it is
// then: a concurrent sync may have seen more (kept), or another blob at
// this version (a fork, refused). A state.json that cannot be written (a
// read-only checkout) costs only this protection: capy warns and goes on.
func (p *Project) recordSeen(pin workspace.EnvPin, b *wrap.Blob) error {
	if b.Version <= p.state.Environments[pin.ID].SeenVersion {
		return nil
	}
	release, err := p.lock()
	if err != nil {
		p.ui.Warn("could not record v%d as seen in .capy/state.json: %v", b.Version, err)
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
		p.ui.Warn("could not record v%d as seen in .capy/state.json: %v", b.Version, err)
	}
	return nil
}
