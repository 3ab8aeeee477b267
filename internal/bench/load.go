package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // read-only look at the audit table

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/workspace"
)

// Endpoint is one request the load loop repeats.
type Endpoint struct {
	Name   string
	Method string
	URL    string
	Body   []byte
	Token  string
}

// endpoints builds the co-decrypt and head-blob requests of one member of
// one org from the CLI's own files (credentials and key.enc).
func endpoints(home, service string, r *Repo) (coDecrypt, head Endpoint, err error) {
	h := &workspace.Home{Dir: home}
	cred, ok, err := h.Credential(service)
	if err != nil || !ok {
		return coDecrypt, head, fmt.Errorf("no session for %s in %s: %v", service, home, err)
	}
	outer, err := h.Org(service, r.Org).ReadKeyEnc(cred.UserID)
	if err != nil {
		return coDecrypt, head, err
	}
	body, err := json.Marshal(api.CoDecryptRequest{Outer: outer})
	if err != nil {
		return coDecrypt, head, err
	}
	coDecrypt = Endpoint{Name: "co-decrypt", Method: http.MethodPost, URL: service + "/v1/orgs/" + r.Org + "/co-decrypt", Body: body, Token: cred.Token}
	head = Endpoint{Name: "head", Method: http.MethodGet,
		URL: service + "/v1/orgs/" + r.Org + "/projects/" + r.Prj + "/envs/" + r.EnvID + "/head", Token: cred.Token}
	return coDecrypt, head, nil
}

// LoadResult is one load run.
type LoadResult struct {
	Endpoint    string
	Concurrency int
	OK          int         // 2xx answers
	Status      map[int]int // every status seen
	Errors      int         // transport errors
	Elapsed     time.Duration
	P50, P99    time.Duration // of 2xx answers
	RespBytes   int64         // body size of one 2xx answer
	AuditRows   int64         // audit rows the run added to the org
}

// RPS is 2xx answers per second.
func (r LoadResult) RPS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// load sends ep from conc keep-alive clients until maxReq requests were
// issued or maxDur passed, whichever comes first.
func load(ep Endpoint, conc, maxReq int, maxDur time.Duration) LoadResult {
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, IdleConnTimeout: time.Minute, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var issued atomic.Int64
	deadline := time.Now().Add(maxDur)
	type acc struct {
		lat    []time.Duration
		status map[int]int
		errs   int
		size   int64
	}
	accs := make([]acc, conc)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func(a *acc) {
			defer wg.Done()
			a.status = map[int]int{}
			for issued.Add(1) <= int64(maxReq) && time.Now().Before(deadline) {
				var body io.Reader
				if ep.Body != nil {
					body = bytes.NewReader(ep.Body)
				}
				req, _ := http.NewRequestWithContext(context.Background(), ep.Method, ep.URL, body)
				req.Header.Set("Authorization", "Bearer "+ep.Token)
				req.Header.Set("Accept", "application/json")
				if ep.Body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					a.errs++
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				a.status[resp.StatusCode]++
				if resp.StatusCode/100 == 2 {
					a.lat = append(a.lat, d)
					a.size = n
				}
			}
		}(&accs[w])
	}
	wg.Wait()
	res := LoadResult{Endpoint: ep.Name, Concurrency: conc, Status: map[int]int{}, Elapsed: time.Since(start)}
	var lat []time.Duration
	for _, a := range accs {
		lat = append(lat, a.lat...)
		res.Errors += a.errs
		for s, n := range a.status {
			res.Status[s] += n
		}
		if a.size > 0 {
			res.RespBytes = a.size
		}
	}
	res.OK = len(lat)
	slices.Sort(lat)
	res.P50, res.P99 = percentileSorted(lat, 50), percentileSorted(lat, 99)
	return res
}

// auditCounter counts an org's audit rows straight from the database.
type auditCounter func(org string) (int64, error)

func sqliteAudit(dataDir string) auditCounter {
	return func(org string) (int64, error) {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "capyd.db")+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
		if err != nil {
			return 0, err
		}
		defer db.Close()
		var n int64
		err = db.QueryRow(`SELECT count(*) FROM audit_events WHERE org_id = ?`, org).Scan(&n)
		return n, err
	}
}

func postgresAudit(url string) auditCounter {
	return func(org string) (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return 0, err
		}
		defer c.Close(ctx)
		var n int64
		err = c.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE org_id = $1`, org).Scan(&n)
		return n, err
	}
}
