package abuse

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// keptKeys returns the files p's machine keeps for the offline grace.
func keptKeys(t *testing.T, p *person) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(p.home, "services", "*", "orgs", "*", "users", "*", "offline", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestMaliciousOfflineGrace (decision 88), the service as the attacker:
// it cannot stretch the grace past 7 days by answering a longer one; an
// answer of any kind (an error included) is never "offline", so the kept
// key is not read; a refused session (401) deletes what was kept.
func TestMaliciousOfflineGrace(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a := w.alice
	a.ok("org", "policy", "--offline-grace", "1h")

	// A co-decrypt answer that claims a grace of 34,000 years: kept as
	// 7 days.
	w.s.setModify(func(r *http.Request, status int, body []byte) []byte {
		if status != http.StatusOK || !strings.HasSuffix(r.URL.Path, "/co-decrypt") {
			return body
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("co-decrypt answer: %v", err)
			return body
		}
		m["offline_grace_seconds"] = int64(1) << 40
		out, _ := json.Marshal(m)
		return out
	})
	a.ok("get", "A")
	w.s.setModify(nil)
	kept := keptKeys(t, a)
	if len(kept) != 1 {
		t.Fatalf("kept %v, want one file", kept)
	}
	data, err := os.ReadFile(kept[0])
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(data)); len(f) != 6 || f[4] != "604800" {
		t.Fatalf("kept under grace %q, want 604800 (7 days)", string(data))
	}

	// The service answers, with an error (a route it does not have):
	// capy does not read offline, and keeps the key.
	setRewrite(w.s, func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/co-decrypt") {
			r.URL.Path += "-nope"
		}
	})
	r := a.capy("get", "A")
	if r.exit == 0 || strings.Contains(r.stderr, "offline") || strings.Contains(r.stdout, "alpha") {
		t.Fatalf("an answering service's error read offline: %s", r)
	}
	if len(keptKeys(t, a)) != 1 {
		t.Fatal("an answer that is not a refusal deleted the kept key")
	}

	// A 401 (the session refused) deletes it.
	setRewrite(w.s, func(r *http.Request) { r.Header.Set("Authorization", "Bearer capys_not-a-session") })
	if r := a.capy("get", "A"); r.exit == 0 || strings.Contains(r.stderr, "offline") {
		t.Fatalf("a refused session: %s", r)
	}
	setRewrite(w.s, nil)
	if k := keptKeys(t, a); len(k) != 0 {
		t.Fatalf("a 401 left %v", k)
	}
}

// setRewrite installs (or, with nil, removes) the request rewrite.
func setRewrite(s *service, f func(*http.Request)) {
	s.mu.Lock()
	s.rewriteReq = f
	s.mu.Unlock()
}
