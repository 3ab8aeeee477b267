package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/api"
)

// auditFilter selects audit rows for `capy audit` (every field optional).
type auditFilter struct {
	actors map[string]bool // user (or deploy) ids; nil: anyone
	action string
	since  time.Time
	envID  string
}

// keep says whether row r passes the filter.
func (f auditFilter) keep(r api.AuditEntry) bool {
	if f.actors != nil && !f.actors[r.Actor] {
		return false
	}
	if f.action != "" && r.Action != f.action {
		return false
	}
	if !f.since.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, r.Time)
		if err != nil || t.Before(f.since) {
			return false
		}
	}
	if f.envID != "" && !targetNames(r.Target, f.envID) {
		return false
	}
	return true
}

// targetNames says whether an audit target (an object id, then
// " key=value" pairs: api.md §1.9) names id.
func targetNames(target, id string) bool {
	for _, tok := range strings.Fields(target) {
		if tok == id || strings.HasSuffix(tok, "="+id) {
			return true
		}
	}
	return false
}

// parseSince reads --since: a duration back from now ("24h", "90m"), a
// day ("2026-12-01", UTC) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is not a duration (24h), a day (2026-12-01) or an RFC 3339 time", s)
}

// auditLine is one line of `capy audit`: a row, or successful
// co-decrypts of one member within one hour folded together.
type auditLine struct {
	first, last api.AuditEntry
	count       int
}

// foldAudit folds the successful co-decrypts of each actor within each
// clock hour (UTC) into one line, placed where the first of them was;
// every other row is a line of its own. rows are in log order.
func foldAudit(rows []api.AuditEntry) []auditLine {
	var out []auditLine
	at := map[string]int{} // actor + hour → index in out
	for _, r := range rows {
		if r.Action != "co-decrypt" || r.Result != "ok" || len(r.Time) < 13 {
			out = append(out, auditLine{first: r, last: r, count: 1})
			continue
		}
		key := r.Actor + "\x00" + r.Time[:13]
		if i, ok := at[key]; ok {
			out[i].last = r
			out[i].count++
			continue
		}
		at[key] = len(out)
		out = append(out, auditLine{first: r, last: r, count: 1})
	}
	return out
}
