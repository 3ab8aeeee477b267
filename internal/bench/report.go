package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs      int
	CPUModel  string
	MemTotal  string
	Kernel    string
	Go        string
	LoadStart string
}

// ReadMachine reads /proc for the machine description.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	scan := func(path string, f func(k, v string)) {
		fh, err := os.Open(path)
		if err != nil {
			return
		}
		defer fh.Close()
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok {
				f(strings.TrimSpace(k), strings.TrimSpace(v))
			}
		}
	}
	scan("/proc/cpuinfo", func(k, v string) {
		if k == "model name" && m.CPUModel == "" {
			m.CPUModel = v
		}
	})
	scan("/proc/meminfo", func(k, v string) {
		if k == "MemTotal" {
			var kb int64
			fmt.Sscanf(v, "%d", &kb)
			m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	})
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Verdict is one target of the issue, met or missed.
type Verdict struct {
	Target   string
	Measured string
	Met      *bool // nil: not measured
}

func (v Verdict) Status() string {
	switch {
	case v.Met == nil:
		return "NOT MEASURED"
	case *v.Met:
		return "met"
	default:
		return "MISSED"
	}
}

func b(v bool) *bool { return &v }

type row struct{ area, name, backend, result, rss, target, status string }

// Report writes the one table (markdown), the targets and what was
// skipped.
func (r *Results) Report(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "## capy benchmarks, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "machine: %d CPUs (nproc), %s, %s RAM, Linux %s, %s; load average %s at start, %s at end\n",
		m.CPUs, m.CPUModel, m.MemTotal, m.Kernel, m.Go, m.LoadStart, r.LoadEnd)
	fmt.Fprintf(w, "method: medians of %d runs after %d warm-up(s); wall time fork to reap and peak RSS (ru_maxrss) of each subprocess, taken by the tiny launcher runrss (whose own ~2-3 MiB is the RSS floor: see the baseline); capy member runs, sops, CAPY_KEY runs and the baseline taken in turns; loopback only; took %s\n",
		r.Cfg.Runs, r.Cfg.Warmup, r.Finished.Sub(r.Started).Round(time.Second))
	if r.PGDesc != "" {
		fmt.Fprintf(w, "postgres: %s\n", r.PGDesc)
	}
	fmt.Fprintln(w)
	verdicts := r.Verdicts()
	rows := r.rows()
	fmt.Fprintln(w, "| area | benchmark | backend | result | peak RSS | target | status |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, x := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", x.area, x.name, x.backend, x.result, x.rss, x.target, x.status)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "### targets")
	fmt.Fprintln(w)
	for _, v := range verdicts {
		fmt.Fprintf(w, "- **%s** — %s: %s\n", v.Status(), v.Target, v.Measured)
	}
	if len(r.Skipped) > 0 || r.MicroErr != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "### skipped or failed")
		fmt.Fprintln(w)
		if r.MicroErr != "" {
			fmt.Fprintf(w, "- micro-benchmarks: %s\n", firstLine([]byte(r.MicroErr)))
		}
		for _, s := range r.Skipped {
			fmt.Fprintf(w, "- %s\n", firstLine([]byte(s)))
		}
	}
	for k, e := range r.CmdErr {
		fmt.Fprintf(w, "- %s failed: %s\n", k, firstLine([]byte(e)))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- note: %s\n", n)
	}
	if r.Cfg.ProfileDir != "" {
		fmt.Fprintf(w, "\ncapyd CPU profiles (extra 32-client runs, not in the table): %s\n", r.Cfg.ProfileDir)
	}
}

func seriesText(s Series) string {
	return fmt.Sprintf("%s (min %s, p90 %s, n=%d)", ms(s.Median()), ms(s.Min()), ms(s.P90()), len(s.Samples))
}

var cmdNames = []struct{ key, text string }{
	{"run-member", "`capy run -- true`, member unlock"},
	{"run-ci", "`capy run -- true`, CAPY_KEY (no network)"},
	{"sync-nochange", "`capy` sync, no change"},
	{"sync-allchanged", "`capy` sync, all values changed locally"},
	{"run-ci-sealed", "`capy run -- true`, CAPY_KEY, every value sealed by a contributor (`capy:age:`, no network)"},
	{"sync-changed", "`capy sync --yes`, every value changed locally (plaintext), in turn with the adoption below"},
	{"sync-adopt", "`capy sync --yes`, every value replaced by a fresh sealed one (adopted: opened, sealed as a snippet, pushed)"},
}

