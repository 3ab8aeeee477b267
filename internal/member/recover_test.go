package member

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// TestRecoverRecordsBeforeWrapping: a recovery checks the phrase against
// the org's key check, then records the recovery in the audit log, then
// has key.enc wrapped, in that order; a phrase of another org records and
// writes nothing; an audit answer whose head is malformed stops the
// recovery before the wrap, with no key.enc written.
func TestRecoverRecordsBeforeWrapping(t *testing.T) {
	phrase, err := keys.NewPhrase()
	if err != nil {
		t.Fatal(err)
	}
	m, err := keys.MasterKeyFromPhrase(phrase)
	if err != nil {
		t.Fatal(err)
	}
	var kek [wrap.KeySize]byte
	kek[0] = 9
	var (
		mu       sync.Mutex
		requests []string
		events   []api.AuditEventRequest
		badHead  bool
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests = append(requests, r.Method+" "+strings.TrimPrefix(r.URL.Path, "/v1/orgs/"+org))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/v1/orgs/"+org:
			json.NewEncoder(w).Encode(api.OrgResponse{Org: api.Org{ID: org, Name: "Acme", KeyCheck: m.KeyCheck(org), Role: api.RoleOwner}})
		case r.Method == "POST" && r.URL.Path == "/v1/orgs/"+org+"/audit/events":
			var ev api.AuditEventRequest
			json.NewDecoder(r.Body).Decode(&ev)
			events = append(events, ev)
			hash := strings.Repeat("ab", 32)
			if badHead {
				hash = "not a hash"
			}
			json.NewEncoder(w).Encode(api.AuditEventResponse{AuditHead: api.AuditHead{Seq: 7, Hash: hash}})
		case r.Method == "POST" && r.URL.Path == "/v1/orgs/"+org+"/wrap":
			var req api.WrapRequest
			json.NewDecoder(r.Body).Decode(&req)
			outer, err := wrap.SealOuter(&kek, 1, org, wrap.PurposeKey, user, req.Inner)
			if err != nil {
				t.Error(err)
			}
			json.NewEncoder(w).Encode(api.WrapResponse{Outer: outer})
		default:
			http.Error(w, "unexpected", http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAPY_HOME", dir)
	home, err := workspace.OpenHome()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(srv.URL, client.WithToken("capys_x"))
	if err != nil {
		t.Fatal(err)
	}
	a := &Account{Home: home, Client: cl, Cred: workspace.Credential{UserID: user}}
	ctx := t.Context()
	reset := func() { mu.Lock(); requests, events = nil, nil; mu.Unlock() }

	other, _ := keys.NewPhrase()
	if err := a.Recover(ctx, org, other); !errors.Is(err, keys.ErrKeyCheck) {
		t.Fatalf("another org's phrase: %v", err)
	}
	if strings.Join(requests, ",") != "GET " || a.HasKey(org) {
		t.Fatalf("another org's phrase sent %q", requests)
	}

	reset()
	badHead = true
	ev := api.AuditEventRequest{Action: api.EventRecover, From: "shares", Set: "5e1a"}
	if err := a.RecoverWith(ctx, org, phrase, ev); err == nil {
		t.Fatal("a malformed audit head was accepted")
	}
	if strings.Join(requests, ",") != "GET ,POST /audit/events" || a.HasKey(org) {
		t.Fatalf("after a malformed audit head: %q", requests)
	}

	reset()
	badHead = false
	if err := a.Recover(ctx, org, phrase); err != nil {
		t.Fatal(err)
	}
	if strings.Join(requests, ",") != "GET ,POST /audit/events,POST /wrap" || !a.HasKey(org) {
		t.Fatalf("recover sent %q", requests)
	}
	if len(events) != 1 || events[0] != (api.AuditEventRequest{Action: "recover", From: "phrase"}) {
		t.Fatalf("events %+v", events)
	}
}
