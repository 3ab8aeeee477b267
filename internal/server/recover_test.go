package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/store"
)

// panickyStore is a store whose CreateOrg panics while armed: a bug deep
// in a handler's call, as the middleware meets it.
type panickyStore struct {
	store.Store
	armed atomic.Bool
}

func (p *panickyStore) CreateOrg(ctx context.Context, tok store.TokenHash, o store.NewOrg) (store.Org, store.AuditHead, error) {
	if p.armed.Load() {
		panic("boom: a bug in the store")
	}
	return p.Store.CreateOrg(ctx, tok, o)
}

// TestPanicRecovered: a panicking handler answers 500 internal as a
// problem document with its request id, logs the request id and the
// panic (never the token or the body), and the service goes on serving.
func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	defer guard(t)
	c := &clock{t: time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)}
	ps := &panickyStore{Store: openStore(t, "sqlite", c)}
	kr, err := kekring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, "sqlite", ps, kr, c, Config{}, false)
	u := e.login(addr("owner"))

	ps.armed.Store(true)
	orgID, name, check := ident.NewID(ident.Org), "Secret Corp name", hex.EncodeToString(randBytes(16))
	body := `{"id":"` + orgID + `","name":"` + name + `","key_check":"` + check + `"}`
	resp, b := e.raw("POST", "/v1/orgs", []byte(body), map[string]string{
		"Authorization": "Bearer " + u.Token, "Content-Type": "application/json",
	})
	p := rawProblem(t, resp, b, api.PInternal)
	rid := resp.Header.Get("Capy-Request-Id")
	if !strings.HasPrefix(rid, "req_") || p["request_id"] != rid || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("problem %v, headers %v", p, resp.Header)
	}
	if strings.Contains(string(b), "boom") {
		t.Fatalf("the panic reached the client: %s", b)
	}

	logs := e.logs.String()
	var panicLine, accessLine map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if m["request_id"] != rid {
			continue
		}
		switch m["msg"] {
		case "panic while serving a request":
			if panicLine != nil {
				t.Fatalf("two panic lines for one request:\n%s", logs)
			}
			panicLine = m
		case "request":
			accessLine = m
		case "internal error":
			t.Fatalf("the panic was logged twice:\n%s", logs)
		}
	}
	if panicLine == nil || panicLine["level"] != "ERROR" || panicLine["panic"] != "boom: a bug in the store" ||
		panicLine["route"] != "/v1/orgs" || !strings.Contains(panicLine["stack"].(string), "panickyStore") {
		t.Fatalf("panic line %v in:\n%s", panicLine, logs)
	}
	if accessLine == nil || accessLine["status"] != float64(500) || accessLine["problem"] != string(api.PInternal) {
		t.Fatalf("access line %v in:\n%s", accessLine, logs)
	}
	for _, secret := range []string{u.Token, u.Token[len(tokenPrefix):], name, check} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log holds %q:\n%s", secret, logs)
		}
	}
	if n := counterValue(t, e.reg, "capyd_http_requests_total", map[string]string{"route": "/v1/orgs", "method": "POST", "status": "500"}); n != 1 {
		t.Fatalf("500s counted: %v", n)
	}

	// The process lives: the same request succeeds once the bug is gone.
	ps.armed.Store(false)
	must(u.CreateOrg(e.ctx, api.CreateOrgRequest{ID: orgID, Name: name, KeyCheck: check}))
	must(u.Orgs(e.ctx, "", 0))
}

// TestPanicAfterAnswerBegan: a handler that panics after its answer began
// cannot turn it into a problem; the connection is cut so the client does
// not take the partial answer for a whole one. An on-purpose abort
// (http.ErrAbortHandler) is not logged as a panic.
func TestPanicAfterAnswerBegan(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	kr, err := kekring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{PublicURL: publicURL, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Registry: prometheus.NewRegistry()},
		&panickyStore{}, kr, &mailbox{})
	if err != nil {
		t.Fatal(err)
	}
	var value atomic.Pointer[any]
	hs := httptest.NewServer(srv.outer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		// More than net/http buffers, so part of it is on the wire.
		_, _ = io.WriteString(w, `{"partial":"`+strings.Repeat("x", 16<<10))
		panic(*value.Load())
	})))
	defer hs.Close()
	for _, v := range []any{"late boom", http.ErrAbortHandler} {
		value.Store(&v)
		resp, err := hs.Client().Get(hs.URL + "/anything")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatalf("panic %v: the partial answer looked whole", v)
		}
	}
	out := logs.String()
	if strings.Count(out, `"msg":"panic while serving a request"`) != 1 || !strings.Contains(out, `"panic":"late boom"`) ||
		strings.Count(out, `"status":200`) != 2 {
		t.Fatalf("logs:\n%s", out)
	}
}

// counterValue returns the value of the counter name with exactly labels
// in reg (0 if there is none).
func counterValue(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
