// Package member is what a member's machine (or a CI runner) does with the
// service: sign in, unlock the master key through a co-decrypt, enrol a
// device (key.enc), create orgs, projects and environments, invite and
// redeem, mint deploy codes, and bootstrap a CI runner. The CLI in
// cmd/capy is wiring and words around these operations.
package member

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// Errors the CLI maps to messages and exit codes.
var (
	ErrNotSignedIn = errors.New("not signed in to this service")
	ErrNoKeyEnc    = errors.New("this machine holds no key for the organisation")
	ErrKeyCheck    = keys.ErrKeyCheck
)

// Account is a signed-in session with one service.
type Account struct {
	Home   *workspace.Home
	Client *client.Client
	Cred   workspace.Credential
}

// SignedIn returns the account for a service, or ErrNotSignedIn.
func SignedIn(home *workspace.Home, c *client.Client) (*Account, error) {
	cred, ok, err := home.Credential(c.BaseURL())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNotSignedIn
	}
	return newAccount(home, c, cred), nil
}

// newAccount is the account of a session. Its client deletes the keys
// kept for the offline grace at the first 401 or 403 from the service (a
// kick, a revoked or expired session): a machine locked out loses them at
// its next contact.
func newAccount(home *workspace.Home, c *client.Client, cred workspace.Credential) *Account {
	service := c.BaseURL()
	cl := c.WithSession(cred.Token).OnRefused(func() { _ = home.DeleteServiceOfflineKeys(service) })
	return &Account{Home: home, Client: cl, Cred: cred}
}

// StartLogin asks the service to mail a login code.
func StartLogin(ctx context.Context, c *client.Client, email string) error {
	_, err := c.AuthStart(ctx, email)
	return err
}

// FinishLogin exchanges the code for a session and stores it.
func FinishLogin(ctx context.Context, home *workspace.Home, c *client.Client, email, code, label string) (*Account, error) {
	res, err := c.AuthVerify(ctx, email, code, label)
	if err != nil {
		return nil, err
	}
	// The user id names key.enc's directory and the session id goes into
	// a request path later: check what the service said before storing it.
	if ident.CheckID(ident.User, res.User.ID) != nil || ident.CheckID(ident.Session, res.Session.ID) != nil || res.User.Email != email {
		return nil, fmt.Errorf("the service answered the login with a malformed user or session, or another e-mail: not signed in")
	}
	cred := workspace.Credential{Token: res.Token, Email: res.User.Email, UserID: res.User.ID, SessionID: res.Session.ID}
	if err := home.SetCredential(c.BaseURL(), cred); err != nil {
		return nil, fmt.Errorf("save session: %w", err)
	}
	return newAccount(home, c, cred), nil
}

// Logout revokes the session on the service and forgets it locally (even
// if the service cannot be reached: the local copy goes either way).
func (a *Account) Logout(ctx context.Context) error {
	err := a.Client.Logout(ctx)
	if ferr := a.Home.DeleteServiceOfflineKeys(a.Client.BaseURL()); ferr != nil {
		return ferr
	}
	if ferr := a.Home.SetCredential(a.Client.BaseURL(), workspace.Credential{}); ferr != nil {
		return ferr
	}
	if client.Is(err, api.PUnauthenticated) || client.Is(err, api.PSessionExpired) {
		return nil
	}
	return err
}

// Unlock recovers M for an org: key.enc → co-decrypt (membership checked,
// audited) → inner layer opened with this device's key → key check. When
// the service re-wrapped key.enc under a newer KEK, the file is replaced,
// but only by a blob that can be the outer wrap of the inner layer the
// answer returned (checkKeyEncAnswer), and only once the answer's audit
// head passed the fork check: nothing in a refused answer is written.
// Every file used is this service's own (workspace.Org): another service
// that reuses the org id reads and writes files of its own.
func (a *Account) Unlock(ctx context.Context, orgID string) (keys.MasterKey, error) {
	m, _, err := a.UnlockWithGrace(ctx, orgID)
	return m, err
}

// UnlockWithGrace is Unlock that also returns the org's offline grace the
// co-decrypt answered with, bounded by keys.MaxOfflineGrace (a service
// cannot stretch it) and 0 when off.
func (a *Account) UnlockWithGrace(ctx context.Context, orgID string) (keys.MasterKey, time.Duration, error) {
	var m keys.MasterKey
	o := a.org(orgID)
	outer, err := o.ReadKeyEnc(a.Cred.UserID)
	if errors.Is(err, fs.ErrNotExist) {
		return m, 0, ErrNoKeyEnc
	}
	if err != nil {
		return m, 0, err
	}
	dev, err := a.Home.Device()
	if err != nil {
		return m, 0, err
	}
	// The recorded audit heads are read while the co-decrypt is in flight.
	heads := o.ReadAuditHeadsAhead()
	res, err := a.Client.CoDecrypt(ctx, orgID, outer)
	if err != nil {
		return m, 0, err
	}
	if m, err = a.finishUnlock(ctx, o, orgID, outer, res, &dev, heads); err != nil {
		return keys.MasterKey{}, 0, err
	}
	return m, offlineGrace(res.OfflineGraceSeconds), nil
}

