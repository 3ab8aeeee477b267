package main

import (
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
)

func TestFoldAudit(t *testing.T) {
	row := func(seq uint64, tm, actor, action, result string) api.AuditEntry {
		return api.AuditEntry{Seq: seq, Time: tm, Actor: actor, Action: action, Result: result}
	}
	rows := []api.AuditEntry{
		row(1, "2026-12-07T10:00:01.000000000Z", "usr_a", "co-decrypt", "ok"),
		row(2, "2026-12-07T10:10:00.000000000Z", "usr_b", "co-decrypt", "ok"),
		row(3, "2026-12-07T10:20:00.000000000Z", "usr_a", "push", "ok"),
		row(4, "2026-12-07T10:59:59.000000000Z", "usr_a", "co-decrypt", "ok"),
		row(5, "2026-12-07T11:00:00.000000000Z", "usr_a", "co-decrypt", "ok"),     // next hour
		row(6, "2026-12-07T11:00:01.000000000Z", "usr_a", "co-decrypt", "denied"), // never folded
	}
	got := foldAudit(rows)
	want := []struct {
		first, last uint64
		count       int
	}{{1, 4, 2}, {2, 2, 1}, {3, 3, 1}, {5, 5, 1}, {6, 6, 1}}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].first.Seq != w.first || got[i].last.Seq != w.last || got[i].count != w.count {
			t.Errorf("line %d: %d–%d ×%d, want %d–%d ×%d", i, got[i].first.Seq, got[i].last.Seq, got[i].count, w.first, w.last, w.count)
		}
	}
}

func TestAuditFilter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	since, err := parseSince("1h", now)
	if err != nil {
		t.Fatal(err)
	}
	f := auditFilter{actors: map[string]bool{"usr_a": true}, action: "co-decrypt", since: since, envID: "env_x"}
	ok := api.AuditEntry{Actor: "usr_a", Action: "co-decrypt", Time: "2026-12-07T11:30:00.000000000Z", Target: "org_o env=env_x"}
	if !f.keep(ok) {
		t.Fatal("matching row dropped")
	}
	for _, r := range []api.AuditEntry{
		{Actor: "usr_b", Action: "co-decrypt", Time: ok.Time, Target: ok.Target},
		{Actor: "usr_a", Action: "push", Time: ok.Time, Target: ok.Target},
		{Actor: "usr_a", Action: "co-decrypt", Time: "2026-12-07T10:59:59.000000000Z", Target: ok.Target},
		{Actor: "usr_a", Action: "co-decrypt", Time: ok.Time, Target: "org_o env=env_xy"},
	} {
		if f.keep(r) {
			t.Errorf("%+v kept", r)
		}
	}
	for _, s := range []string{"2026-12-01", "2026-12-01T10:00:00Z", "30m"} {
		if _, err := parseSince(s, now); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := parseSince("yesterday", now); err == nil {
		t.Error("yesterday accepted")
	}
}
