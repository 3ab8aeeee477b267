package bench

import (
	"slices"
	"time"
)

// liveCapyd is a capyd (and its PostgreSQL cluster, if any) left running
// by one backend run for the next: the empty database's, for the scaled
// run's paired rows.
type liveCapyd struct {
	d  *Capyd
	db *Postgres
	co Endpoint
}

func (l *liveCapyd) stop() {
	if l == nil {
		return
	}
	if l.d != nil {
		l.d.Stop()
	}
	l.db.Stop()
	l.d, l.db = nil, nil
}

// pairedRounds is how many turns each side of a paired row takes.
const pairedRounds = 6

// Paired is one endpoint loaded on two capyds in turns: Big (the filled
// database) and Empty, one round each per turn, the first of each turn
// alternating.
type Paired struct {
	Concurrency int
	Big, Empty  []LoadResult
}

// pairedLoad loads big and empty in turns, rounds times each, for at most
// per each.
func pairedLoad(big, empty Endpoint, conc, rounds int, per time.Duration) *Paired {
	p := &Paired{Concurrency: conc}
	load(big, conc, 200, time.Second) // warm-ups, not recorded
	load(empty, conc, 200, time.Second)
	for i := range rounds {
		if i%2 == 0 {
			p.Big = append(p.Big, load(big, conc, 1<<30, per))
			p.Empty = append(p.Empty, load(empty, conc, 1<<30, per))
		} else {
			p.Empty = append(p.Empty, load(empty, conc, 1<<30, per))
			p.Big = append(p.Big, load(big, conc, 1<<30, per))
		}
	}
	return p
}

// medians are the median throughput and the median p99 of rounds.
func medians(rounds []LoadResult) (rps float64, p99 time.Duration, ok int) {
	if len(rounds) == 0 {
		return 0, 0, 0
	}
	rs := make([]float64, len(rounds))
	ps := make([]time.Duration, len(rounds))
	for i, lr := range rounds {
		rs[i], ps[i], ok = lr.RPS(), lr.P99, ok+lr.OK
	}
	slices.Sort(rs)
	slices.Sort(ps)
	return rs[len(rs)/2], ps[len(ps)/2], ok
}

// within is the scale target on the paired rounds: the filled
// database's median throughput ≥ 80 % of the empty one's and its median
// p99 ≤ 120 %.
func (p *Paired) within() bool {
	br, bp, bok := medians(p.Big)
	er, ep, eok := medians(p.Empty)
	return bok > 0 && eok > 0 && br >= 0.8*er && float64(bp) <= 1.2*float64(ep)
}
