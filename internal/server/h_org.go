package server

import (
	"time"

	"errors"
	"net/http"
	"regexp"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

var (
	keyCheckRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
	slugRe     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	hex64Re    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func checkID(field string, k ident.Kind, id string) error {
	if ident.CheckID(k, id) != nil {
		return invalidField(field, "must be an id of kind "+string(k))
	}
	return nil
}

func (s *Server) createOrg(c *call) error {
	// The operator's rule is a right, checked where a role would be
	// (docs/api.md §1.7 step 5), before the body.
	if !s.cfg.Access.mayCreateOrg(c.sess.Email) {
		return s.cfg.Access.orgCreationRefusal()
	}
	var req api.CreateOrgRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "id", "name", "key_check"); err != nil {
		return err
	}
	if err := checkID("id", ident.Org, req.ID); err != nil {
		return err
	}
	if err := checkLabel("name", req.Name); err != nil {
		return err
	}
	if !keyCheckRe.MatchString(req.KeyCheck) {
		return invalidField("key_check", "must be 32 lowercase hex characters")
	}
	o, _, err := s.st.CreateOrg(c.ctx(), c.tok, store.NewOrg{ID: req.ID, Name: req.Name, KeyCheck: req.KeyCheck})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionOrgCreate, store.ResultOK)
	return c.json(http.StatusCreated, api.OrgResponse{Org: apiOrg(o, store.RoleOwner)})
}

func (s *Server) listOrgs(c *call) error {
	q := c.q
	p, err := parsePage(q, "orgs", 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Org)
	if err != nil {
		return err
	}
	pg, err := s.st.ListOrgsPage(c.ctx(), c.tok, pq)
	if err != nil {
		return err
	}
	key := func(om store.OrgMembership) string { return timeKey(om.Org.CreatedAt, om.Org.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, func(om store.OrgMembership) api.Org {
		return apiOrg(om.Org, om.Member.Role)
	}))
}

func (s *Server) getOrg(c *call) error {
	return c.json(http.StatusOK, api.OrgResponse{Org: apiOrg(c.org, c.member.Role)})
}

// setOrgPolicy sets the org's offline grace (admins and owners: the
// route's role).
func (s *Server) setOrgPolicy(c *call) error {
	var req api.OrgPolicyRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "offline_grace_seconds"); err != nil {
		return err
	}
	if req.OfflineGraceSeconds < 0 || req.OfflineGraceSeconds > int64(store.MaxOfflineGrace/time.Second) {
		return invalidField("offline_grace_seconds", "must be from 0 (off) to 604800 (7 days)")
	}
	o, hd, err := s.st.SetOrgPolicy(c.ctx(), c.tok, c.org.ID, store.OrgPolicy{OfflineGrace: time.Duration(req.OfflineGraceSeconds) * time.Second})
	if err != nil {
		return err
	}
	if hd.Seq != 0 {
		s.m.audit(store.ActionOrgPolicy, store.ResultOK)
	}
	return c.json(http.StatusOK, api.OrgResponse{Org: apiOrg(o, c.member.Role)})
}

// ----- keys: wrap and co-decrypt (docs/api.md §4.3) -----

func (s *Server) wrapKey(c *call) error {
	var req api.WrapRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "purpose", "inner"); err != nil {
		return err
	}
	if req.Purpose != wrap.PurposeKey {
		return invalidField("purpose", `must be "key"`)
	}
	if err := checkInner("inner", req.Inner); err != nil {
		return err
	}
	if err := c.limitUser(bucketKeysUser, c.sess.UserID); err != nil {
		return err
	}
	orgID, userID := c.org.ID, c.sess.UserID
	outer, err := s.keks().Wrap(orgID, wrap.PurposeKey, userID, req.Inner)
	if err != nil {
		return err
	}
	// The outer blob leaves only once the wrap (and the invites it
	// consumes) is audited and committed.
	if _, err := s.st.Wrap(c.ctx(), c.tok, orgID, userID); err != nil {
		return err
	}
	s.m.audit(store.ActionWrap, store.ResultOK)
	return c.json(http.StatusOK, api.WrapResponse{Outer: outer})
}

func (s *Server) coDecrypt(c *call) error {
	var req api.CoDecryptRequest
	// run left a bad query string to this route, to be reported with the
	// body after the gate.
	bodyErr := c.queryErr
	if bodyErr == nil {
		var present map[string]bool
		present, bodyErr = c.decode(&req)
		if bodyErr == nil {
			bodyErr = require(present, "outer")
		}
	}
	if bodyErr == nil && (len(req.Outer) != outerSize || req.Outer[0] != wrap.OuterVersion) {
		bodyErr = problem(api.PBadOuter, "")
	}
	// The gate checks the session and the membership (locked against a
	// kick; a revoked member's refusal is audited) in its transaction,
	// which saves the route's own read. admit then runs the steps that
	// need an active member, in §1.7's order: the query and the body (a
	// bad one is reported only now, after session and membership), the
	// per-user limit, the unwrap.
	orgID := c.param("org")
	var inner, rewrapped []byte
	admit := func(userID string) error {
		inner, rewrapped = nil, nil
		if bodyErr != nil {
			return bodyErr
		}
		if err := c.limitUser(bucketKeysUser, userID); err != nil {
			return err
		}
		// Open before the row: the AAD binds purpose, org and subject, so
		// another user's, org's or purpose's blob fails here and changes
		// nothing.
		in, re, err := s.unwrap(orgID, wrap.PurposeKey, userID, req.Outer)
		if p := missingKEK(wrap.PurposeKey, err); p != nil {
			return p
		}
		if err != nil {
			return problem(api.PBadOuter, "")
		}
		inner, rewrapped = in, re
		return nil
	}
	g, err := s.st.CoDecrypt(c.ctx(), c.tok, orgID, admit)
	if g.UserID != "" {
		c.setSession(store.Session{UserID: g.UserID})
	}
	if err != nil {
		if errors.Is(err, store.ErrMembershipRevoked) {
			s.m.audit(store.ActionCoDecrypt, store.ResultDenied)
		}
		return err
	}
	// Only a nil error from the gate lets the inner blob leave.
	s.m.audit(store.ActionCoDecrypt, store.ResultOK)
	return c.json(http.StatusOK, api.CoDecryptResponse{Inner: inner, Rewrapped: rewrapped, AuditHead: apiHead(g.Audit),
		OfflineGraceSeconds: int64(g.OfflineGrace / time.Second)})
}