// contributorRows are issue 16's `capy encrypt` row and the `capy
// --version` it is judged against (timed in turns).
func (r *Results) contributorRows() []row {
	var rows []row
	enc, okE := r.Cmd[key("-", "encrypt", 1)]
	ver, okV := r.Cmd[key("-", "version", 1)]
	if okV {
		rows = append(rows, row{"command", "`capy --version` (in turn with `capy encrypt`)", "none", seriesText(ver), mib(ver.PeakRSSKiB()), "", ""})
	}
	if okE {
		x := row{"command", "`capy encrypt -`, one value, no account, no network (age ML-KEM-768 + X25519)", "none", seriesText(enc), mib(enc.PeakRSSKiB()), "≤ 2 × `capy --version`", "version missing"}
		if okV {
			x.result += fmt.Sprintf("; %.2f × `capy --version`", float64(enc.Median())/float64(ver.Median()))
			x.status = verdictStatus(float64(enc.Median()) <= 2*float64(ver.Median()))
		}
		rows = append(rows, x)
	}
	for _, k := range []string{key("-", "encrypt", 1), key("-", "version", 1)} {
		if e, bad := r.CmdErr[k]; bad {
			rows = append(rows, row{"command", k, "none", "FAILED: " + firstLine([]byte(e)), "", "", ""})
		}
	}
	return rows
}

