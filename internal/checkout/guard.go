package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/workspace"
)

// stateFile is state.json's path relative to the repository root, as the
// checkout record and git name it.
const stateFile = workspace.Dir + "/state.json"

// checkout returns this checkout's record in the capy home, loaded once.
func (p *Project) checkout() (*workspace.CheckoutRecord, error) {
	if p.rec == nil {
		rec, err := p.Home.Checkout(p.Repo.Root)
		if err != nil {
			return nil, err
		}
		p.rec = rec
	}
	return p.rec, nil
}

// saveState writes state.json and notes in the checkout record what was
// written, so that a state.json a branch brings along (git tracks it) is
// noticed before a sync trusts it.
func (p *Project) saveState() error {
	// Never certify a file that was not checked: the digest noted below
	// is what later commands trust instead of asking git.
	if err := p.checkStateFile(); err != nil {
		return err
	}
	d, err := p.Repo.SaveStateDigest(p.state)
	if err != nil {
		return err
	}
	rec, err := p.checkout()
	if err != nil {
		return err
	}
	if rec.Files[stateFile] == d {
		return nil
	}
	rec.Files[stateFile] = d
	// A lost update only makes state.json look changed to the next command
	// (git is asked again), so it need not outlive a crash.
	return rec.SaveLight()
}

// guard holds what a command that writes an environment file knows about
// it before it starts: whether the file is still exactly what capy last
// wrote there (the record lives in the capy home, where a branch cannot
// bring one along). A file that changed since is a person's edit, or a
// file git put there when it checked out a branch that tracks it: such a
// file is checked before anything is pushed from it.
type guard struct {
	p       *Project
	rec     *workspace.CheckoutRecord
	pin     workspace.EnvPin
	rel     string
	changed bool // the file exists and is not what capy last wrote
	yes     bool // the person agreed beforehand to what the file would push
	// askFirstPush: the command is one a person runs to sync (sync,
	// init, link, set): its first push from this checkout is confirmed.
	askFirstPush bool
}

// first reports whether this checkout has never synced the environment:
// its file, if any, holds what was there before capy.
func (g *guard) first() bool {
	st := g.p.state.Environments[g.pin.ID]
	return st.BaseVersion == 0 && st.SeenVersion == 0
}

// checkStateFile refuses a state.json that git tracks (a branch may carry
// one naming another base or fewer versions seen) before anything trusts
// or rewrites it. capy asks git only when the file is not what capy last
// wrote here; an untracked file that changed (an older capy's, or one
// edited by hand) is then noted as this machine's, so that git is not
// asked again on every command. Every path that verifies a head against
// state.json, or writes it, goes through here first.
func (p *Project) checkStateFile() error {
	if p.stateChecked {
		return nil
	}
	rec, err := p.checkout()
	if err != nil {
		return err
	}
	state, err := p.Repo.ReadFile(stateFile, workspace.MaxStateFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !rec.Wrote(stateFile, state):
		if err := p.refuseTracked(stateFile); err != nil {
			return err
		}
		rec.Files[stateFile] = workspace.FileDigest(state)
		if err := rec.SaveLight(); err != nil {
			return err
		}
	}
	p.stateChecked = true
	return nil
}

// checkedEnv is syncEnv after checkStateFile: what a head is verified
// against.
func (p *Project) checkedEnv(pin workspace.EnvPin) (envsync.Env, error) {
	if err := p.checkStateFile(); err != nil {
		return envsync.Env{}, err
	}
	return p.syncEnv(pin), nil
}

