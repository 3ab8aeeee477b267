package checkout

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/workspace"
)

// lockWait bounds how long a command waits for another capy working in the
// same checkout.
const lockWait = 2 * time.Minute

// errLocked is a lock another process holds (lockDir's try).
var errLocked = privfile.ErrLocked

// lock makes the capy processes that change one checkout take turns: it
// takes an exclusive advisory lock on the repository's .capy directory
// (nothing new on disk; the system drops the lock when the process ends,
// however it ends), waiting up to lockWait, and then re-reads state.json,
// which another capy may have recorded meanwhile. Every use-case that
// writes .env or state.json takes it.
//
// Without it, `capy set` and `capy` (or two syncs) in one checkout lost
// updates: the sync rewrote .env from what it read before its round trips,
// dropping the set's value, and the set's own sync then found nothing to
// push — both exited 0 (internal/e2e/clistress,
// TestSetDuringSyncSameCheckout). Where the file system has no such locks,
// capy goes on without one; internal/envsync still refuses to replace a file
// that changed since it was read.
func (p *Project) lock() (release func(), err error) {
	dir := filepath.Join(p.Repo.Root, workspace.Dir)
	// The wait for the other capy has its own bound (lockWait) and is not
	// this command's time with the service: it does not spend CAPY_TIMEOUT.
	resume := p.ui.Pause()
	release, err = lockDir(dir, lockWait, func() {
		p.ui.Say("waiting for another capy working in this checkout…")
	})
	resume()
	if err != nil {
		if errors.Is(err, errLocked) {
			return nil, refuse(fmt.Errorf("another capy has been working in this checkout for over %v", lockWait), "locked",
				"wait for it to finish, or stop it, and run the command again")
		}
		return nil, err
	}
	st, err := p.Repo.LoadState()
	if err != nil {
		release()
		return nil, err
	}
	p.state = st
	p.rec, p.stateChecked = nil, false // the checkout record too may have changed meanwhile
	return release, nil
}

// lockDir takes an exclusive lock on dir (privfile.AcquireWithin), polling
// while another process holds it: waiting is called once if it has to
// wait, and after wait it gives up with errLocked. An unsupported lock
// (no flock on this system or file system) is no lock: release does
// nothing.
func lockDir(dir string, wait time.Duration, waiting func()) (release func(), err error) {
	l, err := privfile.AcquireWithin(dir, wait, waiting)
	switch {
	case errors.Is(err, errors.ErrUnsupported): // some network file systems: go on unlocked
		return func() {}, nil
	case err != nil:
		return nil, err
	}
	return l.Release, nil
}
