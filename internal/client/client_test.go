package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
)

// These tests pin the client's own logic (retry policy, problem decoding,
// path checks) against a stub; the client is tested against the real
// capyd in internal/server's end-to-end tests.

const (
	org = "org_abcdefghijklmnopqrstuvwxyz"
	prj = "prj_234567abcdefghijklmnopqrst"
	env = "env_zyxwvutsrqponmlkjihgfedcba"
)

func stub(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithRetry(3, time.Millisecond), WithToken("capys_x"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func problem(w http.ResponseWriter, slug string, status int, extra string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	w.Write([]byte(`{"type":"urn:capy:problem:` + slug + `","title":"t","status":` + strconv.Itoa(status) +
		`,"request_id":"req_x"` + extra + `}`))
}

func TestRetriesOnlySafeRequests(t *testing.T) {
	var gets, pushes atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer capys_x" {
			t.Errorf("no bearer token")
		}
		if r.Method == http.MethodGet {
			gets.Add(1)
		} else {
			pushes.Add(1)
		}
		problem(w, api.PUnavailable, 503, "")
	})
	_, err := c.Head(context.Background(), org, prj, env)
	if !Is(err, api.PUnavailable) || gets.Load() != 3 {
		t.Fatalf("GET: %v after %d tries, want 3 tries", err, gets.Load())
	}
	_, err = c.Push(context.Background(), org, prj, env, "capy-blob 1\n")
	if !Is(err, api.PUnavailable) || pushes.Load() != 1 {
		t.Fatalf("push: %v after %d tries, want exactly 1", err, pushes.Load())
	}
}

func TestProblemCarriesExtensions(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		problem(w, api.PVersionConflict, 409, `,"head":{"version":8,"id":"abc"}`)
	})
	_, err := c.Push(context.Background(), org, prj, env, "x")
	p := ProblemOf(err)
	if p == nil || p.Slug() != api.PVersionConflict || p.Status != 409 || p.Head == nil || p.Head.Version != 8 {
		t.Fatalf("problem %+v (%v)", p, err)
	}
}

func TestNonProblemError(t *testing.T) {
	c := stub(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusTeapot)
	})
	_, err := c.Me(context.Background())
	he, ok := err.(*HTTPError)
	if !ok || he.Status != http.StatusTeapot {
		t.Fatalf("err %T %v", err, err)
	}
}

func TestRefusesBadPathIDs(t *testing.T) {
	var calls atomic.Int32
	c := stub(t, func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for _, bad := range []string{"../../etc", "org_ABCDEFGHIJKLMNOPQRSTUVWXYZ", prj, "org_abcdefghijklmnopqrstuvwxyz/.."} {
		if _, err := c.Org(context.Background(), bad); err == nil {
			t.Errorf("Org(%q) sent", bad)
		}
	}
	if _, err := c.Head(context.Background(), org, env, prj); err == nil {
		t.Error("swapped ids accepted")
	}
	if calls.Load() != 0 {
		t.Fatalf("%d requests reached the server", calls.Load())
	}
}

func TestRefusesPlainHTTPElsewhere(t *testing.T) {
	if _, err := New("http://capy.example.com"); err == nil {
		t.Fatal("plain http to a remote host accepted")
	}
	if _, err := New("http://127.0.0.1:8787"); err != nil {
		t.Fatalf("loopback http refused: %v", err)
	}
}
