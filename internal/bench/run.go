package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/bench/scale"
)

// Config says what to run.
type Config struct {
	Root          string // module root
	Work          string // scratch directory (removed by the caller)
	Runs, Warmup  int
	Sizes         []int
	Backends      []string // "sqlite", "postgres"
	Concurrency   []int
	LoadRequests  int           // per load run
	LoadDuration  time.Duration // per load run
	SoakTotal     int           // capyd requests before the "after" memory reading
	SoakMax       time.Duration // bound on the soak
	Micro         bool
	Benchtime     string
	Commands      bool
	Service       bool
	Peers         bool
	PGURL         string // external PostgreSQL (admin URL), else a throwaway cluster
	PGFsync       bool
	CapydLogLevel string
	BuildTags     string  // go build -tags, as `make build` uses
	QuietLoad     float64 // before each part, wait for the 1-minute load average to fall below this (0: don't)
	QuietWait     time.Duration
	KeepKeys      bool   // write each CI key next to its checkout (for profiling with -keep)
	ProfileDir    string // if set: CPU profiles of capyd under 32-client load, in extra runs (not in the table)
	// Scale > 0: after each backend's run on an empty database, run its
	// service rows again on a database filled by package scale with the
	// issue's shape times Scale (1: 10,000 orgs, 100,000 users, …), under
	// the backend label "<backend>@scale".
	Scale        float64
	ScaleWorkers int       // goroutines filling the database (default 4)
	Log          io.Writer // progress
}

// Results is everything one run measured.
type Results struct {
	Cfg       Config
	Machine   Machine
	Started   time.Time
	Finished  time.Time
	LoadEnd   string
	Bins      *Binaries
	Micro     []Micro
	MicroErr  string
	Cmd       map[string]Series // "backend/case/n"; backend "-" for no capyd (CAPY_KEY, baseline, dotenvx)
	CmdErr    map[string]string
	Peers     []*Peer
	Load      map[string][]LoadResult // backend → runs
	Throttled map[string]LoadResult   // backend → the real capyd under load
	Mem       map[string]*CapydMem
	Scale     map[string]*ScaleFill // "<backend>@scale" → what was generated
	Paired    map[string]*Paired    // "<backend>@scale" → co-decrypt on it and on the empty database, in turns
	PGDesc    string
	Skipped   []string
	Notes     []string
}

// CapydMem is capyd's memory over a backend's run (KiB).
type CapydMem struct {
	IdleRSS, IdleHWM   int64 // the shipped capyd, just started
	LoadIdleRSS        int64 // the shipped capyd with rate limits off, just restarted on the same data
	AfterRSS, AfterHWM int64 // the same process after Requests requests
	Requests           int
}

// waitQuiet waits (bounded by QuietWait) for the machine's 1-minute load
// average to fall below QuietLoad: the machine may be shared.
func (c Config) waitQuiet(what string) {
	if c.QuietLoad <= 0 {
		return
	}
	deadline := time.Now().Add(c.QuietWait)
	for {
		var l float64
		fmt.Sscanf(loadAvg(), "%g", &l)
		if l < c.QuietLoad {
			return
		}
		if time.Now().After(deadline) {
			c.logf("load average %.2f still ≥ %.2f; running %s anyway", l, c.QuietLoad, what)
			return
		}
		c.logf("load average %.2f ≥ %.2f; waiting before %s…", l, c.QuietLoad, what)
		time.Sleep(15 * time.Second)
	}
}

func key(backend, name string, n int) string { return fmt.Sprintf("%s/%s/%d", backend, name, n) }

func (c Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "capybench: "+format+"\n", args...)
	}
}

