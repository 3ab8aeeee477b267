package member

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/client"
)

const (
	org = "org_abcdefghijklmnopqrstuvwxyz"
	prj = "prj_234567abcdefghijklmnopqrst"
	env = "env_zyxwvutsrqponmlkjihgfedcba"
)

// Prefetch sends the head request at once; the next Head returns that
// answer without asking again, and later calls ask the service anew (a
// sync that starts over after a push conflict needs the new head).
func TestRemotePrefetch(t *testing.T) {
	var gets atomic.Int32
	answered := make(chan struct{}, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/v1/orgs/"+org+"/projects/"+prj+"/envs/"+env+"/head" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		n := gets.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"head":{"version":%d,"text":"blob %d"}}`, n, n)
		answered <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL, client.WithToken("capys_x"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := &Remote{Client: cl, Org: org, Project: prj, EnvID: env}
	r.Prefetch(ctx)
	r.Prefetch(ctx) // a second call while one is pending changes nothing
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("Prefetch sent no request")
	}
	b, err := r.Head(ctx)
	if err != nil || b.Version != 1 || b.Text != "blob 1" {
		t.Fatalf("Head after Prefetch = %+v, %v; want the prefetched version 1", b, err)
	}
	if n := gets.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	if b, err = r.Head(ctx); err != nil || b.Version != 2 {
		t.Fatalf("second Head = %+v, %v; want a new request (version 2)", b, err)
	}
}
