package abuse

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSessionsCommand: `capy sessions` lists the account's sessions and
// marks this machine's by the id stored at login (not by the service's
// word); --revoke-others revokes the rest, so a lost laptop's session stops
// working at once; --revoke with this machine's id signs it out.
func TestSessionsCommand(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	laptop := w.s.person(a.email) // a second machine of alice's
	w.clone(laptop)
	laptop.login()
	if got := laptop.ok("whoami").stdout; !strings.Contains(got, a.email) {
		t.Fatalf("whoami on the laptop: %q", got)
	}
	var list []struct {
		ID      string `json:"id"`
		Current bool   `json:"current"`
	}
	if err := json.Unmarshal([]byte(a.ok("--json", "sessions").stdout), &list); err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, s := range list {
		if s.Current {
			current++
		}
	}
	if len(list) < 2 || current != 1 {
		t.Fatalf("sessions: %+v", list)
	}
	if out := a.ok("sessions").stdout; !strings.Contains(out, "(this machine)") || !strings.HasPrefix(out, "SESSION") {
		t.Fatalf("sessions table:\n%s", out)
	}

	// The service marks every session "current": capy decides by its own id.
	w.s.setModify(rewriteJSON("GET", `/v1/auth/sessions$`, func(m map[string]any) {
		for _, it := range m["items"].([]any) {
			it.(map[string]any)["current"] = true
		}
	}))
	r := a.ok("--json", "sessions", "--revoke-others")
	w.s.setModify(nil)
	if !strings.Contains(r.stdout, `"revoked_count"`) || strings.Contains(r.stdout, `"revoked_count": 0`) {
		t.Fatalf("--revoke-others: %s", r)
	}
	if r := laptop.capy("--json", "whoami"); r.exit == 0 {
		t.Fatalf("the laptop's session still works after --revoke-others: %s", r)
	}
	a.ok("whoami") // this machine stays signed in

	var me struct {
		Session struct {
			ID string `json:"id"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(a.ok("--json", "whoami").stdout), &me); err != nil {
		t.Fatal(err)
	}
	if r := a.ok("sessions", "--revoke", me.Session.ID); !strings.Contains(r.stderr, "signed out") {
		t.Fatalf("revoking this machine's session: %s", r)
	}
	if r := a.capy("--json", "whoami"); r.exit == 0 || r.code() != "not-signed-in" {
		t.Fatalf("after revoking its own session: %s", r)
	}
	if r := a.capy("--json", "sessions", "--revoke", "ses_../../x"); r.exit != 2 || r.code() != "usage" {
		t.Fatalf("a malformed id: %s", r)
	}
}
