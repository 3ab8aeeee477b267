package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// Invite lifetimes (docs/api.md §4.4).
const (
	inviteTTLMin     = 600
	inviteTTLMax     = 2_592_000
	inviteTTLDefault = 604_800
)

func (s *Server) createInvite(c *call) error {
	var req api.CreateInviteRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "kind", "email", "inner"); err != nil {
		return err
	}
	var kind store.InviteKind
	switch req.Kind {
	case api.InviteMember:
		kind = store.InviteMember
		if err := require(present, "role"); err != nil {
			return err
		}
		if !req.Role.Valid() {
			return invalidField("role", "must be owner, admin or member")
		}
	case api.InviteDevice:
		kind = store.InviteDevice
		if present["role"] {
			return invalidField("role", "a device invite has no role")
		}
	default:
		return invalidField("kind", "must be member or device")
	}
	if err := checkEmail("email", req.Email); err != nil {
		return err
	}
	ttl := int64(inviteTTLDefault)
	if present["ttl_seconds"] {
		if *req.TTLSeconds < inviteTTLMin || *req.TTLSeconds > inviteTTLMax {
			return invalidField("ttl_seconds", "must be from 600 to 2592000")
		}
		ttl = *req.TTLSeconds
	}
	if err := checkInner("inner", req.Inner); err != nil {
		return err
	}
	orgID := c.org.ID
	id := ident.NewID(ident.Invite)
	outer, err := s.keks().Wrap(orgID, wrap.PurposeInvite, id, req.Inner)
	if err != nil {
		return err
	}
	in := store.NewInvite{
		ID: id, OrgID: orgID, Email: req.Email, Kind: kind,
		ExpiresAt: s.now().Add(time.Duration(ttl) * time.Second), Blob: outer,
	}
	if kind == store.InviteMember {
		in.Role = store.Role(*req.Role)
	}
	inv, _, err := s.st.CreateInvite(c.ctx(), c.tok, in)
	if errors.Is(err, store.ErrForbidden) {
		// Say which role is needed (the store decided on the role it
		// read in its transaction; c.member is the same membership).
		switch {
		case kind == store.InviteDevice:
			return problem(api.PForbidden, "a device invite is for your own e-mail address")
		case !c.member.Role.AtLeast(store.RoleAdmin):
			return problem(api.PForbidden, roleNeeded(store.RoleAdmin, c.member.Role))
		default:
			// The role may not exceed the creator's: only an owner
			// invites an owner.
			return problem(api.PForbidden, "inviting an owner needs the owner role; you are "+string(c.member.Role))
		}
	}
	if err != nil {
		return err
	}
	s.m.audit(store.ActionInvite, store.ResultOK)
	return c.json(http.StatusCreated, api.InviteResponse{Invite: apiInvite(inv, s.now())})
}

func (s *Server) listInvites(c *call) error {
	q := c.q
	status := q["status"]
	if _, ok := q["status"]; !ok {
		status = "open"
	}
	if status != "open" && status != "all" {
		return invalidField("status", "must be open or all")
	}
	p, err := parsePage(q, "invites:"+status, 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Invite)
	if err != nil {
		return err
	}
	now := s.now()
	var openAt time.Time // zero: all
	if status != "all" {
		openAt = now
	}
	pg, err := s.st.ListInvitesPage(c.ctx(), c.tok, c.org.ID, openAt, pq)
	if err != nil {
		return err
	}
	key := func(i store.Invite) string { return timeKey(i.CreatedAt, i.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, func(i store.Invite) api.Invite { return apiInvite(i, now) }))
}

func (s *Server) revokeInvite(c *call) error {
	inv, hd, err := s.st.RevokeInvite(c.ctx(), c.tok, c.org.ID, c.param("invite"))
	if err != nil {
		return err
	}
	if hd.Seq != 0 {
		s.m.audit(store.ActionInviteRevoke, store.ResultOK)
	}
	return c.json(http.StatusOK, api.InviteResponse{Invite: apiInvite(inv, s.now())})
}

func (s *Server) redeem(c *call) error {
	if err := c.limitUser(bucketRedeemUser, c.sess.UserID); err != nil {
		return err
	}
	id := c.param("invite")
	// The store opens the outer blob inside the redeem's transaction
	// (re-wrapping it under the primary KEK if it is under an older one):
	// one that does not open undoes the redeem.
	var inner []byte
	r, err := s.st.Redeem(c.ctx(), c.tok, id, s.openStored(c, wrap.PurposeInvite, id, &inner))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrForbidden):
		return problem(api.PInviteEmailMismatch, "")
	case errors.Is(err, store.ErrMembershipRevoked):
		return err
	case errors.Is(err, store.ErrRevoked):
		return problem(api.PInviteRevoked, "")
	case errors.Is(err, store.ErrExpired):
		return problem(api.PInviteExpired, "")
	default:
		return err // not-found, invite-consumed, not-a-member, …
	}
	s.m.audit(store.ActionRedeem, store.ResultOK)
	return c.json(http.StatusOK, api.RedeemResponse{
		Inner: inner, Invite: apiInvite(r.Invite, s.now()), Org: apiOrg(r.Org, r.Member.Role),
	})
}
