package member

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/workspace"
)

// VerifyAudit recomputes every hash from the genesis and checks that the
// chain holds every head this machine recorded (seq, hash) with the same
// hash. A recorded position past the end of the chain is an error too:
// the service named it in an answer before it served this log, so the
// log was cut short, or that answer named an entry that was never
// written. It returns how many distinct recorded positions it checked.
func VerifyAudit(rows []api.AuditEntry, seen []workspace.AuditHead) (int, error) {
	chain := auditchain.NewVerifier()
	for _, r := range rows {
		if r.Seq > 1<<53-1 {
			return 0, fmt.Errorf("%w: audit entry #%d is out of range", auditchain.ErrBroken, r.Seq)
		}
		t, err := auditchain.ParseTime(r.Time)
		if err != nil {
			return 0, fmt.Errorf("audit entry #%d: %w", r.Seq, err)
		}
		ev := auditchain.Event{Seq: int64(r.Seq), Time: t, Actor: r.Actor, Action: r.Action, Target: r.Target, Result: r.Result}
		if err := chain.Next(ev, r.PrevHash, r.Hash); err != nil {
			return 0, err
		}
	}
	heads := slices.Clone(seen)
	slices.SortFunc(heads, func(a, b workspace.AuditHead) int { return cmp.Compare(a.Seq, b.Seq) })
	checked := 0
	for i, s := range heads {
		if s.Seq == 0 || i > 0 && s == heads[i-1] {
			continue
		}
		if s.Seq > uint64(len(rows)) {
			return 0, fmt.Errorf("the audit log has %d entries, but the service named entry #%d to this machine before: the log was cut short, or that answer named an entry that was never written", len(rows), s.Seq)
		}
		if rows[s.Seq-1].Hash != s.Hash {
			return 0, fmt.Errorf("audit entry #%d differs from the one this machine saw", s.Seq)
		}
		checked++
	}
	return checked, nil
}

// RecordEvent reports an event of this machine (a split of the recovery
// phrase, a recovery) to the org's audit log, and records the head the
// answer names like a co-decrypt's: a head that is malformed, too far
// ahead or a fork of one seen is refused (workspace audit heads).
func (a *Account) RecordEvent(ctx context.Context, orgID string, ev api.AuditEventRequest) error {
	res, err := a.Client.RecordAuditEvent(ctx, orgID, ev)
	if err != nil {
		return err
	}
	return a.org(orgID).RecordAuditHead(workspace.AuditHead(res.AuditHead))
}
