package scale

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/store"
)

// Mixed is one many-org co-decrypt load, run in process on the store.
type Mixed struct {
	Orgs, Clients int // orgs the requests spread over (uniformly), goroutines sending them
	OK, Failed    int
	Elapsed       time.Duration
	P50, P99      time.Duration
	WorstOrgP99   time.Duration // the highest p99 of one org (orgs with at least 10 answers)
	// Waits is what Options.Watch saw while the load ran (on PostgreSQL:
	// what the busy backends waited on), "" without a watcher.
	Waits string
}

// RPS is granted co-decrypts per second.
func (m Mixed) RPS() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.OK) / m.Elapsed.Seconds()
}

// MixedLoad sends requests co-decrypts (at most for dur) from clients
// goroutines, each to an org drawn uniformly from the first orgs orgs of
// res, as that org's owner. Group commit is per org (one group in flight
// per org), so many orgs should add throughput, not waits; run it with
// orgs = 1 for the one-org figure to compare.
func MixedLoad(ctx context.Context, st store.Store, res Result, orgs, clients, requests int, dur time.Duration, watch func(stop <-chan struct{}) string) (Mixed, error) {
	orgs = min(orgs, len(res.OrgIDs))
	if orgs < 1 || clients < 1 || requests < 1 {
		return Mixed{}, fmt.Errorf("scale: mixed load needs orgs, clients and requests")
	}
	type sample struct {
		org int
		d   time.Duration
	}
	var (
		mu      sync.Mutex
		samples = make([]sample, 0, requests)
		failed  int
		sent    = make(chan struct{}, requests)
		wg      sync.WaitGroup
	)
	for range requests {
		sent <- struct{}{}
	}
	close(sent)
	var waits string
	watched := make(chan struct{})
	stop := make(chan struct{})
	if watch != nil {
		go func() { waits = watch(stop); close(watched) }()
	} else {
		close(watched)
	}
	deadline := time.Now().Add(dur)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sent {
				if time.Now().After(deadline) || ctx.Err() != nil {
					return
				}
				k := rand.IntN(orgs)
				t0 := time.Now()
				_, err := st.CoDecrypt(ctx, res.Owners[k], res.OrgIDs[k], nil)
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					failed++
				} else {
					samples = append(samples, sample{k, d})
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	m := Mixed{Orgs: orgs, Clients: clients, OK: len(samples), Failed: failed, Elapsed: time.Since(start)}
	close(stop)
	<-watched
	m.Waits = waits
	if len(samples) == 0 {
		return m, fmt.Errorf("scale: mixed load: no co-decrypt granted (%d failed)", failed)
	}
	all := make([]time.Duration, len(samples))
	perOrg := map[int][]time.Duration{}
	for i, s := range samples {
		all[i] = s.d
		perOrg[s.org] = append(perOrg[s.org], s.d)
	}
	m.P50, m.P99 = quantiles(all)
	for _, ds := range perOrg {
		if len(ds) >= 10 {
			_, p99 := quantiles(ds)
			m.WorstOrgP99 = max(m.WorstOrgP99, p99)
		}
	}
	return m, nil
}

func quantiles(ds []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(ds)
	return ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
}