// Run runs the benchmark.
func Run(cfg Config) (*Results, error) {
	r := &Results{Cfg: cfg, Machine: ReadMachine(), Started: time.Now(), Cmd: map[string]Series{}, CmdErr: map[string]string{},
		Load: map[string][]LoadResult{}, Throttled: map[string]LoadResult{}, Mem: map[string]*CapydMem{}, Scale: map[string]*ScaleFill{}, Paired: map[string]*Paired{}}
	defer func() { r.Finished = time.Now(); r.LoadEnd = loadAvg() }()
	if cfg.Micro {
		cfg.waitQuiet("the micro-benchmarks")
		cfg.logf("micro-benchmarks (go test -bench, benchtime %s)…", cfg.Benchtime)
		raw, _ := os.Create(filepath.Join(cfg.Work, "micro.txt"))
		m, err := RunMicro(cfg.Root, cfg.Benchtime, raw)
		if raw != nil {
			raw.Close()
		}
		r.Micro = m
		if err != nil {
			r.MicroErr = err.Error()
			cfg.logf("micro-benchmarks failed: %v", err)
		}
	}
	if !cfg.Commands && !cfg.Service {
		return r, nil
	}
	profile := cfg.Service && cfg.ProfileDir != ""
	if profile {
		cfg.logf("building capy, capyd, capyd-pprof…")
	} else {
		cfg.logf("building capy, capyd…")
	}
	bins, err := Build(cfg.Root, filepath.Join(cfg.Work, "bin"), cfg.BuildTags, profile)
	if err != nil {
		return r, err
	}
	r.Bins = bins
	Runner = bins.RunRSS
	if profile && bins.CapydPprof == "" {
		r.Skipped = append(r.Skipped, "capyd CPU profiles: capyd-pprof did not build: "+firstLine([]byte(bins.PprofError)))
	}
	if cfg.Commands && cfg.Peers {
		cfg.waitQuiet("the peers")
		peerSizes := slices.DeleteFunc(slices.Clone(cfg.Sizes), func(n int) bool { return n > 1000 })
		r.Peers = []*Peer{setupDotenvx(filepath.Join(cfg.Work, "peers"), peerSizes), setupSops(filepath.Join(cfg.Work, "peers"), peerSizes)}
		for _, p := range r.Peers {
			if p.Missing != "" {
				cfg.logf("peer %s: MISSING: %s", p.Name, p.Missing)
			}
		}
		// dotenvx takes seconds per run: timed here, with a time budget.
		// sops is timed interleaved with capy (see runBackend).
		if p := r.Peers[0]; p.Missing == "" {
			for _, n := range peerSizes {
				cfg.logf("peer dotenvx, %d vars…", n)
				s, err := measureBudget(p.Cmds[n], cfg.Warmup, cfg.Runs, time.Minute)
				if err != nil {
					p.Missing = "failed: " + err.Error()
					break
				}
				r.Cmd[key("-", "peer-dotenvx", n)] = s
			}
		}
	}
	for i, b := range cfg.Backends {
		var empty *liveCapyd // with -scale: the empty database's capyd, kept for the paired rows
		if cfg.Scale > 0 && cfg.Service {
			empty = &liveCapyd{}
		}
		if err := runBackend(cfg, r, b, i == 0, false, empty); err != nil {
			r.Skipped = append(r.Skipped, fmt.Sprintf("%s: %v", b, err))
			cfg.logf("%s: %v", b, err)
		}
		if cfg.Scale > 0 && cfg.Service {
			// The service rows only (no whole commands, no profiles), on a
			// big database, right after the same rows on an empty one.
			sc := cfg
			sc.Commands, sc.ProfileDir = false, ""
			if err := runBackend(sc, r, b, false, true, empty); err != nil {
				r.Skipped = append(r.Skipped, fmt.Sprintf("%s: %v", scaleLabel(b), err))
				cfg.logf("%s: %v", scaleLabel(b), err)
			}
			empty.stop()
		}
	}
	return r, nil
}

