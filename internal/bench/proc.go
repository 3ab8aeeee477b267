package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cmd is one subprocess to time.
type Cmd struct {
	Path  string
	Args  []string
	Dir   string
	Env   []string // the whole environment of the child
	Stdin string
}

// commandTimeout bounds every subprocess the harness starts.
const commandTimeout = 2 * time.Minute

// Runner is the path of runrss (internal/bench/cmd/runrss), through which
// runOnce starts commands so that their peak RSS is their own; empty: start
// them directly (RSS then has the harness's peak as its floor).
var Runner string

// runOnce runs c and returns its wall time (start to reaped), its peak RSS
// in KiB (ru_maxrss of the reaped child) and its stdout.
func runOnce(c Cmd) (time.Duration, int64, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	if Runner != "" {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, 0, nil, err
		}
		defer r.Close()
		defer w.Close()
		return runVia(exec.CommandContext(ctx, Runner, append([]string{c.Path}, c.Args...)...), c, r, w)
	}
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Dir, cmd.Env = c.Dir, c.Env
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%s %s: %v\n%s", c.Path, strings.Join(c.Args, " "), err, tail(stderr.String(), 2000))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss // KiB on Linux
	}
	return elapsed, rss, stdout.Bytes(), nil
}

// runVia runs c through runrss and reads its report from r.
func runVia(cmd *exec.Cmd, c Cmd, r, w *os.File) (time.Duration, int64, []byte, error) {
	cmd.Dir, cmd.Env = c.Dir, c.Env
	if c.Stdin != "" {
		cmd.Stdin = strings.NewReader(c.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.ExtraFiles = []*os.File{w}
	err := cmd.Start()
	w.Close() // the child holds its copy
	if err != nil {
		return 0, 0, nil, err
	}
	report, _ := io.ReadAll(r)
	err = cmd.Wait()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%s %s: %v\n%s", c.Path, strings.Join(c.Args, " "), err, tail(stderr.String(), 2000))
	}
	var ns, rss int64
	var status int
	if _, perr := fmt.Sscanf(string(report), "%d %d %d", &ns, &rss, &status); perr != nil {
		return 0, 0, nil, fmt.Errorf("runrss gave no report for %s: %q", c.Path, report)
	}
	return time.Duration(ns), rss, stdout.Bytes(), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// measure runs c warmup times untimed, then runs times timed. before, if
// set, runs untimed ahead of every run (warm-ups included) with the run's
// index, to reset files or wait for a rate-limit token.
func measure(c Cmd, warmup, runs int, before func(i int) error) (Series, error) {
	var s Series
	for i := 0; i < warmup+runs; i++ {
		if before != nil {
			if err := before(i); err != nil {
				return s, err
			}
		}
		d, rss, _, err := runOnce(c)
		if err != nil {
			return s, err
		}
		if i >= warmup {
			s.Samples = append(s.Samples, d)
			s.RSSKiB = append(s.RSSKiB, rss)
		}
	}
	return s, nil
}

// groupItem is one command of an interleaved group.
type groupItem struct {
	key    string
	cmd    Cmd
	before func(i int) error
}

type groupResult struct {
	s   Series
	err error
}

// measureGroup times several commands in turns (the starting command
// rotating each round), so that they meet the same machine: on a shared
// machine, ratios of separately timed series mostly measure the load. A
// command that fails drops out with its error.
// recordGroup times the group in turns (measureGroup) and records each
// command's stats, or its error (logged too).
func (r *Results) recordGroup(cfg Config, g []groupItem) {
	for k, v := range measureGroup(g, cfg.Warmup, cfg.Runs) {
		if v.err != nil {
			r.CmdErr[k] = v.err.Error()
			cfg.logf("%s: %v", k, v.err)
			continue
		}
		r.Cmd[k] = v.s
	}
}

func measureGroup(items []groupItem, warmup, runs int) map[string]groupResult {
	out := make(map[string]groupResult, len(items))
	for i := 0; i < warmup+runs; i++ {
		for j := range items {
			it := items[(i+j)%len(items)]
			res := out[it.key]
			if res.err != nil {
				continue
			}
			if it.before != nil {
				if err := it.before(i); err != nil {
					res.err = err
					out[it.key] = res
					continue
				}
			}
			d, rss, _, err := runOnce(it.cmd)
			switch {
			case err != nil:
				res.err = err
			case i >= warmup:
				res.s.Samples = append(res.s.Samples, d)
				res.s.RSSKiB = append(res.s.RSSKiB, rss)
			}
			out[it.key] = res
		}
	}
	return out
}

// measureBudget is measure for slow peers: when the first warm-up shows
// that runs would take longer than budget, it does fewer runs (at least 3;
// the table shows n).
func measureBudget(c Cmd, warmup, runs int, budget time.Duration) (Series, error) {
	d, _, _, err := runOnce(c)
	if err != nil {
		return Series{}, err
	}
	if d > 0 && time.Duration(runs)*d > budget {
		runs = max(3, int(budget/d))
	}
	return measure(c, max(warmup-1, 0), runs, nil)
}

// procMem reads VmRSS and VmHWM (KiB) of a running process.
func procMem(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, sc.Err()
}

// pacer keeps the harness under capyd's per-user co-decrypt and wrap
// limit (a token bucket of 300, refilled at 2 a second: docs/api.md §1.8)
// so that no timed command is throttled: it waits, untimed, for a token
// before each command that unlocks. Its own bucket (50, 0.9 a second) is
// well under the real one, so the harness never depends on its size.
type pacer struct {
	tokens, capacity, perSec float64
	at                       time.Time
}

func newPacer() *pacer {
	return &pacer{tokens: 50, capacity: 50, perSec: 0.9, at: time.Now()}
}

// take waits until n tokens are there and takes them.
func (p *pacer) take(n float64) {
	p.refill()
	if p.tokens < n {
		time.Sleep(time.Duration((n - p.tokens) / p.perSec * float64(time.Second)))
		p.refill()
	}
	p.tokens -= n
}

func (p *pacer) refill() {
	now := time.Now()
	p.tokens = min(p.capacity, p.tokens+now.Sub(p.at).Seconds()*p.perSec)
	p.at = now
}
