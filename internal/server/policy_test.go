package server

import (
	"net/http"
	"testing"

	"github.com/capy-oss/capy/internal/api"
)

// TestOrgPolicy: PUT …/policy is for admins and owners, takes 0 to 604800
// seconds (a missing field, a bound passed or a fraction is refused and
// changes nothing), is audited once per change, and every co-decrypt
// answer and org read carries the grace from then on.
func TestOrgPolicy(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		res := must(w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		if res.OfflineGraceSeconds != 0 {
			t.Fatalf("a new org's co-decrypt carries grace %d", res.OfflineGraceSeconds)
		}
		before := e.snapshot(w)
		_, err := w.member.SetOrgPolicy(e.ctx, w.org, 3600)
		p := wantProblem(t, err, api.PForbidden, "a member")
		if p.Detail != "this needs the admin role or higher; you are member" {
			t.Fatalf("forbidden detail %q", p.Detail)
		}
		for _, bad := range []int64{-1, 604801} {
			_, err := w.admin.SetOrgPolicy(e.ctx, w.org, bad)
			wantProblem(t, err, api.PInvalidField, "a grace out of bounds")
		}
		hdr := map[string]string{"Authorization": "Bearer " + w.admin.Token, "Content-Type": "application/json"}
		for _, body := range []string{`{}`, `{"offline_grace_seconds":1.5}`, `{"offline_grace_seconds":"1h"}`, `{"offline_grace_seconds":60,"x":1}`} {
			resp, b := e.raw(http.MethodPut, "/v1/orgs/"+w.org+"/policy", []byte(body), hdr)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
			}
		}
		e.unchanged(w, before, "refused policy changes")

		org := must(w.admin.SetOrgPolicy(e.ctx, w.org, 28800))
		if org.ID != w.org || org.OfflineGraceSeconds != 28800 || org.Role != api.RoleAdmin {
			t.Fatalf("answer %+v", org)
		}
		if last := e.lastAudit(w); last.Action != "org-policy" || last.Actor != w.admin.ID || last.Target != w.org+" offline_grace=28800" {
			t.Fatalf("audit %+v", last)
		}
		res = must(w.member.CoDecrypt(e.ctx, w.org, w.outers[w.member.ID]))
		got := must(w.member.Org(e.ctx, w.org))
		if res.OfflineGraceSeconds != 28800 || got.OfflineGraceSeconds != 28800 {
			t.Fatalf("co-decrypt %d, org %d, want 28800", res.OfflineGraceSeconds, got.OfflineGraceSeconds)
		}
		// The same value again writes no row.
		seq := e.lastAudit(w).Seq
		must(w.owner.SetOrgPolicy(e.ctx, w.org, 28800))
		if e.lastAudit(w).Seq != seq {
			t.Fatal("setting the same policy again wrote a row")
		}
	})
}
