package server

import (
	"net/http"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func (s *Server) listMembers(c *call) error {
	q := c.q
	status, ok := q["status"]
	if !ok {
		status = "active"
	}
	if status != "active" && status != "revoked" && status != "all" {
		return invalidField("status", "must be active, revoked or all")
	}
	email, byEmail := q["email"]
	if byEmail {
		if err := checkEmail("email", email); err != nil {
			return err
		}
	}
	p, err := parsePage(q, "members:"+status+":"+email, 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.User)
	if err != nil {
		return err
	}
	f := store.MemberFilter{Email: email}
	if status != "all" {
		f.Status = store.MemberStatus(status)
	}
	pg, err := s.st.ListMembersPage(c.ctx(), c.tok, c.org.ID, f, pq)
	if err != nil {
		return err
	}
	key := func(m store.Member) string { return timeKey(m.JoinedAt, m.UserID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, apiMember))
}

func (s *Server) setRole(c *call) error {
	var req api.SetRoleRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "role"); err != nil {
		return err
	}
	if !req.Role.Valid() {
		return invalidField("role", "must be owner, admin or member")
	}
	m, hd, err := s.st.SetRole(c.ctx(), c.tok, c.org.ID, c.param("user"), store.Role(req.Role))
	if err != nil {
		return err
	}
	if hd.Seq != 0 {
		s.m.audit(store.ActionRole, store.ResultOK)
	}
	return c.json(http.StatusOK, api.MemberResponse{Member: apiMember(m)})
}

func (s *Server) kick(c *call) error {
	var req api.KickRequest
	if _, err := c.decode(&req); err != nil {
		return err
	}
	res, err := s.st.Kick(c.ctx(), c.tok, c.org.ID, c.param("user"), store.KickOptions{KeepDeploys: req.KeepDeploys})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionKick, store.ResultOK)
	return c.json(http.StatusOK, api.KickResponse{
		Member: apiMember(res.Member), RevokedInvites: nonNil(res.RevokedInvites),
		RevokedDeploys: nonNil(res.RevokedDeploys), KeptDeploys: nonNil(res.KeptDeploys),
	})
}