// finishUnlock checks a co-decrypt answer and opens M from it.
func (a *Account) finishUnlock(ctx context.Context, o workspace.Org, orgID string, outer []byte, res *api.CoDecryptResponse, dev *keys.DeviceSecret, heads *workspace.AuditHeadsAhead) (keys.MasterKey, error) {
	var m keys.MasterKey
	var err error
	iwk := dev.InnerWrapKey(a.Cred.UserID, orgID)
	m, err = iwk.OpenMaster(res.Inner, orgID, a.Cred.UserID)
	if err != nil {
		return m, fmt.Errorf("open key.enc with this machine's device key: %w", err)
	}
	check, err := a.checkKey(ctx, o, orgID, &m)
	if err != nil {
		return keys.MasterKey{}, err
	}
	// The same bytes back are no re-wrap: nothing to write.
	rewrap := len(res.Rewrapped) > 0 && !bytes.Equal(res.Rewrapped, outer)
	if rewrap {
		if err := checkKeyEncAnswer(res.Rewrapped, res.Inner, &iwk, orgID, a.Cred.UserID); err != nil {
			return keys.MasterKey{}, fmt.Errorf("the co-decrypt answer's re-wrapped key.enc: %w; key.enc was not changed", err)
		}
	}
	if err := o.RecordAuditHeadAhead(heads, workspace.AuditHead(res.AuditHead)); err != nil {
		return keys.MasterKey{}, err
	}
	if rewrap {
		if err := o.WriteKeyEnc(a.Cred.UserID, res.Rewrapped); err != nil {
			return m, fmt.Errorf("replace key.enc after key rotation: %w", err)
		}
	}
	// This service opened key.enc and M matched the check: files an older
	// capy kept for the org id alone are this service's, and become so.
	if err := o.AdoptLegacy(a.Cred.UserID, outer, check); err != nil {
		return m, err
	}
	return m, nil
}

// checkKeyEncAnswer checks an outer blob the service handed back to become
// key.enc (a wrap answer, or a co-decrypt's re-wrap) against the inner
// layer it is for, before it replaces the file: the key-less rules of
// wrap.CheckOuterFor, then that no inner-layer-sized run of it opens with
// this machine's inner wrap key. The second rule also catches an older
// inner layer of this device (the service has seen every one at wraps
// and co-decrypts) put in place of the one sent. Either would leave a
// key.enc that device.key opens alone, with no service and no session:
// the state capy exists to prevent.
func checkKeyEncAnswer(outer, inner []byte, iwk *keys.InnerWrapKey, orgID, userID string) error {
	if err := wrap.CheckOuterFor(outer, inner); err != nil {
		return err
	}
	for i := 0; i+len(inner) <= len(outer); i++ {
		if outer[i] != wrap.SealVersion {
			continue
		}
		if _, err := iwk.OpenMaster(outer[i:i+len(inner)], orgID, userID); err == nil {
			return fmt.Errorf("%w: it holds an inner layer this machine's key opens (the outer wrap was left off)", wrap.ErrOuterAnswer)
		}
	}
	return nil
}

// org is where this machine keeps the org's files for this account's
// service.
func (a *Account) org(orgID string) workspace.Org {
	return a.Home.Org(a.Client.BaseURL(), orgID)
}

// checkKey compares M with the org's key check, cached locally after the
// first time so an unlock stays one round trip, and returns the check.
func (a *Account) checkKey(ctx context.Context, o workspace.Org, orgID string, m *keys.MasterKey) (string, error) {
	check, err := o.KeyCheck()
	if err != nil {
		// An insecure (symlinked, group-readable) cache is refused like
		// every key file, never silently replaced.
		return "", err
	}
	if check == "" {
		org, err := a.Client.Org(ctx, orgID)
		if err != nil {
			return "", err
		}
		check = org.KeyCheck
		if err := m.Verify(orgID, check); err != nil {
			return "", err
		}
		return check, o.SetKeyCheck(check)
	}
	return check, m.Verify(orgID, check)
}

// Enrol makes key.enc for this machine: M sealed with the device-bound
// inner wrap key, outer-wrapped by the service (which consumes any invite
// this member redeemed), checked (checkKeyEncAnswer) and written
// atomically. A refused answer leaves any key.enc there was untouched.
func (a *Account) Enrol(ctx context.Context, orgID, keyCheck string, m *keys.MasterKey) error {
	if err := m.Verify(orgID, keyCheck); err != nil {
		return err
	}
	dev, err := a.Home.Device()
	if err != nil {
		return err
	}
	iwk := dev.InnerWrapKey(a.Cred.UserID, orgID)
	inner, err := iwk.SealMaster(m, orgID, a.Cred.UserID)
	if err != nil {
		return err
	}
	outer, err := a.Client.Wrap(ctx, orgID, inner)
	if err != nil {
		return err
	}
	if err := checkKeyEncAnswer(outer, inner, &iwk, orgID, a.Cred.UserID); err != nil {
		return fmt.Errorf("the service's wrap of key.enc: %w; key.enc was not written", err)
	}
	o := a.org(orgID)
	if err := o.WriteKeyEnc(a.Cred.UserID, outer); err != nil {
		return err
	}
	return o.SetKeyCheck(keyCheck)
}

// HasKey reports whether this machine holds key.enc for the org.
func (a *Account) HasKey(orgID string) bool {
	_, err := a.org(orgID).ReadKeyEnc(a.Cred.UserID)
	return err == nil
}
