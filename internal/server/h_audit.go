package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store"
)

func (s *Server) listAudit(c *call) error {
	q := c.q
	from := int64(1)
	if v, ok := q["from_seq"]; ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
			return invalidField("from_seq", "must be an integer from 1")
		}
		from = n
	}
	p, err := parsePage(q, "audit", 500, 1000)
	if err != nil {
		return err
	}
	after := from - 1
	if p.has {
		n, err := strconv.ParseInt(p.after, 10, 64)
		if err != nil || n < 0 {
			return invalidField("cursor", "the cursor is malformed or belongs to another list")
		}
		after = n
	}
	evs, hd, err := s.st.ListAudit(c.ctx(), c.tok, c.org.ID, after, p.limit)
	if err != nil {
		return err
	}
	out := api.AuditListResponse{Items: []api.AuditEntry{}, Head: apiHead(hd)}
	for _, e := range evs {
		out.Items = append(out.Items, apiAudit(e))
	}
	// A next page exists while the page ends below the head.
	if n := len(evs); n > 0 && evs[n-1].Seq < hd.Seq {
		out.NextCursor = p.cursor(strconv.FormatInt(evs[n-1].Seq, 10))
	}
	return c.json(http.StatusOK, out)
}

func (s *Server) verifyAudit(c *call) error {
	v, err := s.st.VerifyAudit(c.ctx(), c.tok, c.org.ID)
	if err != nil {
		return err
	}
	out := api.AuditVerifyResponse{Valid: v.Valid, Rows: uint64(v.Rows), Head: apiHead(v.Head)}
	if !v.Valid {
		b := uint64(v.FirstBadSeq)
		out.FirstBadSeq = &b
	}
	return c.json(http.StatusOK, out)
}

// recordEvent appends an event a member's client reports (docs/api.md
// §4.9). The body names the action, and with it the role it needs, so
// that role is checked once the action is read and before its fields.
func (s *Server) recordEvent(c *call) error {
	var req api.AuditEventRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "action"); err != nil {
		return err
	}
	ev := store.ClientEvent{Action: req.Action, Set: req.Set, Scheme: req.Scheme, From: req.From}
	if req.Action == api.EventRecoverySplit && !c.member.Role.AtLeast(ev.MinRole()) {
		return problem(api.PForbidden, roleNeeded(ev.MinRole(), c.member.Role))
	}
	if err := ev.Check(); err != nil {
		var fe *store.FieldError
		if errors.As(err, &fe) {
			return invalidField(fe.Field, fe.Reason)
		}
		return err
	}
	if err := c.limitUser(bucketKeysUser, c.sess.UserID); err != nil {
		return err
	}
	hd, err := s.st.RecordEvent(c.ctx(), c.tok, c.org.ID, ev)
	if err != nil {
		return err
	}
	s.m.audit(ev.Action, store.ResultOK)
	return c.json(http.StatusOK, api.AuditEventResponse{AuditHead: apiHead(hd)})
}
