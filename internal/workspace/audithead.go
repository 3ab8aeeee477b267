package workspace

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
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
//
// Every unlock and push moves the org's head, so this write happens on
// almost every command. It is atomic (temporary file, fsync, rename: the
// file holds the old head or the new one, never a torn one) but the
// directory is not synced: a crash may bring the previous head back,
// which is a valid, older view of the same chain. That weakens the
// rollback detection a little (a fork at the lost position goes
// unnoticed until the next newer head) and never raises a false alarm
// (docs/decisions.md).
//
// With DeferAuditHead set, the write is left running (see Flush); the
// check against the recorded head is always done before returning. A
// write still in flight from an earlier call is waited for first, so
// writes stay in order and each check sees the previous head.
func (h *Home) RecordAuditHead(orgID string, a AuditHead) error {
	if err := h.Flush(); err != nil {
		return err
	}
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
	data, err := encodeJSON(p, a)
	if err != nil {
		return err
	}
	if !h.DeferAuditHead {
		return writeAuditHead(p, data)
	}
	ch := make(chan error, 1)
	h.mu.Lock()
	h.pending = ch
	h.mu.Unlock()
	go func() { ch <- writeAuditHead(p, data) }()
	return nil
}

// writeAuditHead writes audit_head.json (0600) atomically without the
// directory fsync; tests replace it to see deferred writes fail.
var writeAuditHead = func(path string, data []byte) error {
	return writePrivateWith(envfile.WriteFileAtomicNoDirSync, path, data)
}

func (h *Home) orgFile(orgID, name string) (string, error) {
	if err := ident.CheckID(ident.Org, orgID); err != nil {
		return "", err
	}
	return filepath.Join(h.Dir, "orgs", orgID, name), nil
}

// KeyCheck returns the org's key check cached on this machine ("" if none).
func (h *Home) KeyCheck(orgID string) (string, error) {
	p, err := h.orgFile(orgID, "key_check")
	if err != nil {
		return "", err
	}
	data, err := keys.ReadPrivateFile(p, 128)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}

// SetKeyCheck caches an org's key check (verified against M by the caller).
func (h *Home) SetKeyCheck(orgID, check string) error {
	p, err := h.orgFile(orgID, "key_check")
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(h.Dir, "orgs"), filepath.Dir(p)} {
		if err := ensurePrivateDir(d); err != nil {
			return err
		}
	}
	return writePrivate(p, []byte(check+"\n"))
}
