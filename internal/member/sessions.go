package member

import (
	"context"
	"fmt"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
)

// Sessions lists this account's live sessions on the service, every page.
// Which one is this machine's is decided by the session id stored at
// login, not by the service's "current" flag.
func (a *Account) Sessions(ctx context.Context) ([]api.Session, error) {
	items, err := client.Collect(func(cursor string) (*api.List[api.Session], error) {
		return a.Client.Sessions(ctx, cursor, 200)
	})
	if err != nil {
		return nil, err
	}
	for i := range items {
		if err := ident.CheckID(ident.Session, items[i].ID); err != nil {
			return nil, fmt.Errorf("the service listed a malformed session id: %w", err)
		}
		items[i].Current = items[i].ID == a.Cred.SessionID
	}
	return items, nil
}

// RevokeSession revokes one of this account's sessions. Revoking this
// machine's own session is a logout: the stored one is forgotten too.
func (a *Account) RevokeSession(ctx context.Context, id string) (own bool, err error) {
	if err := ident.CheckID(ident.Session, id); err != nil {
		return false, err
	}
	if id == a.Cred.SessionID {
		return true, a.Logout(ctx)
	}
	return false, a.Client.RevokeSession(ctx, id)
}

// RevokeOtherSessions revokes every session of this account but this
// machine's (a lost laptop, a leaked token) and returns how many.
func (a *Account) RevokeOtherSessions(ctx context.Context) (int, error) {
	items, err := a.Sessions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range items {
		if s.ID == a.Cred.SessionID {
			continue
		}
		if err := a.Client.RevokeSession(ctx, s.ID); err != nil && !client.Is(err, api.PNotFound) {
			return n, fmt.Errorf("revoke session %s: %w", s.ID, err)
		}
		n++
	}
	return n, nil
}

// MayCreateOrgs asks the service whether the operator lets this account
// create organisations. A service that does not say (it predates the
// rule) is taken to allow it: its POST /v1/orgs decides.
func (a *Account) MayCreateOrgs(ctx context.Context) (bool, error) {
	me, err := a.Client.Me(ctx)
	if err != nil {
		return false, err
	}
	return me.MayCreateOrgs == nil || *me.MayCreateOrgs, nil
}