// runBackend measures one backend; scaled, on a database filled by
// package scale first, its rows under scaleLabel(backend). pair, when not
// nil: on the empty database, runBackend leaves its capyd (and database)
// running in it instead of stopping them; on the scaled one, it times
// co-decrypt on both in turns (the paired rows).
func runBackend(cfg Config, r *Results, backend string, first, scaled bool, pair *liveCapyd) error {
	label := backend
	if scaled {
		label = scaleLabel(backend)
	}
	dir := filepath.Join(cfg.Work, label)
	dataDir := filepath.Join(dir, "capyd-data")
	database := ""
	handedOver := false // the capyd and database now belong to pair
	var cluster *Postgres
	var audit auditCounter
	switch backend {
	case "sqlite":
		audit = sqliteAudit(dataDir)
	case "postgres":
		cfg.logf("postgres: starting a throwaway cluster (fsync=%v)…", cfg.PGFsync)
		pg, err := StartPostgres(cfg.PGURL, cfg.PGFsync)
		if err != nil {
			return fmt.Errorf("PostgreSQL not available: %v", err)
		}
		cluster = pg
		defer func() {
			if !handedOver {
				pg.Stop()
			}
		}()
		database, r.PGDesc, audit = pg.URL, pg.Desc, postgresAudit(pg.URL)
	default:
		return fmt.Errorf("unknown backend %q", backend)
	}
	if scaled {
		if err := fillScale(cfg, r, label, dataDir, database); err != nil {
			return err
		}
	}
	backend = label // rows, logs and scratch paths from here on
	mem := &CapydMem{}
	r.Mem[backend] = mem
	cfg.logf("%s: starting capyd…", backend)
	d, err := StartCapyd(r.Bins.Capyd, dataDir, database, cfg.CapydLogLevel, nil)
	if err != nil {
		return err
	}
	defer func() {
		if !handedOver {
			d.Stop()
		}
	}()
	time.Sleep(time.Second)
	mem.IdleRSS, mem.IdleHWM, _ = d.Mem()

	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return err
	}
	c := cli{bin: r.Bins.Capy, home: home, service: d.URL}
	pace := newPacer()
	cfg.logf("%s: login and org setup…", backend)
	pace.take(1)
	if err := c.login("bench@example.com", filepath.Join(dataDir, "mail.log")); err != nil {
		return err
	}
	repos := map[int]*Repo{}
	sealedCI := "" // a CI checkout of repos[sealedVars] whose .env holds sealed values
	for _, n := range cfg.Sizes {
		rp, err := setupRepo(c, pace, dir, n)
		if err != nil {
			return fmt.Errorf("set up %d vars: %w", n, err)
		}
		repos[n] = rp
		if first && n == sealedVars && cfg.Commands {
			if sealedCI, err = setupSealedCI(dir, rp, n); err != nil {
				return fmt.Errorf("set up %d sealed values: %w", n, err)
			}
		}
		if cfg.KeepKeys {
			if err := os.WriteFile(rp.CIDir+".capy-key", []byte(rp.CapyKey+"\n"), 0o600); err != nil {
				return err
			}
		}
	}

	if cfg.Commands {
		cfg.waitQuiet(backend + " whole commands")
		// be is "-" for commands that do not talk to capyd.
		series := func(be, name string, n int, cmd Cmd, before func(int) error) {
			cfg.logf("%s: %s, %d vars…", backend, name, n)
			s, err := measure(cmd, cfg.Warmup, cfg.Runs, before)
			k := key(be, name, n)
			if err != nil {
				r.CmdErr[k] = err.Error()
				cfg.logf("%s: %s: %v", backend, name, err)
				return
			}
			r.Cmd[k] = s
		}
		paced := func(int) error { pace.take(1); return nil }
		var sops *Peer
		if p := r.peer("sops"); p != nil {
			sops = p
		}
		env := findTool("env")
		for _, n := range cfg.Sizes {
			rp := repos[n]
			// capy, sops and the baseline take turns, so that they share
			// whatever else the machine is doing.
			g := []groupItem{{key(backend, "run-member", n), c.cmd(rp.Dir, []string{"run", "--", "true"}), paced}}
			if sops != nil && sops.Cmds[n].Path != "" {
				g = append(g, groupItem{key(backend, "peer-sops", n), sops.Cmds[n], nil})
			}
			if first {
				g = append(g, groupItem{key("-", "run-ci", n), Cmd{Path: c.bin, Args: []string{"run", "--", "true"}, Dir: rp.CIDir,
					Env: toolEnv(rp.CIHome, "CAPY_HOME="+rp.CIHome, "CAPY_KEY="+rp.CapyKey)}, nil})
				if sealedCI != "" && n == sealedVars {
					g = append(g, groupItem{key("-", "run-ci-sealed", n), Cmd{Path: c.bin, Args: []string{"run", "--", "true"}, Dir: sealedCI,
						Env: toolEnv(rp.CIHome, "CAPY_HOME="+rp.CIHome, "CAPY_KEY="+rp.CapyKey)}, nil})
				}
				if env != "" {
					g = append(g, groupItem{key("-", "baseline", n), Cmd{Path: env, Args: []string{"A=1", "true"}, Dir: cfg.Work, Env: toolEnv(cfg.Work)}, nil})
				}
			}
			cfg.logf("%s: capy run (member%s), sops, %d vars, interleaved…", backend, map[bool]string{true: ", CAPY_KEY", false: ""}[first], n)
			r.recordGroup(cfg, g)
			series(backend, "sync-nochange", n, c.cmd(rp.Dir, nil), paced)
		}
		if rp := repos[1000]; rp != nil {
			file := filepath.Join(rp.Dir, ".env")
			// A file of plaintext values in place of capy's is what a sync
			// asks about before pushing (docs/cli.md §1.7): --yes answers.
			series(backend, "sync-allchanged", 1000, c.cmd(rp.Dir, []string{"sync", "--yes"}), func(i int) error {
				pace.take(1)
				return os.WriteFile(file, GenEnv(1000, fmt.Sprintf("w%d", i)), 0o600)
			})
		}
		if rp := repos[sealedVars]; rp != nil {
			if first {
				measureContributor(cfg, r, c, rp)
			}
			measureAdopt(cfg, r, c, pace, backend, rp)
		}
	}
	if !cfg.Service {
		return nil
	}
	target := repos[100]
	if target == nil {
		target = repos[cfg.Sizes[0]]
	}
	co, head, err := endpoints(home, d.URL, target)
	if err != nil {
		return err
	}
	// The shipped capyd under load: its per-user limit answers most
	// requests with 429.
	cfg.logf("%s: co-decrypt against the shipped capyd (rate limits on), 32 clients, 3 s…", backend)
	r.Throttled[backend] = load(co, 32, 20000, 3*time.Second)
	d.Stop()
	d = nil

	// The same binary on the same data with its rate limits off: one
	// member's co-decrypts would otherwise measure the per-user limit.
	cfg.waitQuiet(backend + " service load")
	cfg.logf("%s: restarting the shipped capyd with %s on the same data…", backend, noLimitsFlag)
	if d, err = startNoLimits(cfg, r.Bins.Capyd, dataDir, database); err != nil {
		return err
	}
	retarget := func(from, to string) {
		co.URL = strings.Replace(co.URL, from, to, 1)
		head.URL = strings.Replace(head.URL, from, to, 1)
	}
	retarget(c.service, d.URL)
	time.Sleep(time.Second)
	mem.LoadIdleRSS, _, _ = d.Mem()
	total := 0
	count := func(lr LoadResult) {
		total += lr.Errors
		for _, n := range lr.Status {
			total += n
		}
	}
	for _, ep := range []Endpoint{co, head} {
		for _, conc := range cfg.Concurrency {
			count(load(ep, conc, min(200, cfg.LoadRequests), 2*time.Second)) // warm-up, not recorded
			before, aerr := audit(target.Org)
			cfg.logf("%s: %s, %d clients…", backend, ep.Name, conc)
			lr := load(ep, conc, cfg.LoadRequests, cfg.LoadDuration)
			after, berr := audit(target.Org)
			if aerr == nil && berr == nil {
				lr.AuditRows = after - before
			} else {
				lr.AuditRows = -1
			}
			count(lr)
			r.Load[backend] = append(r.Load[backend], lr)
		}
	}
	if f := r.Scale[backend]; f != nil {
		// The long lists of the filled database through HTTP: first and
		// last page, one client (latency, not throughput).
		eps, err := scaleListEndpoints(d.URL, f)
		if err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s list pages: %v", backend, err))
		}
		for _, ep := range eps {
			count(load(ep, 1, 20, time.Second)) // warm-up, not recorded
			cfg.logf("%s: %s…", backend, ep.Name)
			lr := load(ep, 1, min(200, cfg.LoadRequests), cfg.LoadDuration)
			count(lr)
			r.Load[backend] = append(r.Load[backend], lr)
		}
	}
	if scaled && pair != nil && pair.d != nil {
		// The within-20 % target compares two databases; measured minutes
		// apart on a shared machine, the comparison would measure the
		// machine. Here both capyds run and take turns.
		cfg.logf("%s: co-decrypt on the filled and on the empty database in turns, 32 clients…", backend)
		empty := pair.co
		r.Paired[backend] = pairedLoad(co, empty, 32, pairedRounds, 2*time.Second)
		for _, lr := range r.Paired[backend].Big {
			count(lr)
		}
	}
	soakEnd := time.Now().Add(cfg.SoakMax)
	for total < cfg.SoakTotal && time.Now().Before(soakEnd) {
		cfg.logf("%s: soak, %d requests so far…", backend, total)
		count(load(co, 32, (cfg.SoakTotal-total+1)/2, time.Until(soakEnd)/2+time.Second))
		count(load(head, 32, max(cfg.SoakTotal-total, 1), time.Until(soakEnd)+time.Second))
	}
	mem.Requests = total
	mem.AfterRSS, mem.AfterHWM, _ = d.Mem()
	if !scaled && pair != nil && cfg.ProfileDir == "" {
		// Kept running for the scaled run's paired rows; Run stops it.
		pair.d, pair.co, pair.db, handedOver = d, co, cluster, true
		return nil
	}
	if cfg.ProfileDir == "" || r.Bins.CapydPprof == "" {
		return nil
	}

	// Profiles need net/http/pprof, which the shipped binary does not
	// serve: restart once more as capyd-pprof (the same cmd/capyd plus
	// pprof on loopback), with the same flag, on the same data.
	// A profile that cannot be taken is a note, not a failed benchmark.
	port, err := freePort()
	if err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%s profiles: %v", backend, err))
		return nil
	}
	pprofAddr := fmt.Sprintf("127.0.0.1:%d", port)
	prev := d.URL
	d.Stop()
	cfg.logf("%s: restarting as capyd-pprof with %s for the profiles…", backend, noLimitsFlag)
	if d, err = startNoLimits(cfg, r.Bins.CapydPprof, dataDir, database, "CAPYBENCH_PPROF="+pprofAddr); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("%s profiles: start capyd-pprof: %v", backend, err))
		return nil
	}
	retarget(prev, d.URL)
	for _, ep := range []Endpoint{co, head} {
		cfg.logf("%s: profiling capyd under %s, 32 clients (extra run, not in the table)…", backend, ep.Name)
		load(ep, 32, 200, 2*time.Second) // warm-up of the fresh process
		if err := profileLoad(cfg, r.Bins.CapydPprof, pprofAddr, backend, ep); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s %s profile: %v", backend, ep.Name, err))
		}
	}
	return nil
}