func (r *Results) rows() []row {
	var rows []row
	for _, m := range r.Micro {
		res := fmt.Sprintf("%s/op · %d B/op · %d allocs/op", fmtNs(m.NsPerOp), m.BytesPerOp, m.AllocsPerOp)
		x := row{area: "micro", name: strings.TrimPrefix(m.Pkg, "internal/") + ": " + m.Name, backend: "–", result: res, rss: "–"}
		if m.Pkg == "internal/store/postgres" {
			x.backend = "postgres"
			if r.Cfg.PGURL == "" {
				x.backend = "postgres (pgtest cluster: fsync=off)"
			}
		}
		if m.Pkg == "internal/store/sqlite" {
			x.backend = "sqlite"
		}
		if m.Pkg == "internal/envfile" && m.Name == "ParseRewrite/vars=10000" {
			x.target, x.status = "≤ 10 ms", verdictStatus(m.NsPerOp <= 10e6)
		}
		rows = append(rows, x)
	}
	for _, n := range r.Cfg.Sizes {
		if s, ok := r.Cmd[key("-", "baseline", n)]; ok {
			rows = append(rows, row{"command", fmt.Sprintf("`env A=1 true` (baseline, timed in turn with the %d-var runs)", n), "–", seriesText(s), mib(s.PeakRSSKiB()), "", ""})
		}
	}
	backends := append([]string{"-"}, r.Cfg.Backends...)
	for _, c := range cmdNames {
		for _, n := range r.Cfg.Sizes {
			for _, be := range backends {
				s, ok := r.Cmd[key(be, c.key, n)]
				if !ok {
					if e, bad := r.CmdErr[key(be, c.key, n)]; bad {
						rows = append(rows, row{"command", fmt.Sprintf("%s, %d vars", c.text, n), be, "FAILED: " + firstLine([]byte(e)), "", "", ""})
					}
					continue
				}
				x := row{"command", fmt.Sprintf("%s, %d vars", c.text, n), be, seriesText(s), mib(s.PeakRSSKiB()), "", ""}
				if be == "-" {
					x.backend = "none"
				}
				x.target, x.status = r.cmdTarget(c.key, be, n, s)
				rows = append(rows, x)
			}
		}
	}
	rows = append(rows, r.contributorRows()...)
	for _, p := range r.Peers {
		if p.Missing != "" {
			rows = append(rows, row{"peer", p.Name, "–", "MISSING: " + p.Missing, "", "", ""})
			continue
		}
		for _, n := range r.Cfg.Sizes {
			if p.Name == "dotenvx" {
				if s, ok := r.Cmd[key("-", "peer-dotenvx", n)]; ok {
					res := seriesText(s) + "; capy/dotenvx: " + r.ratios(n, s.Median(), "")
					rows = append(rows, row{"peer", fmt.Sprintf("`dotenvx run -f .env -- true`, %d vars, encrypted .env (%s)", n, p.Version), "–", res, mib(s.PeakRSSKiB()), "", ""})
				}
				continue
			}
			for _, be := range r.Cfg.Backends {
				if s, ok := r.Cmd[key(be, "peer-sops", n)]; ok {
					res := seriesText(s) + "; capy/sops: " + r.ratios(n, s.Median(), be)
					rows = append(rows, row{"peer", fmt.Sprintf("`sops exec-env FILE true`, %d vars, age key (%s), in turn with capy on %s", n, p.Version, be), "–", res, mib(s.PeakRSSKiB()), "", ""})
				}
			}
		}
	}
	for _, be := range r.serviceBackends() {
		if f := r.Scale[be]; f != nil {
			x := f.Result
			rows = append(rows, row{"service", fmt.Sprintf("database filled through the store API (scale %g)", r.Cfg.Scale), be,
				fmt.Sprintf("%d orgs (largest %d members), %d users, %d memberships, %d audit rows, %d versions of one environment, %d deploy tokens, in %s",
					x.Orgs, f.Shape.MaxMembers, x.Users, x.Members, x.AuditRows, x.Versions, x.Deploys, x.Elapsed.Round(time.Second)), "", "", ""})
			for _, m := range x.Mixed {
				worst := "worst org's p99 " + ms(m.WorstOrgP99)
				if m.WorstOrgP99 == 0 {
					worst = "worst org's p99 n/a (no org had 10 answers)"
				}
				res := fmt.Sprintf("%.0f req/s · p50 %s · p99 %s · %s · %d ok in %.1f s", m.RPS(), ms(m.P50), ms(m.P99), worst, m.OK, m.Elapsed.Seconds())
				if m.Failed > 0 {
					res += fmt.Sprintf(" · %d failed", m.Failed)
				}
				if m.Waits != "" {
					res += " · waits: " + m.Waits
				}
				rows = append(rows, row{"service", fmt.Sprintf("store on the filled database (in process): co-decrypt in %d org(s), %d clients", m.Orgs, m.Clients), be, res, "", "", ""})
			}
			for _, p := range x.Probes {
				rows = append(rows, row{"service", "store on the filled database (in process, one caller): " + p.Name, be,
					fmt.Sprintf("p50 %s · p99 %s · %d runs", ms(p.P50), ms(p.P99), p.N), "", "", ""})
			}
			for _, pp := range f.Plans {
				x := row{"service", "EXPLAIN ANALYZE on the filled database, after ANALYZE: " + pp.Probe, be, "", "", fmt.Sprintf("index scans only, no sort, ≤ %d rows examined a node", pp.Bound), ""}
				if !pp.Analyzed {
					x.name = "EXPLAIN ANALYZE on the filled database, just filled (no statistics yet): " + pp.Probe
				}
				switch {
				case pp.Explain != "":
					x.result, x.status = "EXPLAIN failed: "+firstLine([]byte(pp.Explain)), verdictStatus(false)
				default:
					x.result = fmt.Sprintf("%s; %.2f ms", strings.Join(pp.Scans, "; "), pp.ExecMS)
					if len(pp.Bad) > 0 {
						x.result += " — " + strings.Join(pp.Bad, ", ")
					}
					x.status = verdictStatus(len(pp.Bad) == 0)
				}
				if !pp.Analyzed {
					x.target, x.status = "(shown, not judged)", ""
				}
				rows = append(rows, x)
			}
		}
		if t, ok := r.Throttled[be]; ok {
			rows = append(rows, row{"service", "co-decrypt, shipped capyd (rate limits on), 32 clients, 3 s", be,
				fmt.Sprintf("%d × 2xx, %d × 429, %d other, %d transport errors", t.Status[200], t.Status[429], t.Status[0]+othersOf(t.Status), t.Errors), "", "", ""})
		}
		for _, lr := range r.Load[be] {
			res := fmt.Sprintf("%.0f req/s · p50 %s · p99 %s · %d ok in %.1f s", lr.RPS(), ms(lr.P50), ms(lr.P99), lr.OK, lr.Elapsed.Seconds())
			if bad := lr.Errors + othersOf2xx(lr.Status); bad > 0 {
				res += fmt.Sprintf(" · %d failed", bad)
			}
			if lr.Endpoint == "co-decrypt" {
				res += fmt.Sprintf(" · audit rows +%d", lr.AuditRows)
			} else {
				res += fmt.Sprintf(" · %d B body", lr.RespBytes)
			}
			x := row{"service", fmt.Sprintf("%s, %d clients (shipped capyd, rate limits off)", lr.Endpoint, lr.Concurrency), be, res, "", "", ""}
			if lr.Endpoint == "co-decrypt" && lr.Concurrency == 32 {
				switch be {
				case "postgres":
					x.target = "≥ 3,000 req/s, p99 ≤ 25 ms"
					x.status = verdictStatus(lr.RPS() >= 3000 && lr.P99 <= 25*time.Millisecond && lr.OK > 0)
				case "sqlite":
					x.target = "≥ 1,500 req/s"
					x.status = verdictStatus(lr.RPS() >= 1500)
				default:
					if empty, ok := r.emptyCoDecrypt32(be); ok {
						x.target = fmt.Sprintf("within 20 %% of the empty database (%.0f req/s, p99 %s)", empty.RPS(), ms(empty.P99))
						x.status = verdictStatus(withinScaleTarget(lr, empty))
					}
				}
			}
			rows = append(rows, x)
		}
		if p := r.Paired[be]; p != nil {
			br, bp, bok := medians(p.Big)
			er, ep, eok := medians(p.Empty)
			res := fmt.Sprintf("filled: %.0f req/s, p99 %s (%d ok); empty: %.0f req/s, p99 %s (%d ok); medians of %d rounds of 2 s each; throughput %.2f ×, p99 %.2f ×",
				br, ms(bp), bok, er, ms(ep), eok, len(p.Big), br/er, float64(bp)/float64(ep))
			rows = append(rows, row{"service", fmt.Sprintf("co-decrypt, %d clients, the filled and the empty database in turns (both capyds running)", p.Concurrency), be, res, "",
				"within 20 % of the empty database", verdictStatus(p.within())})
		}
		if mem := r.Mem[be]; mem != nil {
			if mem.IdleRSS > 0 {
				rows = append(rows, row{"service", "capyd idle (shipped binary, just started)", be, "VmRSS " + mib(mem.IdleRSS), mib(mem.IdleHWM), "≤ 40 MiB", verdictStatus(mem.IdleRSS <= 40<<10)})
			}
			if mem.Requests > 0 {
				rows = append(rows, row{"service", fmt.Sprintf("capyd after %d requests (shipped capyd, rate limits off)", mem.Requests), be,
					fmt.Sprintf("VmRSS %s (idle %s)", mib(mem.AfterRSS), mib(mem.LoadIdleRSS)), mib(mem.AfterHWM) + " (VmHWM)", "≤ 80 MiB", verdictStatus(mem.AfterHWM <= 80<<10)})
			}
		}
	}
	return rows
}

