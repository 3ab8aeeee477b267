package member

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// Invite creates a member invite (or, with kind device, an invite for this
// member's next machine) and returns the redeem code. T leaves this
// function only inside the code.
func (a *Account) Invite(ctx context.Context, m *keys.MasterKey, orgID, kind, email string, role api.Role, ttl time.Duration) (string, *api.Invite, error) {
	email, err := ident.CanonicalEmail(email)
	if err != nil {
		return "", nil, err
	}
	t, err := keys.NewInviteToken()
	if err != nil {
		return "", nil, err
	}
	inner, err := t.SealMaster(m, orgID, email)
	if err != nil {
		return "", nil, err
	}
	req := api.CreateInviteRequest{Kind: kind, Email: email, Inner: inner}
	if kind == api.InviteMember {
		req.Role = &role
	}
	if ttl > 0 {
		s := int64(ttl / time.Second)
		req.TTLSeconds = &s
	}
	inv, err := a.Client.CreateInvite(ctx, orgID, req)
	if err != nil {
		return "", nil, err
	}
	if err := ident.CheckID(ident.Invite, inv.ID); err != nil {
		return "", nil, fmt.Errorf("service returned a malformed invite id: %w", err)
	}
	code := wrap.RedeemCode{URL: a.Client.BaseURL(), OrgID: orgID, InviteID: inv.ID, Token: t}
	return code.Encode(), inv, nil
}

// ErrCodeOrg means the service answered a redeem for another org than the
// code names.
var ErrCodeOrg = errors.New("the service answered for another organisation than the code names")

// ParseRedeemCode reads a redeem code as typed (wrap.ParseRedeemCode), so
// that the service and organisation it names can be shown before Redeem
// contacts them.
func ParseRedeemCode(text string) (wrap.RedeemCode, error) { return wrap.ParseRedeemCode(text) }

// Redeem joins the org of a redeem code (or adds this machine): the
// service releases the invite's inner blob to a session with the invited
// e-mail; M is opened with T and that e-mail, checked against the key
// check, and enrolled on this machine.
func (a *Account) Redeem(ctx context.Context, code wrap.RedeemCode) (*api.RedeemResponse, error) {
	res, err := a.Client.Redeem(ctx, code.InviteID)
	if err != nil {
		return nil, err
	}
	if res.Org.ID != code.OrgID {
		return nil, ErrCodeOrg
	}
	t := keys.InviteToken(code.Token)
	m, err := t.OpenMaster(res.Inner, code.OrgID, a.Cred.Email)
	if err != nil {
		return nil, fmt.Errorf("the code does not open for %s (wrong e-mail, or a damaged code): %w", a.Cred.Email, err)
	}
	if err := a.Enrol(ctx, code.OrgID, res.Org.KeyCheck, &m); err != nil {
		return nil, err
	}
	return res, nil
}

// FindMember resolves an e-mail to a member of the org (any status).
func (a *Account) FindMember(ctx context.Context, orgID, email string) (*api.Member, error) {
	email, err := ident.CanonicalEmail(email)
	if err != nil {
		return nil, err
	}
	page, err := a.Client.Members(ctx, orgID, "all", email, "", 10)
	if err != nil {
		return nil, err
	}
	for _, mb := range page.Items {
		if mb.Email == email {
			if err := ident.CheckID(ident.User, mb.ID); err != nil {
				return nil, err
			}
			return &mb, nil
		}
	}
	return nil, fmt.Errorf("%s is not a member of this organisation", email)
}
