package replicas

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store/pgtest"
)

// outageBound is the longest any answer may take while the database is
// down: capyd must fail fast, not hang.
const outageBound = 5 * time.Second

// answer is one raw HTTP exchange.
type answer struct {
	op     string
	status int
	ctype  string
	retry  string // Retry-After
	body   []byte
	took   time.Duration
	err    error // transport error: capyd did not answer
}

// raw sends one request to base+path with the session token and a JSON
// body (if in is not nil), and reads the whole answer.
func (s *service) raw(op, method, base, path, token string, in any) answer {
	a := answer{op: op}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(s.ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		a.err = err
		return a
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := s.hc.Do(req)
	if err == nil {
		a.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		a.status, a.ctype, a.retry = resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After")
	}
	a.took, a.err = time.Since(start), err
	return a
}

// internals are fragments no answer may show: driver, database or
// network details.
var internals = []string{"postgres", "pgx", "pgconn", "sqlstate", "dial", "socket", "/tmp", "connect", "capy-pgc", "shutting down", "eof", "broken pipe", "reset by peer"}

// checkUnavailable returns what is wrong with a, which should be a 503
// unavailable problem, answered within outageBound, showing no internals.
func checkUnavailable(a answer) string {
	if a.err != nil {
		return fmt.Sprintf("%s: no answer after %v: %v", a.op, a.took, a.err)
	}
	if a.took > outageBound {
		return fmt.Sprintf("%s: answered after %v (bound %v)", a.op, a.took, outageBound)
	}
	var p api.Problem
	if a.status != http.StatusServiceUnavailable || a.ctype != "application/problem+json" || json.Unmarshal(a.body, &p) != nil ||
		p.Type != api.ProblemPrefix+string(api.PUnavailable) || p.Status != 503 || p.Title != api.Problems()[api.PUnavailable].Title ||
		!strings.HasPrefix(p.RequestID, "req_") || a.retry == "" {
		return fmt.Sprintf("%s: %d %s Retry-After=%q %s; want a 503 unavailable problem", a.op, a.status, a.ctype, a.retry, a.body)
	}
	// Everything but the (random) request id must be free of internals.
	var doc map[string]any
	_ = json.Unmarshal(a.body, &doc)
	delete(doc, "request_id")
	rest, _ := json.Marshal(doc)
	low := strings.ToLower(string(rest))
	for _, bad := range internals {
		if strings.Contains(low, bad) {
			return fmt.Sprintf("%s: the problem shows internals (%q): %s", a.op, bad, a.body)
		}
	}
	return ""
}

// pushAttempt is one push of the outage test and its answer.
type pushAttempt struct {
	version uint64
	id      string
	status  int
}

// One replica serves a member who co-decrypts, reads and pushes in a loop.
// In the middle of the run PostgreSQL is stopped (pg_ctl stop -m fast),
// later started again; then the same with a crash (-m immediate). While it
// is down every answer is a 503 `unavailable` problem (application/
// problem+json, Retry-After, no internals), within 5 s, and /readyz is
// 503; when it is back, capyd serves again within 15 s without being
// restarted and /readyz is 200. No answer of the whole run is anything but
// a success or a 503 (a push may also meet a version conflict only if a
// push answered 503 had in fact landed). Afterwards the history is whole,
// versions and push audit rows are one to one, every push answered 201 is
// in it, every push answered 503 is either wholly there (version and audit
// row) or wholly absent, and the chain verifies.
//
// What would fail: a connection error mapped to 500 internal (or its
// text leaking into the detail); a pool that waits for the database
// without a deadline (the 5 s bound); a pool that never drops its dead
// connections (no recovery); a push whose blob and audit row are written
// in separate transactions.
func TestDatabaseOutage(t *testing.T) {
	began := time.Now()
	pg := pgtest.StartCluster(t)
	reps := startReplicas(t, newSecrets(pg.URL()), 1)
	s := newService(t, reps)
	w := s.newWorld(1)
	u := w.members[0]
	base := reps[0].URL
	envPath := "/v1/orgs/" + w.org + "/projects/" + w.project + "/envs/" + w.env
	t.Logf("cluster, replica and org ready in %v", time.Since(began).Round(time.Millisecond))

	var (
		mu     sync.Mutex
		pushes []pushAttempt
		coOK   []api.AuditHead
		bad    []string
	)
	complain := func(msg string) {
		mu.Lock()
		bad = append(bad, msg)
		mu.Unlock()
	}
	// judge accepts a success or a 503 unavailable problem.
	judge := func(a answer, okStatus int) bool {
		if a.err == nil && a.status == okStatus && a.took <= outageBound {
			return true
		}
		if msg := checkUnavailable(a); msg != "" {
			complain(msg)
		}
		return false
	}
	var head api.HeadRef // the last head this client knows
	lastCo := time.Time{}
	// round runs one round of requests; it reports whether all succeeded.
	round := func() bool {
		all := true
		// Co-decrypt at most every 300 ms: the per-user bucket holds 60 a
		// minute, and refusals while the database is down take no token.
		if time.Since(lastCo) > 300*time.Millisecond {
			lastCo = time.Now()
			a := s.raw("co-decrypt", "POST", base, "/v1/orgs/"+w.org+"/co-decrypt", u.token, api.CoDecryptRequest{Outer: u.outer})
			if judge(a, 200) {
				var res api.CoDecryptResponse
				if err := json.Unmarshal(a.body, &res); err != nil || !bytes.Equal(res.Inner, u.inner) {
					complain(fmt.Sprintf("co-decrypt answer %s", a.body))
				}
				mu.Lock()
				coOK = append(coOK, res.AuditHead)
				mu.Unlock()
			} else {
				all = false
			}
		}
		a := s.raw("head", "GET", base, envPath+"/head", u.token, nil)
		if judge(a, 200) {
			var res api.HeadResponse
			if err := json.Unmarshal(a.body, &res); err != nil {
				complain(fmt.Sprintf("head answer %s", a.body))
			} else if res.Head != nil {
				head = api.HeadRef{Version: res.Head.Version, ID: res.Head.ID}
			}
		} else {
			all = false
		}
		parent := head.ID
		if head.Version == 0 {
			parent = "-"
		}
		b, err := w.blob(head.Version+1, parent)
		if err != nil {
			complain(err.Error())
			return false
		}
		a = s.raw("push", "POST", base, envPath+"/versions", u.token, api.PushRequest{Text: string(b.Raw())})
		mu.Lock()
		pushes = append(pushes, pushAttempt{version: head.Version + 1, id: b.ID(), status: a.status})
		mu.Unlock()
		switch {
		case a.err == nil && a.status == 409 && strings.Contains(string(a.body), string(api.PVersionConflict)):
			// Only after a 503 push that landed; checked at the end.
			all = false
		case judge(a, 201):
			head = api.HeadRef{Version: head.Version + 1, ID: b.ID()}
		default:
			all = false
		}
		if !judge(s.raw("org", "GET", base, "/v1/orgs/"+w.org, u.token, nil), 200) {
			all = false
		}
		return all
	}
	readyz := func() answer { return s.raw("readyz", "GET", base, "/readyz", "", nil) }

	for n := range 3 {
		if !round() {
			t.Fatalf("round %d before any outage failed: %v", n, bad)
		}
	}
	for _, outage := range []struct {
		name string
		stop func()
	}{{"stop -m fast", pg.Stop}, {"stop -m immediate (crash)", pg.Kill}} {
		// Requests keep coming while the database goes away.
		stopLoad := make(chan struct{})
		loadDone := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-stopLoad:
					loadDone <- n
					return
				default:
				}
				round()
				n++
			}
		}()
		time.Sleep(300 * time.Millisecond)
		stopped := time.Now()
		outage.stop()
		t.Logf("%s: PostgreSQL down after %v", outage.name, time.Since(stopped).Round(time.Millisecond))
		time.Sleep(200 * time.Millisecond) // in-flight requests finish
		// While it is down: every route answers 503, and so does /readyz.
		for range 3 {
			if msg := checkUnavailable(readyz()); msg != "" {
				t.Errorf("%s: %s", outage.name, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(700 * time.Millisecond)
		close(stopLoad)
		rounds := <-loadDone
		// A round run entirely in the outage must not succeed at all.
		if round() {
			t.Errorf("%s: a round succeeded with PostgreSQL down", outage.name)
		}

		pg.Start()
		restarted := time.Now()
		var recovered time.Duration
		for time.Since(restarted) < 15*time.Second {
			a := s.raw("org", "GET", base, "/v1/orgs/"+w.org, u.token, nil)
			if a.err == nil && a.status == 200 {
				recovered = time.Since(restarted)
				break
			}
			if msg := checkUnavailable(a); msg != "" {
				t.Errorf("%s, recovering: %s", outage.name, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if recovered == 0 {
			t.Fatalf("%s: capyd did not serve again within 15 s of PostgreSQL's return", outage.name)
		}
		if a := readyz(); a.err != nil || a.status != 200 {
			t.Errorf("%s: /readyz after recovery: %d %s %v", outage.name, a.status, a.body, a.err)
		}
		lastCo = time.Time{}
		if !round() {
			// The first round may still meet one dead pooled connection
			// per pool slot; the second must not.
			if !round() {
				mu.Lock()
				t.Fatalf("%s: two rounds after recovery failed: %v", outage.name, bad)
				mu.Unlock()
			}
		}
		t.Logf("%s: %d load rounds across it; served again %v after PostgreSQL's start", outage.name, rounds, recovered.Round(time.Millisecond))
	}
	mu.Lock()
	for _, msg := range bad {
		t.Error(msg)
	}
	mu.Unlock()

	// Nothing half-written.
	ids := s.history(w, 0)
	rows := s.auditChain(w, 0)
	checkPushesAudited(t, w, rows, ids)
	at := map[string]uint64{}
	for k, id := range ids {
		at[id] = uint64(k + 1)
	}
	var n201, n503, landed503 int
	for _, p := range pushes {
		switch p.status {
		case 201:
			n201++
			if at[p.id] != p.version {
				t.Errorf("push answered 201 (version %d %s) is not in the history", p.version, p.id)
			}
		case 503:
			n503++
			if v, ok := at[p.id]; ok {
				landed503++
				if v != p.version {
					t.Errorf("push answered 503 landed as version %d, made for %d", v, p.version)
				}
			}
		default:
			if _, ok := at[p.id]; ok {
				t.Errorf("push answered %d is in the history as version %d", p.status, at[p.id])
			}
		}
	}
	for _, id := range ids {
		found := false
		for _, p := range pushes {
			found = found || p.id == id
		}
		if !found {
			t.Errorf("version %d (%s) is no blob the client sent", at[id], id)
		}
	}
	seen := map[uint64]bool{}
	for _, h := range coOK {
		if seen[h.Seq] {
			t.Errorf("two co-decrypt answers with audit_head %d", h.Seq)
		}
		seen[h.Seq] = true
		if h.Seq == 0 || h.Seq > uint64(len(rows)) || rows[h.Seq-1].Action != "co-decrypt" || rows[h.Seq-1].Actor != u.id ||
			rows[h.Seq-1].Result != "ok" || rows[h.Seq-1].Hash != h.Hash {
			t.Errorf("co-decrypt answer's audit_head %+v is not its ok row", h)
		}
	}
	if n503 == 0 {
		t.Errorf("no push met the outage")
	}
	t.Logf("%d pushes: %d answered 201, %d answered 503 (%d of which had landed whole); %d versions, %d audit rows; total %v",
		len(pushes), n201, n503, landed503, len(ids), len(rows), time.Since(began).Round(time.Millisecond))
}
