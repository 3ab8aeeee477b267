package workspace

import (
	"errors"
	"io/fs"
	"path/filepath"

	"github.com/capy-oss/capy/internal/ident"
)

// AuditHead is the newest audit head this machine has seen for an org.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func (h *Home) auditPath(orgID string) (string, error) {
	if err := ident.CheckID(ident.Org, orgID); err != nil {
		return "", err
	}
	return filepath.Join(h.Dir, "orgs", orgID, "audit_head.json"), nil
}

// AuditHead returns the newest head seen for orgID (zero if none).
func (h *Home) AuditHead(orgID string) (AuditHead, error) {
	p, err := h.auditPath(orgID)
	if err != nil {
		return AuditHead{}, err
	}
	var a AuditHead
	err = readJSON(p, 4096, &a)
	if errors.Is(err, fs.ErrNotExist) {
		return AuditHead{}, nil
	}
	return a, err
}

// ErrAuditFork means the service reported a different hash for an audit
// position this machine has already seen: history was rewritten.
var ErrAuditFork = errors.New("the service's audit chain differs from the one this machine has seen (history was rewritten)")

// RecordAuditHead keeps a head if it is newer than the one recorded, and
// reports a fork if it names the recorded position with another hash.
func (h *Home) RecordAuditHead(orgID string, a AuditHead) error {
	cur, err := h.AuditHead(orgID)
	if err != nil {
		return err
	}
	if a.Seq == cur.Seq && a.Hash != cur.Hash && cur.Seq != 0 {
		return ErrAuditFork
	}
	if a.Seq <= cur.Seq {
		return nil
	}
	p, err := h.auditPath(orgID)
	if err != nil {
		return err
	}
	if err := ensurePrivateDir(filepath.Join(h.Dir, "orgs")); err != nil {
		return err
	}
	if err := ensurePrivateDir(filepath.Dir(p)); err != nil {
		return err
	}
	return writeJSON(p, a, true)
}
