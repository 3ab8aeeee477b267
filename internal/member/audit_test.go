package member

import (
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/workspace"
)

// chain builds a genuine audit chain of n entries.
func chain(n int) []api.AuditEntry {
	var rows []api.AuditEntry
	prev := auditchain.Genesis
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		ev := auditchain.Event{Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Second), Actor: "usr_x", Action: "co-decrypt", Target: "org_x", Result: "ok"}
		h := auditchain.Hash(prev, ev)
		rows = append(rows, api.AuditEntry{Seq: uint64(i), Time: auditchain.FormatTime(ev.Time), Actor: ev.Actor,
			Action: ev.Action, Target: ev.Target, Result: ev.Result, PrevHash: prev, Hash: h})
		prev = h
	}
	return rows
}

// `capy audit --verify` checks every head this machine recorded, not only
// the highest, and says so when one lies past the end of the log.
func TestVerifyChain(t *testing.T) {
	rows := chain(10)
	at := func(seq uint64) workspace.AuditHead { return workspace.AuditHead{Seq: seq, Hash: rows[seq-1].Hash} }
	other := strings.Repeat("ab", 32)
	for _, c := range []struct {
		name    string
		rows    []api.AuditEntry
		seen    []workspace.AuditHead
		checked int
		err     string
	}{
		{"nothing seen", rows, []workspace.AuditHead{{}}, 0, ""},
		{"every recorded head, duplicates once", rows, []workspace.AuditHead{at(10), at(3), at(7), at(10)}, 3, ""},
		{"a rewritten older entry", rows, []workspace.AuditHead{at(10), at(3), {Seq: 7, Hash: other}}, 0, "entry #7 differs"},
		{"a recorded entry past the end", rows, []workspace.AuditHead{{Seq: 1<<53 - 1, Hash: other}, at(3)}, 0,
			"has 10 entries, but the service named entry #9007199254740991"},
		{"the log cut short", rows[:8], []workspace.AuditHead{at(10), at(3)}, 0, "has 8 entries, but the service named entry #10"},
	} {
		n, err := VerifyAudit(c.rows, c.seen)
		if c.err == "" && (err != nil || n != c.checked) {
			t.Errorf("%s: %d, %v; want %d checked", c.name, n, err, c.checked)
		}
		if c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v; want /%s/", c.name, err, c.err)
		}
	}
	bad := chain(10)
	bad[4].Actor = "usr_y"
	if _, err := VerifyAudit(bad, nil); err == nil || !strings.Contains(err.Error(), "#5: the hash does not match") {
		t.Errorf("altered entry: %v", err)
	}
}
