package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/bench/scale"
)

// The -scale verdict compares the big database's 32-client co-decrypt with
// the empty database's of the same run: met within 20 %, missed beyond.
func TestScaleVerdict(t *testing.T) {
	co := func(ok int, p99 time.Duration) LoadResult {
		return LoadResult{Endpoint: "co-decrypt", Concurrency: 32, OK: ok, Elapsed: time.Second, P99: p99}
	}
	for _, c := range []struct {
		big  LoadResult
		want bool
	}{
		{co(900, 11*time.Millisecond), true},
		{co(700, 10*time.Millisecond), false},  // throughput 30 % lower
		{co(1000, 13*time.Millisecond), false}, // p99 30 % higher
	} {
		r := &Results{Cfg: Config{Backends: []string{"sqlite"}, Scale: 1},
			Load:  map[string][]LoadResult{"sqlite": {co(1000, 10*time.Millisecond)}, "sqlite@scale": {c.big}},
			Scale: map[string]*ScaleFill{"sqlite@scale": {Shape: scale.At(1)}}}
		var found bool
		for _, v := range r.Verdicts() {
			if strings.Contains(v.Target, "on the scaled database") {
				found = true
				if v.Met == nil || *v.Met != c.want {
					t.Errorf("%+v: verdict %v, want %v (%s)", c.big, v.Met, c.want, v.Measured)
				}
			}
		}
		if !found {
			t.Fatal("no scale verdict")
		}
		var sb strings.Builder
		r.Report(&sb)
		if !strings.Contains(sb.String(), "sqlite@scale") {
			t.Fatal("the report has no sqlite@scale rows")
		}
	}
}

// When both capyds were loaded in turns, the paired rounds decide the
// verdict (decision 91), whatever the sequential rows say.
func TestScaleVerdictPaired(t *testing.T) {
	co := func(ok int, p99 time.Duration) LoadResult {
		return LoadResult{Endpoint: "co-decrypt", Concurrency: 32, OK: ok, Elapsed: time.Second, P99: p99}
	}
	rounds := func(ok int, p99 time.Duration) []LoadResult {
		// One wild round each side: the medians ignore it.
		return []LoadResult{co(ok, p99), co(ok/10, 10*p99), co(ok, p99)}
	}
	for _, c := range []struct {
		big  []LoadResult
		want bool
	}{
		{rounds(850, 11*time.Millisecond), true},
		{rounds(700, 10*time.Millisecond), false},
		{rounds(1000, 13*time.Millisecond), false},
	} {
		r := &Results{Cfg: Config{Backends: []string{"postgres"}, Scale: 0.1},
			// The sequential rows alone would say the opposite of the pairs.
			Load:   map[string][]LoadResult{"postgres": {co(5000, time.Millisecond)}, "postgres@scale": {co(100, time.Second)}},
			Scale:  map[string]*ScaleFill{"postgres@scale": {Shape: scale.At(0.1)}},
			Paired: map[string]*Paired{"postgres@scale": {Concurrency: 32, Big: c.big, Empty: rounds(1000, 10*time.Millisecond)}}}
		for _, v := range r.Verdicts() {
			if strings.Contains(v.Target, "on the scaled database") {
				if v.Met == nil || *v.Met != c.want {
					t.Errorf("verdict %v, want %v (%s)", v.Met, c.want, v.Measured)
				}
			}
		}
		var sb strings.Builder
		r.Report(&sb)
		if !strings.Contains(sb.String(), "in turns (both capyds running)") {
			t.Fatal("the report has no paired row")
		}
	}
}
