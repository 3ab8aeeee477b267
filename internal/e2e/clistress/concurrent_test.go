package clistress

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
)

// concurrentN is how many capy processes TestConcurrentSync starts at
// once (20 by default; more to probe the retry margin by hand).
var concurrentN = flag.Int("clistress.concurrent", 20, "concurrent syncs in TestConcurrentSync")

// maxMembers bounds the members TestConcurrentSync signs in: capyd allows
// 30 login starts an hour from one IP. With one member per checkout,
// capyd's access log (which names the user of every request) tells each
// process's push retries apart; beyond that, checkouts share members.
const maxMembers = 20

// Kinds of change a checkout makes to its own variable.
const (
	editPlain  = iota // a plaintext edit of VAR_i in .env
	editSet           // `capy set VAR_i` with the value on stdin
	editAdd           // a new plaintext line NEW_i
	editDelete        // VAR_i deleted from .env
	editKinds
)

type checkout struct {
	i      int
	dir    string
	u      *user
	kind   int
	name   string // the one variable this checkout changes
	value  string // its new value ("" for a delete)
	args   []string
	stdin  string
	res    result
	report syncReport
}

// TestConcurrentSync: 20 checkouts of one environment (20 members, one
// each; -clistress.concurrent changes the number) sync once, then each changes a different variable — a
// plaintext edit, `capy set`, an added line or a deleted line — and all 20
// capy processes are started at the same moment. Every process must
// succeed (the push loop retries on 409), and the service must end with
// exactly versions 1..21 in one chain, each adding exactly one checkout's
// change on top of its parent: nothing lost, nothing applied twice. The
// final head, a fresh `capy` + `capy export` and every checkout after one
// more sync all hold the expected 21 values.
func TestConcurrentSync(t *testing.T) {
	h := newHarness(t)
	var env strings.Builder
	env.WriteString("# clistress: concurrent sync\nSHARED=keep-me\n\n")
	want := map[string]string{"SHARED": "keep-me"}
	n := *concurrentN
	members := min(n, maxMembers)
	for i := range n {
		name := fmt.Sprintf("VAR_%02d", i)
		fmt.Fprintf(&env, "%s=init-%02d\n", name, i)
		want[name] = fmt.Sprintf("init-%02d", i)
	}
	initial := maps.Clone(want)
	plain := maps.Clone(want) // every value ever written in plaintext
	p := h.newProject(members, []byte(env.String()))

	// The checkouts, each synced once (four at a time).
	cos := make([]*checkout, n)
	for i := range cos {
		co := &checkout{i: i, dir: filepath.Join(h.root, fmt.Sprintf("checkout-%02d", i)), u: p.users[i%members], kind: i % editKinds}
		p.clone(co.dir)
		cos[i] = co
	}
	errs := parallel(4, cos, func(co *checkout) error {
		if r := h.capy(co.u, co.dir, "", nil, "sync"); r.code != 0 {
			return fmt.Errorf("%v", r)
		}
		return nil
	})
	for _, err := range errs {
		t.Fatalf("first sync: %v", err)
	}
	for _, co := range cos {
		vals, err := p.openDoc(readFile(t, filepath.Join(co.dir, ".env")))
		if err != nil || diffMaps(vals, initial) != "" {
			t.Fatalf("checkout %d after its first sync: %v %s", co.i, err, diffMaps(vals, initial))
		}
	}

	// Each checkout prepares its own change.
	for _, co := range cos {
		path := filepath.Join(co.dir, ".env")
		doc, err := envfile.Parse(readFile(t, path))
		if err != nil {
			t.Fatal(err)
		}
		co.name = fmt.Sprintf("VAR_%02d", co.i)
		co.value = fmt.Sprintf("changed-%02d-%08x", co.i, rand.Uint32())
		co.args = []string{"--json", "sync"}
		switch co.kind {
		case editPlain:
			err = doc.Set(co.name, co.value, false)
		case editSet:
			co.args, co.stdin = []string{"--json", "set", co.name}, co.value
		case editAdd:
			co.name = fmt.Sprintf("NEW_%02d", co.i)
			err = doc.Set(co.name, co.value, false)
		case editDelete:
			// A name removed by hand: a sync of a file changed outside
			// capy asks first (docs/cli.md §1.7); --yes answers.
			co.args = append(co.args, "--yes")
			co.value = ""
			if !doc.Delete(co.name) {
				t.Fatalf("no %s in checkout %d", co.name, co.i)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if co.kind == editDelete {
			delete(want, co.name)
		} else {
			want[co.name] = co.value
			plain["new "+co.name] = co.value
		}
		if co.kind != editSet {
			if err := os.WriteFile(path, doc.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}

	// All 20 start together: each goroutine prepares its process, waits
	// at the barrier, and starts it the moment the barrier opens.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ready, done sync.WaitGroup
	barrier := make(chan struct{})
	for _, co := range cos {
		h.pace.take(co.u.email)
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			cmd, stdout, stderr := h.command(ctx, co.u, co.dir, co.stdin, nil, co.args...)
			ready.Done()
			<-barrier
			start := time.Now()
			if err := cmd.Start(); err != nil {
				co.res = result{args: co.args, code: -3, stderr: err.Error()}
				return
			}
			co.res = finish(cmd, stdout, stderr, start, co.args)
		}()
	}
	ready.Wait()
	began := time.Now()
	close(barrier)
	done.Wait()
	wall := time.Since(began)

	var durs []time.Duration
	for _, co := range cos {
		if co.res.code != 0 {
			t.Errorf("checkout %d: %v", co.i, co.res)
			continue
		}
		rep, err := parseReport(co.res)
		if err != nil || !rep.Pushed {
			t.Errorf("checkout %d: report %+v (%v) does not say it pushed\n%v", co.i, rep, err, co.res)
		}
		co.report = rep
		durs = append(durs, co.res.dur)
	}
	stats := h.d.pushStats()
	sort.Slice(durs, func(i, j int) bool { return durs[i] < durs[j] })
	if len(durs) > 0 {
		t.Logf("%d concurrent syncs: wall %v, per process median %v, max %v; pushes accepted %d, refused with 409 (each one a retry) %d",
			n, wall.Round(time.Millisecond), durs[len(durs)/2].Round(time.Millisecond), durs[len(durs)-1].Round(time.Millisecond),
			stats[201], stats[409])
	}
	retries := h.d.pushRetries()
	var per []int
	sum := 0
	for _, u := range p.users {
		per = append(per, retries[u.id])
		sum += retries[u.id]
	}
	what := "process"
	if members < n {
		what = fmt.Sprintf("member (%d processes each)", n/members)
	}
	t.Logf("push retries (409 answers) per %s: %v; max %d (the sync loop allows %d per process)", what, per, slices.Max(per), 30)
	if sum != stats[409] {
		t.Errorf("409 answers: %d by member, %d in all", sum, stats[409])
	}
	if t.Failed() {
		t.FailNow()
	}
	// 1 version from init, one per checkout.
	if stats[201] != 1+n {
		t.Errorf("the service accepted %d pushes, want %d (init + one per checkout): %v", stats[201], 1+n, stats)
	}

	// The chain: versions 1..21, each the child of the one before, each
	// one checkout's change and nothing else, every checkout exactly once
	// — at the version its own report names.
	vs := p.versions()
	if len(vs) != 1+n {
		t.Fatalf("the service holds %d versions, want %d", len(vs), 1+n)
	}
	checkLinear(t, vs)
	if d := diffMaps(vs[0].values, initial); d != "" {
		t.Fatalf("version 1: %s", d)
	}
	byName := map[string]*checkout{}
	for _, co := range cos {
		byName[co.name] = co
	}
	seen := map[int]bool{}
	for k := 1; k < len(vs); k++ {
		changed := changedNames(vs[k-1].values, vs[k].values)
		if len(changed) != 1 {
			t.Fatalf("version %d changes %d names (%v), want exactly one", k+1, len(changed), changed)
		}
		co := byName[changed[0]]
		if co == nil {
			t.Fatalf("version %d changes %s, which no checkout touched", k+1, changed[0])
		}
		if seen[co.i] {
			t.Fatalf("version %d applies checkout %d's change again", k+1, co.i)
		}
		seen[co.i] = true
		got, present := vs[k].values[co.name]
		if co.kind == editDelete && present || co.kind != editDelete && got != co.value {
			t.Fatalf("version %d: %s=%q (present %v), checkout %d wanted %q", k+1, co.name, got, present, co.i, co.value)
		}
		if co.report.Version != uint64(k+1) {
			t.Errorf("checkout %d reported version %d, but its change is version %d", co.i, co.report.Version, k+1)
		}
	}
	if d := diffMaps(vs[len(vs)-1].values, want); d != "" {
		t.Fatalf("head: %s", d)
	}

	// What a person sees: a sync and an export in the first checkout, the
	// history through the CLI, and every checkout after one more sync.
	owner := p.users[0]
	h.must(owner, p.dir, "")
	if d := diffMaps(p.exportJSON(owner, p.dir), want); d != "" {
		t.Fatalf("capy export after the storm: %s", d)
	}
	p.checkHistoryJSON(owner, p.dir, vs)
	errs = parallel(4, cos, func(co *checkout) error {
		r := h.capy(co.u, co.dir, "", nil, "sync")
		if r.code != 0 {
			return fmt.Errorf("%v", r)
		}
		vals, err := p.openDoc(readFile(t, filepath.Join(co.dir, ".env")))
		if err != nil {
			return fmt.Errorf("checkout %d: %v", co.i, err)
		}
		if d := diffMaps(vals, want); d != "" {
			return fmt.Errorf("checkout %d after a final sync: %s", co.i, d)
		}
		return nil
	})
	for _, err := range errs {
		t.Error(err)
	}
	h.checkNoPlaintext(slices.Collect(maps.Values(plain)))
	if n := h.d.statusCount(429); n > 0 {
		t.Errorf("capyd rate-limited %d requests; the pacer should have kept under the limits", n)
	}
}

// changedNames lists the names whose presence or value differs.
func changedNames(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// parallel runs f on every item, n at a time, and returns the errors.
func parallel[T any](n int, items []T, f func(T) error) []error {
	var mu sync.Mutex
	var errs []error
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func readFile(t *testing.T, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err) // safe from any goroutine; the caller sees the missing data
	}
	return data
}