func othersOf(st map[int]int) int {
	n := 0
	for s, c := range st {
		if s != 200 && s != 429 && s != 0 {
			n += c
		}
	}
	return n
}

func othersOf2xx(st map[int]int) int {
	n := 0
	for s, c := range st {
		if s/100 != 2 {
			n += c
		}
	}
	return n
}

func verdictStatus(ok bool) string {
	if ok {
		return "met"
	}
	return "**MISSED**"
}

// ratios is capy's median over the peer's for n variables: the member
// unlock on backend be (every backend if be is ""), and CAPY_KEY.
func (r *Results) ratios(n int, peer time.Duration, be string) string {
	var parts []string
	for _, b := range r.Cfg.Backends {
		if be != "" && b != be {
			continue
		}
		if s, ok := r.Cmd[key(b, "run-member", n)]; ok && peer > 0 {
			parts = append(parts, fmt.Sprintf("member/%s %.2f", b, float64(s.Median())/float64(peer)))
		}
	}
	if s, ok := r.Cmd[key("-", "run-ci", n)]; ok && peer > 0 && (be == "" || be == r.Cfg.Backends[0]) {
		parts = append(parts, fmt.Sprintf("CAPY_KEY %.2f", float64(s.Median())/float64(peer)))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

func (r *Results) peer(name string) *Peer {
	for _, p := range r.Peers {
		if p.Name == name && p.Missing == "" {
			return p
		}
	}
	return nil
}

// cmdTarget is the target text and status of a whole-command row.
func (r *Results) cmdTarget(name, backend string, n int, s Series) (string, string) {
	med := s.Median()
	switch {
	case name == "run-member" && (n == 100 || n == 1000):
		limit, ratio := 12*time.Millisecond, 0.5
		if n == 1000 {
			limit, ratio = 20*time.Millisecond, 0.7
		}
		t := fmt.Sprintf("≤ %.1f × sops and ≤ %s", ratio, ms(limit))
		sops, ok := r.Cmd[key(backend, "peer-sops", n)]
		if !ok || sops.Median() == 0 {
			return t, verdictStatus(false) + " (sops missing)"
		}
		return t, verdictStatus(med <= limit && float64(med) <= ratio*float64(sops.Median()))
	case name == "run-ci" && n == 100:
		base, ok := r.Cmd[key("-", "baseline", n)]
		if !ok {
			return "≤ 3 × `env A=1 true`", "baseline missing"
		}
		return "≤ 3 × `env A=1 true`", verdictStatus(float64(med) <= 3*float64(base.Median()))
	case name == "sync-nochange" && n == 1000:
		return "≤ 25 ms", verdictStatus(med <= 25*time.Millisecond)
	case name == "sync-nochange" && n == 10000:
		return "≤ 60 ms", verdictStatus(med <= 60*time.Millisecond)
	case name == "run-ci" && n == 10000:
		t := "≤ 30 ms (≈ 3 µs a value above the 100-var run)"
		if small, ok := r.Cmd[key("-", "run-ci", 100)]; ok {
			per := perValue(med, small.Median(), n-100)
			return t, fmt.Sprintf("%s (%.1f µs a value above 100 vars)", verdictStatus(med <= 30*time.Millisecond), per.Seconds()*1e6)
		}
		return t, verdictStatus(med <= 30*time.Millisecond)
	case name == "run-ci-sealed":
		t := "≤ 2 × the same run on snippets"
		snip, ok := r.Cmd[key("-", "run-ci", n)]
		if !ok {
			return t, "snippet run missing"
		}
		return t, fmt.Sprintf("%s (%.2f ×)", verdictStatus(float64(med) <= 2*float64(snip.Median())), float64(med)/float64(snip.Median()))
	case name == "sync-adopt":
		t := "≤ 20 ms more than the sync with plaintext changes"
		plain, ok := r.Cmd[key(backend, "sync-changed", n)]
		if !ok {
			return t, "plaintext sync missing"
		}
		return t, fmt.Sprintf("%s (+%s)", verdictStatus(med-plain.Median() <= 20*time.Millisecond), ms(med-plain.Median()))
	case name == "sync-allchanged" && n == 1000:
		return "≤ 40 ms", verdictStatus(med <= 40*time.Millisecond)
	}
	if n == 1000 {
		return "RSS ≤ 25 MiB", verdictStatus(s.PeakRSSKiB() <= 25<<10)
	}
	return "", ""
}

// perValue is what each of extra more values added to a command's time.
func perValue(big, small time.Duration, extra int) time.Duration {
	if extra <= 0 {
		return 0
	}
	return (big - small) / time.Duration(extra)
}

// serviceBackends are the backend labels with service rows: each backend,
// then its scaled run when there was one.
func (r *Results) serviceBackends() []string {
	var out []string
	for _, be := range r.Cfg.Backends {
		out = append(out, be)
		if _, ok := r.Scale[scaleLabel(be)]; ok {
			out = append(out, scaleLabel(be))
		}
	}
	return out
}

// emptyCoDecrypt32 is the 32-client co-decrypt row on the empty database
// of the backend whose scaled label is label.
func (r *Results) emptyCoDecrypt32(label string) (LoadResult, bool) {
	be, ok := strings.CutSuffix(label, "@scale")
	if !ok {
		return LoadResult{}, false
	}
	for _, lr := range r.Load[be] {
		if lr.Endpoint == "co-decrypt" && lr.Concurrency == 32 && lr.OK > 0 {
			return lr, true
		}
	}
	return LoadResult{}, false
}

// withinScaleTarget: the target for a big database, throughput and
// p99 within 20 % of the empty database's in the same run.
func withinScaleTarget(big, empty LoadResult) bool {
	return big.OK > 0 && big.RPS() >= 0.8*empty.RPS() && float64(big.P99) <= 1.2*float64(empty.P99)
}

// Verdicts lists every target of the issue with what was measured.
func (r *Results) Verdicts() []Verdict {
	var out []Verdict
	for _, be := range r.Cfg.Backends {
		for _, c := range []struct {
			n     int
			limit time.Duration
			ratio float64
		}{{100, 12 * time.Millisecond, 0.5}, {1000, 20 * time.Millisecond, 0.7}} {
			v := Verdict{Target: fmt.Sprintf("capy run -- true, %d vars, member unlock (%s) ≤ %.1f × sops exec-env and ≤ %s", c.n, be, c.ratio, ms(c.limit))}
			if s, ok := r.Cmd[key(be, "run-member", c.n)]; ok {
				med := s.Median()
				if sops, ok := r.Cmd[key(be, "peer-sops", c.n)]; ok && sops.Median() > 0 {
					sm := sops.Median()
					v.Measured = fmt.Sprintf("%s; sops %s in the same turns; ratio %.2f", ms(med), ms(sm), float64(med)/float64(sm))
					v.Met = b(med <= c.limit && float64(med) <= c.ratio*float64(sm))
				} else {
					v.Measured = fmt.Sprintf("%s; sops MISSING, so the ratio half is unmeasured", ms(med))
					v.Met = b(false)
				}
			}
			out = append(out, v)
		}
	}
	v := Verdict{Target: "capy run -- true, 100 vars, CAPY_KEY ≤ 3 × `env A=1 true`"}
	base, okBase := r.Cmd[key("-", "baseline", 100)]
	if s, ok := r.Cmd[key("-", "run-ci", 100)]; ok && okBase {
		v.Measured = fmt.Sprintf("%s vs %s in the same turns (%.1f ×)", ms(s.Median()), ms(base.Median()), float64(s.Median())/float64(base.Median()))
		v.Met = b(float64(s.Median()) <= 3*float64(base.Median()))
	}
	out = append(out, v)
	for _, be := range r.Cfg.Backends {
		v := Verdict{Target: fmt.Sprintf("no-change sync, 1,000 vars (%s) ≤ 25 ms", be)}
		if s, ok := r.Cmd[key(be, "sync-nochange", 1000)]; ok {
			v.Measured, v.Met = ms(s.Median()), b(s.Median() <= 25*time.Millisecond)
		}
		out = append(out, v)
		v = Verdict{Target: fmt.Sprintf("sync with all 1,000 values changed (%s) ≤ 40 ms", be)}
		if s, ok := r.Cmd[key(be, "sync-allchanged", 1000)]; ok {
			v.Measured, v.Met = ms(s.Median()), b(s.Median() <= 40*time.Millisecond)
		}
		out = append(out, v)
	}
	v = Verdict{Target: "envfile parse + rewrite, 10,000 vars ≤ 10 ms"}
	for _, m := range r.Micro {
		if m.Pkg == "internal/envfile" && m.Name == "ParseRewrite/vars=10000" {
			v.Measured, v.Met = fmtNs(m.NsPerOp), b(m.NsPerOp <= 10e6)
		}
	}
	out = append(out, v)
	for _, c := range []struct {
		be  string
		rps float64
		p99 time.Duration
	}{{"postgres", 3000, 25 * time.Millisecond}, {"sqlite", 1500, 0}} {
		t := fmt.Sprintf("co-decrypt %s, one org, audit on, 32 clients ≥ %.0f req/s", c.be, c.rps)
		if c.p99 > 0 {
			t += fmt.Sprintf(", p99 ≤ %s", ms(c.p99))
		}
		v := Verdict{Target: t}
		for _, lr := range r.Load[c.be] {
			if lr.Endpoint == "co-decrypt" && lr.Concurrency == 32 {
				v.Measured = fmt.Sprintf("%.0f req/s, p99 %s, audit rows +%d for %d ok (shipped capyd, rate limits off)", lr.RPS(), ms(lr.P99), lr.AuditRows, lr.OK)
				v.Met = b(lr.OK > 0 && lr.RPS() >= c.rps && (c.p99 == 0 || lr.P99 <= c.p99))
			}
		}
		out = append(out, v)
	}
	v = Verdict{Target: "peak RSS of capy ≤ 25 MiB at 1,000 vars"}
	var peak int64
	var which string
	for k, s := range r.Cmd {
		capy := strings.Contains(k, "/run-") || strings.Contains(k, "/sync-")
		if capy && strings.HasSuffix(k, "/1000") && s.PeakRSSKiB() > peak {
			peak, which = s.PeakRSSKiB(), k
		}
	}
	if peak > 0 {
		v.Measured, v.Met = fmt.Sprintf("%s (largest: %s)", mib(peak), which), b(peak <= 25<<10)
	}
	out = append(out, v)
	for _, be := range r.Cfg.Backends {
		mem := r.Mem[be]
		v := Verdict{Target: fmt.Sprintf("capyd (%s) ≤ 40 MiB idle", be)}
		if mem != nil && mem.IdleRSS > 0 {
			v.Measured, v.Met = "VmRSS "+mib(mem.IdleRSS), b(mem.IdleRSS <= 40<<10)
		}
		out = append(out, v)
		v = Verdict{Target: fmt.Sprintf("capyd (%s) ≤ 80 MiB after 100,000 requests", be)}
		if mem != nil && mem.Requests > 0 {
			v.Measured = fmt.Sprintf("VmHWM %s, VmRSS %s after %d requests", mib(mem.AfterHWM), mib(mem.AfterRSS), mem.Requests)
			switch {
			case mem.AfterHWM > 80<<10:
				v.Met = b(false) // already over, however few requests
			case mem.Requests >= 100000:
				v.Met = b(true)
			default:
				// Too few requests to judge (-soak-total below 100,000).
				v.Measured += " (fewer than 100,000: not judged)"
			}
		}
		out = append(out, v)
	}
	out = append(out, r.growthVerdicts()...)
	out = append(out, r.contributorVerdicts()...)
	return append(out, r.scaleVerdicts()...)
}

// growthVerdicts are issue 21's client targets at 10,000 variables.
func (r *Results) growthVerdicts() []Verdict {
	var out []Verdict
	v := Verdict{Target: "capy run -- true, 10,000 vars, CAPY_KEY ≤ 30 ms (≈ 3 µs a value above the 100-var run)"}
	if s, ok := r.Cmd[key("-", "run-ci", 10000)]; ok {
		v.Measured, v.Met = ms(s.Median()), b(s.Median() <= 30*time.Millisecond)
		if small, ok := r.Cmd[key("-", "run-ci", 100)]; ok {
			v.Measured += fmt.Sprintf("; 100 vars %s, so %.1f µs a value", ms(small.Median()), perValue(s.Median(), small.Median(), 9900).Seconds()*1e6)
		}
	}
	out = append(out, v)
	for _, be := range r.Cfg.Backends {
		v := Verdict{Target: fmt.Sprintf("no-change sync, 10,000 vars (%s) ≤ 60 ms", be)}
		if s, ok := r.Cmd[key(be, "sync-nochange", 10000)]; ok {
			v.Measured, v.Met = ms(s.Median()), b(s.Median() <= 60*time.Millisecond)
		}
		out = append(out, v)
	}
	return out
}

// contributorVerdicts are issue 16's performance targets.
func (r *Results) contributorVerdicts() []Verdict {
	var out []Verdict
	v := Verdict{Target: "capy encrypt of one value, whole command ≤ 2 × capy --version"}
	enc, okE := r.Cmd[key("-", "encrypt", 1)]
	ver, okV := r.Cmd[key("-", "version", 1)]
	if okE && okV {
		v.Measured = fmt.Sprintf("%s vs %s in the same turns (%.2f ×)", ms(enc.Median()), ms(ver.Median()), float64(enc.Median())/float64(ver.Median()))
		v.Met = b(float64(enc.Median()) <= 2*float64(ver.Median()))
	}
	out = append(out, v)
	for _, be := range r.Cfg.Backends {
		v := Verdict{Target: fmt.Sprintf("sync adopting %d sealed values (%s) ≤ 20 ms more than the same sync with %d plaintext changes", sealedVars, be, sealedVars)}
		a, okA := r.Cmd[key(be, "sync-adopt", sealedVars)]
		p, okP := r.Cmd[key(be, "sync-changed", sealedVars)]
		if okA && okP {
			v.Measured = fmt.Sprintf("%s vs %s in the same turns (+%s)", ms(a.Median()), ms(p.Median()), ms(a.Median()-p.Median()))
			v.Met = b(a.Median()-p.Median() <= 20*time.Millisecond)
		}
		out = append(out, v)
	}
	v = Verdict{Target: fmt.Sprintf("capy run with CAPY_KEY on %d sealed values ≤ 2 × the same run on %d snippets", sealedVars, sealedVars)}
	sealed, okS := r.Cmd[key("-", "run-ci-sealed", sealedVars)]
	snip, okN := r.Cmd[key("-", "run-ci", sealedVars)]
	if okS && okN {
		v.Measured = fmt.Sprintf("%s vs %s in the same turns (%.2f ×)", ms(sealed.Median()), ms(snip.Median()), float64(sealed.Median())/float64(snip.Median()))
		v.Met = b(float64(sealed.Median()) <= 2*float64(snip.Median()))
	}
	return append(out, v)
}

// scaleVerdicts are the targets of the -scale rows.
func (r *Results) scaleVerdicts() []Verdict {
	var out []Verdict
	for _, be := range r.Cfg.Backends {
		label := scaleLabel(be)
		if _, ok := r.Scale[label]; !ok {
			continue
		}
		v := Verdict{Target: fmt.Sprintf("co-decrypt %s, 32 clients, on the scaled database: throughput and p99 within 20 %% of the empty database", be)}
		empty, okEmpty := r.emptyCoDecrypt32(label)
		for _, lr := range r.Load[label] {
			if lr.Endpoint == "co-decrypt" && lr.Concurrency == 32 && okEmpty {
				v.Measured = fmt.Sprintf("%.0f req/s, p99 %s; empty: %.0f req/s, p99 %s (measured minutes apart)", lr.RPS(), ms(lr.P99), empty.RPS(), ms(empty.P99))
				v.Met = b(withinScaleTarget(lr, empty))
			}
		}
		if p := r.Paired[label]; p != nil {
			// In turns on the same machine at the same time: this is the
			// comparison that counts.
			br, bp, _ := medians(p.Big)
			er, ep, _ := medians(p.Empty)
			v.Measured = fmt.Sprintf("in turns (medians of %d rounds): %.0f req/s, p99 %s; empty: %.0f req/s, p99 %s (throughput %.2f ×, p99 %.2f ×)",
				len(p.Big), br, ms(bp), er, ms(ep), br/er, float64(bp)/float64(ep))
			v.Met = b(p.within())
		}
		out = append(out, v)
		if f := r.Scale[label]; f != nil && len(f.Plans) > 0 {
			v := Verdict{Target: fmt.Sprintf("list pages on the scaled %s database read only their page (EXPLAIN ANALYZE after ANALYZE: index scans, no sort, ≤ 2 × (page + 1) rows a node)", be)}
			judged, bad := 0, []string{}
			for _, pp := range f.Plans {
				if !pp.Analyzed {
					continue
				}
				judged++
				if pp.Explain != "" || len(pp.Bad) > 0 {
					bad = append(bad, pp.Probe)
				}
			}
			if judged > 0 {
				v.Measured = fmt.Sprintf("%d page statements, %d not bounded %v", judged, len(bad), bad)
				v.Met = b(len(bad) == 0)
			}
			out = append(out, v)
		}
		v = Verdict{Target: fmt.Sprintf("capyd (%s, scaled database) ≤ 80 MiB after 100,000 requests", be)}
		if mem := r.Mem[label]; mem != nil && mem.Requests > 0 {
			v.Measured = fmt.Sprintf("VmHWM %s after %d requests", mib(mem.AfterHWM), mem.Requests)
			switch {
			case mem.AfterHWM > 80<<10:
				v.Met = b(false)
			case mem.Requests >= 100000:
				v.Met = b(true)
			default:
				v.Measured += " (fewer than 100,000: not judged)"
			}
		}
		out = append(out, v)
	}
	return out
}
