package member

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/keys"
)

// The offline grace (docs/decisions.md #88). While an org's admin has it
// on, the machine keeps, per environment, the key it last unlocked,
// sealed under its device secret with the time of that unlock
// (keys.OfflineKey), and reads with it only when the service cannot be
// reached. The policy comes with every co-decrypt answer: off, or shorter
// than what a kept key was kept under, deletes the keys; so does any
// 401/403 (newAccount) and logout.

// offlineGrace reads the grace of a co-decrypt answer: negative is off,
// more than keys.MaxOfflineGrace is cut to it, and only whole seconds
// count.
func offlineGrace(seconds int64) time.Duration {
	if seconds <= 0 {
		return 0
	}
	if seconds >= int64(keys.MaxOfflineGrace/time.Second) {
		return keys.MaxOfflineGrace
	}
	return time.Duration(seconds) * time.Second
}

// KeepOffline applies the grace an unlock answered with: 0 deletes every
// key this member keeps for the org; otherwise a kept key of the org
// under a longer grace (or one that does not parse) is deleted, and ek,
// the key of environment envID at epoch just unlocked, is kept with now
// as its unlock time.
func (a *Account) KeepOffline(orgID, projectID, envID string, epoch uint32, ek keys.EnvKey, grace time.Duration, now time.Time) error {
	o := a.org(orgID)
	if grace <= 0 {
		return o.DeleteOfflineKeys(a.Cred.UserID)
	}
	grace = min(grace, keys.MaxOfflineGrace)
	envs, err := o.OfflineKeys(a.Cred.UserID)
	if err != nil {
		return err
	}
	for _, e := range envs {
		if e == envID {
			continue // replaced below
		}
		data, err := o.ReadOfflineKey(a.Cred.UserID, e)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, _, g, _, perr := keys.ParseOfflineHeader(data); perr != nil || g > grace {
			if err := o.DeleteOfflineKey(a.Cred.UserID, e); err != nil {
				return err
			}
		}
	}
	dev, err := a.Home.Device()
	if err != nil {
		return err
	}
	data, err := dev.SealOffline(keys.OfflineKey{Service: a.Client.BaseURL(), Org: orgID, User: a.Cred.UserID,
		Project: projectID, Env: envID, Epoch: epoch, UnlockedAt: now, Grace: grace, Key: ek})
	if err != nil {
		return err
	}
	return o.WriteOfflineKey(a.Cred.UserID, envID, data)
}

// OfflineKey returns the key kept for an environment if it may be used at
// now (found false, no error: none is kept). Only the caller knows the service could not be reached; it must
// not call this after any answer from the service. A kept key that is
// malformed, for another org, environment or epoch, or edited, is
// deleted and refused; one whose grace is over is deleted.
func (a *Account) OfflineKey(orgID, projectID, envID string, now time.Time) (k keys.OfflineKey, found bool, err error) {
	o := a.org(orgID)
	data, err := o.ReadOfflineKey(a.Cred.UserID, envID)
	if errors.Is(err, fs.ErrNotExist) {
		return keys.OfflineKey{}, false, nil
	}
	if err != nil {
		return keys.OfflineKey{}, true, err
	}
	dev, err := a.Home.Device()
	if err != nil {
		return keys.OfflineKey{}, true, err
	}
	k, err = dev.OpenOffline(data, a.Client.BaseURL(), orgID, a.Cred.UserID, projectID, envID)
	if err == nil {
		err = k.UsableAt(now)
	}
	if err != nil {
		if derr := o.DeleteOfflineKey(a.Cred.UserID, envID); derr != nil {
			return keys.OfflineKey{}, true, derr
		}
		return keys.OfflineKey{}, true, fmt.Errorf("not used, and deleted: %w", err)
	}
	return k, true, nil
}

// SetOfflineGrace sets the org's offline grace (0: off; at most
// keys.MaxOfflineGrace, whole seconds) and returns the org as the service
// now has it.
func (a *Account) SetOfflineGrace(ctx context.Context, orgID string, grace time.Duration) (*api.Org, error) {
	if grace < 0 || grace > keys.MaxOfflineGrace || grace%time.Second != 0 {
		return nil, fmt.Errorf("the offline grace must be whole seconds from 0 (off) to 7 days, not %s", grace)
	}
	org, err := a.Client.SetOrgPolicy(ctx, orgID, int64(grace/time.Second))
	if err != nil {
		return nil, err
	}
	if org.ID != orgID || org.OfflineGraceSeconds != int64(grace/time.Second) {
		return nil, fmt.Errorf("the service answered the policy change with another organisation or grace: check with `capy whoami`")
	}
	if grace == 0 {
		// This machine's own keys go now; the others' at their next unlock.
		if err := a.org(orgID).DeleteOfflineKeys(a.Cred.UserID); err != nil {
			return org, err
		}
	}
	return org, nil
}

// OfflineGrace reads an org's offline grace from an org the service
// listed, bounded like a co-decrypt answer's.
func OfflineGrace(o api.Org) time.Duration { return offlineGrace(o.OfflineGraceSeconds) }