// guardEnv checks state.json and the environment's file before a command
// that may write either or push from the file: a tracked one is refused;
// then the record of a sync that was interrupted between its rewrite of
// the file and its state.json write is recovered. It writes nothing unless
// every check passed.
func (p *Project) guardEnv(pin workspace.EnvPin, yes bool) (*guard, error) {
	if err := p.checkStateFile(); err != nil {
		return nil, err
	}
	rec, err := p.checkout()
	if err != nil {
		return nil, err
	}
	g := &guard{p: p, rec: rec, pin: pin, rel: filepath.ToSlash(pin.File), yes: yes}
	data, err := p.Repo.EnvFile(pin).ReadFile()
	if errors.Is(err, fs.ErrNotExist) {
		return g, nil // a missing file pulls; nothing to push from it
	}
	if err != nil {
		return nil, err
	}
	g.changed = !rec.Wrote(g.rel, data)
	if g.changed {
		if err := p.refuseTracked(g.rel); err != nil {
			return nil, err
		}
	}
	if pend, ok := rec.Pending[pin.ID]; ok && pend.SHA256 == workspace.FileDigest(data) {
		st := p.state.Environments[pin.ID]
		if pend.State.BaseVersion > st.BaseVersion {
			// The file is the one the interrupted sync wrote; its state
			// never reached state.json. Merging the file against the old
			// base would turn what the sync pulled into local edits.
			st.Epoch, st.BaseVersion, st.BaseID = pend.State.Epoch, pend.State.BaseVersion, pend.State.BaseID
			if pend.State.SeenVersion > st.SeenVersion {
				st.SeenVersion, st.SeenID = pend.State.SeenVersion, pend.State.SeenID
			}
			p.state.Environments[pin.ID] = st
			if err := p.saveState(); err != nil {
				return nil, fmt.Errorf("recover the record of an interrupted sync: %w", err)
			}
			p.ui.Warn("recovered the record of an interrupted sync of %s (v%d)", pin.File, st.BaseVersion)
		}
	}
	return g, nil
}

// refuseChanged is the guard of a use-case that pushes before it syncs
// (rollback, env rotate): a file that changed since capy wrote it would
// be checked only by the sync at the end, after the push. So it must be
// synced first.
func (g *guard) refuseChanged(what string) error {
	if !g.changed {
		return nil
	}
	return refuse(fmt.Errorf("%s changed since capy last wrote it; %s starts only from a synced file; nothing was changed", g.pin.File, what),
		"sync-first", "run `capy` first (it shows what your file would change), then run this again")
}

// refuseTracked refuses to go on when git tracks any of rels: checking out
// a branch that carries such a file silently replaces this machine's, and
// a sync would push (or merge against) what the branch holds.
func (p *Project) refuseTracked(rels ...string) error {
	tracked, err := p.Repo.GitTracked(rels...)
	if err != nil {
		return refuse(err, "git-failed", "make `git status` work in this checkout (for \"dubious ownership\": `git config --global --add safe.directory DIR`); capy asks git only about files that changed since capy wrote them")
	}
	if len(tracked) == 0 {
		return nil
	}
	return refuse(fmt.Errorf("git tracks %s: checking out a branch that carries it replaces this machine's file, and a sync would use what the branch holds; nothing was changed",
		strings.Join(tracked, " and ")),
		"tracked-file", fmt.Sprintf("check `git status`; untrack it (`git rm --cached %s`, then commit) or switch back to your branch", strings.Join(tracked, " ")))
}

// options arms a sync with the guard: a changed file is checked for a
// replacement, and a rewrite records its digest (and the state to come)
// before the rename.
func (g *guard) options(opt envsync.Options) envsync.Options {
	opt.CheckReplacement = g.changed
	opt.Confirm = g.confirm
	opt.BeforeRename = func(data []byte, st envsync.State) error {
		g.rec.Files[g.rel] = workspace.FileDigest(data)
		g.rec.Pending[g.pin.ID] = workspace.PendingState{File: g.rel, SHA256: g.rec.Files[g.rel], State: envState(st)}
		return g.rec.Save()
	}
	return opt
}

// wrote records that the file now holds data, written by capy (an edit's
// write, or a changed file a sync left as it was).
func (g *guard) wrote(data []byte) error {
	g.rec.Files[g.rel] = workspace.FileDigest(data)
	return g.rec.SaveLight() // lost in a crash: the file only looks changed next time
}

// confirm asks before a file that changed outside capy deletes names on
// the service (or replaces every snippet with plaintext): git checks out
// a branch's tracked .env without a word, and its absence of a variable
// would delete that variable for the whole team.
func (g *guard) confirm(r Replacement) error {
	if g.yes {
		return nil
	}
	return g.p.ui.ConfirmReplacement(g.pin.File, r)
}