// noLimitsFlag turns capyd's rate limits off (docs/server.md); capyd
// announces it with a WARN line that starts with noLimitsWarning.
const (
	noLimitsFlag    = "--unsafe-disable-rate-limits"
	noLimitsWarning = `level=WARN msg="RATE LIMITS OFF`
)

// startNoLimits starts bin with noLimitsFlag and checks that capyd says
// its limits are off (unless -capyd-log-level error hides warnings), so
// that no row claims so wrongly.
func startNoLimits(cfg Config, bin, dataDir, database string, extraEnv ...string) (*Capyd, error) {
	d, err := StartCapyd(bin, dataDir, database, cfg.CapydLogLevel, []string{noLimitsFlag}, extraEnv...)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(cfg.CapydLogLevel, "error") {
		return d, nil
	}
	if err := d.WaitLog(noLimitsWarning, 10*time.Second); err != nil {
		d.Stop()
		return nil, err
	}
	return d, nil
}

// profileLoad takes a CPU profile of capyd while 32 clients send ep for
// 8 s, and writes the profile and its top entries to ProfileDir.
func profileLoad(cfg Config, bin, pprofAddr, backend string, ep Endpoint) error {
	if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
		return err
	}
	base := filepath.Join(cfg.ProfileDir, fmt.Sprintf("capyd-%s-%s-c32", backend, ep.Name))
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/profile?seconds=8")
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(base + ".pprof")
		if err == nil {
			_, err = io.Copy(f, resp.Body)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	lr := load(ep, 32, 1<<30, 8500*time.Millisecond)
	if err := <-done; err != nil {
		return err
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount", "40", bin, base+".pprof").CombinedOutput()
	if err != nil {
		return fmt.Errorf("go tool pprof: %v", err)
	}
	cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount", "60", bin, base+".pprof").CombinedOutput()
	head := fmt.Sprintf("capyd-pprof (cmd/capyd + loopback pprof), %s, %s, %s, 32 clients: %.0f req/s, p99 %s during the profile\n\n", noLimitsFlag, backend, ep.Name, lr.RPS(), ms(lr.P99))
	return os.WriteFile(base+".txt", []byte(head+string(top)+"\n-- by cumulative time --\n"+string(cum)), 0o644)
}

// scaleLabel is the backend column of the rows measured on a big database.
func scaleLabel(backend string) string { return backend + "@scale" }

// ScaleFill is what package scale generated for one backend.
type ScaleFill struct {
	Shape  scale.Shape
	Result scale.Result
	Plans  []PagePlan // PostgreSQL: EXPLAIN ANALYZE of each list probe's page statement
}

// fillScale fills the database capyd will use (its SQLite file in dataDir,
// or the PostgreSQL at database) through the store API.
func fillScale(cfg Config, r *Results, label, dataDir, database string) error {
	if database == "" {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return err
		}
		database = filepath.Join(dataDir, "capyd.db") // capyd's default in --data-dir
	}
	sh := scale.At(min(cfg.Scale, 1))
	workers := cfg.ScaleWorkers
	cfg.logf("%s: filling the database (%d orgs, %d users, %d audit rows, %d versions, %d deploy tokens)…",
		label, sh.Orgs, sh.Users, sh.AuditRows, sh.Versions, sh.Deploys)
	opts := scale.Options{Workers: workers, Probes: 200,
		MixedOrgs: 1000, MixedClients: 128, MixedRequests: cfg.LoadRequests, MixedDuration: cfg.LoadDuration}
	if strings.HasPrefix(database, "postgres") {
		opts.Watch = pgWaits(database)
	}
	res, err := scale.FillDatabase(context.Background(), database, sh, opts, func(line string) { cfg.logf("%s: %s", label, line) })
	if err != nil {
		return fmt.Errorf("fill the database: %w", err)
	}
	res.OrgIDs, res.Owners = nil, nil // not kept in the report
	fill := &ScaleFill{Shape: sh, Result: res}
	if strings.HasPrefix(database, "postgres") {
		cfg.logf("%s: EXPLAIN ANALYZE of the list probes' page statements, before and after ANALYZE…", label)
		fill.Plans = explainPages(database, res.Probes, 2*(scale.ProbePage+1), false)
		fill.Plans = append(fill.Plans, explainPages(database, res.Probes, 2*(scale.ProbePage+1), true)...)
	}
	r.Scale[label] = fill
	return nil
}
