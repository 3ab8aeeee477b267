// Command capybench runs capy's benchmarks (BENCHMARKS.md) and prints one
// markdown table: micro-benchmarks (go test -bench), whole-command timings
// of capy and its peers, and capyd throughput and memory on SQLite and
// PostgreSQL. `make bench` runs it through scripts/bench.sh.
//
//	go run ./internal/bench/cmd/capybench [-runs 10] [-out FILE] …
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/capy-oss/capy/internal/bench"
)

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func main() {
	var (
		cfg         bench.Config
		sizes, conc string
		backends    string
		out         string
		keep        bool
		scaled      bool
		scaleFactor float64
	)
	flag.IntVar(&cfg.Runs, "runs", 10, "timed runs per command (median reported)")
	flag.IntVar(&cfg.Warmup, "warmup", 1, "untimed warm-up runs per command")
	flag.StringVar(&sizes, "sizes", "10,100,1000", "variable counts for the whole-command timings")
	flag.StringVar(&backends, "backends", "sqlite,postgres", "capyd stores to benchmark")
	flag.StringVar(&conc, "concurrency", "1,8,32,128", "client counts for the service load")
	flag.IntVar(&cfg.LoadRequests, "load-requests", 20000, "at most this many requests per load run")
	flag.DurationVar(&cfg.LoadDuration, "load-duration", 10*time.Second, "at most this long per load run")
	flag.IntVar(&cfg.SoakTotal, "soak-total", 100000, "requests capyd serves before its memory is read")
	flag.DurationVar(&cfg.SoakMax, "soak-max", 3*time.Minute, "bound on the extra requests that reach -soak-total")
	flag.BoolVar(&cfg.Micro, "micro", true, "run the go test micro-benchmarks")
	flag.StringVar(&cfg.Benchtime, "benchtime", "1s", "go test -benchtime for the micro-benchmarks")
	flag.BoolVar(&cfg.Commands, "commands", true, "time whole commands (capy, peers)")
	flag.BoolVar(&cfg.Service, "service", true, "load capyd")
	flag.BoolVar(&cfg.Peers, "peers", true, "time dotenvx and sops when installed")
	flag.StringVar(&cfg.PGURL, "pg-url", os.Getenv("CAPY_TEST_DATABASE_URL"), "existing PostgreSQL (admin URL with CREATEDB); default: a throwaway cluster from the local binaries")
	flag.BoolVar(&cfg.PGFsync, "pg-fsync", true, "throwaway cluster with fsync on (false: fsync and synchronous_commit off, comparison only)")
	flag.StringVar(&cfg.CapydLogLevel, "capyd-log-level", "info", "capyd --log-level (info is the shipped default: one access-log line per request)")
	flag.StringVar(&cfg.BuildTags, "tags", "urfave_cli_no_docs", "go build -tags for capy and capyd (keep in step with the Makefile's GOTAGS)")
	flag.Float64Var(&cfg.QuietLoad, "quiet-load", 0, "before each part, wait until the 1-minute load average is below this (0: don't wait)")
	flag.DurationVar(&cfg.QuietWait, "quiet-wait", 5*time.Minute, "longest wait for -quiet-load per part")
	flag.StringVar(&cfg.ProfileDir, "profile-dir", "", "also take CPU profiles of capyd under 32-client load (extra runs, capyd built with the capyd_pprof tag) into this directory")
	flag.BoolVar(&scaled, "scale", false, "also measure the service rows on a database filled with issue #21's shape (10,000 orgs, 100,000 users, 1,000,000 audit rows, one environment with 100,000 versions, 10,000 deploy tokens) times -scale-factor, right after the same rows on an empty one, and the whole commands at 10,000 variables too")
	flag.Float64Var(&scaleFactor, "scale-factor", 1, "size of the -scale database relative to the issue's shape (0 < f ≤ 1; 0.01 for a quick look)")
	flag.IntVar(&cfg.ScaleWorkers, "scale-workers", 4, "goroutines filling the -scale database")
	flag.StringVar(&out, "out", "", "also write the report to this file")
	flag.BoolVar(&keep, "keep", false, "keep the scratch directory")
	flag.Parse()
	var err error
	if cfg.Sizes, err = ints(sizes); err == nil {
		cfg.Concurrency, err = ints(conc)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "capybench:", err)
		os.Exit(2)
	}
	if scaled {
		if scaleFactor <= 0 || scaleFactor > 1 {
			fmt.Fprintln(os.Stderr, "capybench: -scale-factor must be in (0, 1]")
			os.Exit(2)
		}
		cfg.Scale = scaleFactor
		// Client growth (issue 21): the whole commands at 10,000
		// variables as well (targets: CAPY_KEY run ≤ 30 ms, no-change
		// sync ≤ 60 ms).
		if !slices.Contains(cfg.Sizes, 10000) {
			cfg.Sizes = append(cfg.Sizes, 10000)
		}
	}
	for _, b := range strings.Split(backends, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.Backends = append(cfg.Backends, b)
		}
	}
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(gomod)) == "" || strings.TrimSpace(string(gomod)) == os.DevNull {
		fmt.Fprintln(os.Stderr, "capybench: run me inside the capy module")
		os.Exit(2)
	}
	cfg.Root = filepath.Dir(strings.TrimSpace(string(gomod)))
	cfg.Work, err = os.MkdirTemp("", "capybench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "capybench:", err)
		os.Exit(1)
	}
	cfg.KeepKeys = keep
	if keep {
		fmt.Fprintln(os.Stderr, "capybench: scratch directory (holds test keys)", cfg.Work)
	} else {
		defer os.RemoveAll(cfg.Work)
	}
	cfg.Log = os.Stderr
	res, err := bench.Run(cfg)
	if res != nil {
		res.Report(os.Stdout)
		if out != "" {
			f, ferr := os.Create(out)
			if ferr == nil {
				res.Report(f)
				f.Close()
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "capybench:", err)
		if !keep {
			os.RemoveAll(cfg.Work)
		}
		os.Exit(1)
	}
}
