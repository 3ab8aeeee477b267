package server

import (
	"net/http"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
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
