package clistress

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/envfile"
)

var (
	crashIterations = flag.Int("clistress.iterations", 220, "kill-and-recover iterations of TestCrashDuringSync")
	crashSeed       = flag.Uint64("clistress.seed", 0, "seed of the crash tests' random choices (0: from the clock; the log names it)")
)

// crashMembers share the crash tests' checkout: capyd lets one user
// co-decrypt 60 times a minute, and an iteration unlocks three times
// (up to 660 unlocks in about a minute).
const crashMembers = 10

// crashEnv is the checkout's first .env: comments, a blank line, an
// export prefix, quoting, an inline comment and CRLF line endings, all of
// which every rewrite must keep.
// The values are long and distinctive, so that finding one on disk is
// never a coincidence of base64.
const crashEnv = "# clistress: crash test\r\n" +
	"export API_KEY='iv-sk-live-51d0c0ffee'\r\n" +
	"DB_URL=\"postgres://app:iv-pw-7e57ab1e@db/app\" # the database\r\n" +
	"\r\n" +
	"# settings\r\n" +
	"A_00=iv-zero-0b5e55ed\r\n" +
	"A_01=iv-one-5eed1e55\r\n" +
	"A_02=iv-two-decaf000\r\n" +
	"A_03=iv-three-f00dcafe\r\n"

// crashRig is a project whose first checkout the crash tests edit, kill
// capy in, and recover, rotating through the members for each command.
type crashRig struct {
	t       *testing.T
	h       *harness
	p       *project
	dir     string
	envPath string
	rng     *rand.Rand
	turn    int
	cur     map[string]string // the values of the last converged state
	version uint64            // the head after the last converged state
	want    map[uint64]map[string]string
	plain   []string // every plaintext value ever written into .env
}

func newCrashRig(t *testing.T) *crashRig {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -clistress.seed=%d)", seed, seed)
	h := newHarness(t)
	p := h.newProject(crashMembers, []byte(crashEnv))
	c := &crashRig{t: t, h: h, p: p, dir: p.dir, envPath: filepath.Join(p.dir, ".env"),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), want: map[uint64]map[string]string{}}
	c.cur = map[string]string{"API_KEY": "iv-sk-live-51d0c0ffee", "DB_URL": "postgres://app:iv-pw-7e57ab1e@db/app",
		"A_00": "iv-zero-0b5e55ed", "A_01": "iv-one-5eed1e55", "A_02": "iv-two-decaf000", "A_03": "iv-three-f00dcafe"}
	c.plain = slices.Collect(maps.Values(c.cur))
	vals, err := p.openDoc(c.read())
	if err != nil || diffMaps(vals, c.cur) != "" {
		t.Fatalf("after init: %v %s", err, diffMaps(vals, c.cur))
	}
	c.version = 1
	c.want[1] = maps.Clone(c.cur)
	return c
}

func (c *crashRig) read() []byte {
	data, err := os.ReadFile(c.envPath)
	if err != nil {
		c.t.Fatal(err)
	}
	return data
}

// next is the member whose turn it is.
func (c *crashRig) next() *user {
	u := c.p.users[c.turn%len(c.p.users)]
	c.turn++
	return u
}

// value makes a fresh plaintext value; some need quoting in .env.
func (c *crashRig) value(it, j int) string {
	var v string
	switch c.rng.IntN(4) {
	case 0:
		v = fmt.Sprintf("pv %03d %d spaced %08x", it, j, c.rng.Uint32())
	case 1:
		v = fmt.Sprintf("pv#%03d#%d#hash#%08x", it, j, c.rng.Uint32())
	default:
		v = fmt.Sprintf("pv-%03d-%d-%08x", it, j, c.rng.Uint32())
	}
	c.plain = append(c.plain, v)
	return v
}

// edit changes the converged .env in plaintext the way a person would:
// one to three values, sometimes a new name, sometimes a removed one. It
// writes the file and returns its bytes and the values it stands for.
func (c *crashRig) edit(it int) ([]byte, map[string]string) {
	doc, err := envfile.Parse(c.read())
	if err != nil {
		c.t.Fatal(err)
	}
	intended := maps.Clone(c.cur)
	names := slices.Sorted(maps.Keys(intended))
	edited := map[string]bool{}
	for j := range 1 + c.rng.IntN(3) {
		n := names[c.rng.IntN(len(names))]
		edited[n] = true
		intended[n] = c.value(it, j)
		if err := doc.Set(n, intended[n], false); err != nil {
			c.t.Fatal(err)
		}
	}
	if c.rng.IntN(4) == 0 {
		n := fmt.Sprintf("NEW_%03d", it)
		intended[n] = c.value(it, 9)
		if err := doc.Set(n, intended[n], false); err != nil {
			c.t.Fatal(err)
		}
	}
	if c.rng.IntN(5) == 0 && len(intended) > 4 {
		// Delete a name this iteration did not edit: deleting the only
		// edited one would leave no plaintext, and a correct sync would
		// then have nothing to rewrite (the check below expects a rewrite).
		var candidates []string
		for _, n := range names {
			if !edited[n] {
				candidates = append(candidates, n)
			}
		}
		n := candidates[c.rng.IntN(len(candidates))]
		delete(intended, n)
		if !doc.Delete(n) {
			c.t.Fatalf("no %s to delete", n)
		}
	}
	data := doc.Bytes()
	if err := os.WriteFile(c.envPath, data, 0o600); err != nil {
		c.t.Fatal(err)
	}
	return data, intended
}

// startKill starts `capy args…` and sends it SIGKILL after delay (it may
// have finished by then).
func (c *crashRig) startKill(delay time.Duration, stdin string, args ...string) result {
	u := c.next()
	c.h.pace.take(u.email)
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd, stdout, stderr := c.h.command(ctx, u, c.dir, stdin, nil, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGKILL) // a no-op on a process that already exited (not yet reaped)
	return finish(cmd, stdout, stderr, start, args)
}

// checkAfterKill checks the file a killed capy left: byte for byte the
// document before the sync (old), or a complete new one: it parses, every
// value is a snippet of this environment holding the intended value, the
// names are the intended ones, and everything but the value bytes is the
// old document's. Nothing under the scratch tree (checkouts, homes,
// TMPDIR, leftover temporary files) holds a plaintext value, except the
// .env itself when it is the old document. It returns whether the file is
// the new document.
func (c *crashRig) checkAfterKill(what string, old []byte, intended map[string]string) bool {
	t := c.t
	t.Helper()
	after := c.read()
	isNew := !bytes.Equal(after, old)
	if isNew {
		vals, err := c.p.openDoc(after)
		if err != nil {
			t.Fatalf("%s: .env is neither the old document nor a complete new one: %v\n%s", what, err, after)
		}
		if !sameKeys(vals, intended) || diffMaps(vals, intended) != "" {
			t.Fatalf("%s: the new .env does not hold the intended values: %s", what, diffMaps(vals, intended))
		}
		// Only value bytes changed: putting the new values into the old
		// document gives the new file exactly.
		doc, err := envfile.Parse(old)
		if err != nil {
			t.Fatal(err)
		}
		nd, _ := envfile.Parse(after)
		for _, e := range nd.Entries() {
			if err := doc.Set(e.Name, e.Value, false); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(doc.Bytes(), after) {
			t.Fatalf("%s: the new .env changed more than values:\nold:\n%q\nnew:\n%q", what, old, after)
		}
	}
	skip := func(path string) bool { return !isNew && path == c.envPath }
	if file, v, err := findPlaintext(c.h.root, c.plain, skip); err != nil || file != "" {
		t.Fatalf("%s: plaintext %q is in %s (%v)", what, v, file, err)
	}
	return isNew
}

// converge runs `capy` (no kill) and checks the result: exit 0, exactly
// one new version since the last converged state (the killed run's push or
// this one's, never both), the file holds the intended values as
// snippets; then a second `capy` must report up to date and leave the
// file alone. It returns whether this run pushed.
func (c *crashRig) converge(what string, intended map[string]string) bool {
	t := c.t
	t.Helper()
	// --yes: some edits remove a name by hand, which a sync of a file
	// changed outside capy asks about (docs/cli.md §1.7).
	r := c.h.capy(c.next(), c.dir, "", nil, "--json", "sync", "--yes")
	rep, err := parseReport(r)
	if r.code != 0 || err != nil {
		t.Fatalf("%s: the sync after the kill failed: %v\n%v", what, err, r)
	}
	if rep.Version != c.version+1 {
		t.Fatalf("%s: head is version %d after recovery, want %d (one new version per edit)", what, rep.Version, c.version+1)
	}
	data := c.read()
	vals, err := c.p.openDoc(data)
	if err != nil || diffMaps(vals, intended) != "" {
		t.Fatalf("%s: after recovery: %v %s", what, err, diffMaps(vals, intended))
	}
	r2 := c.h.capy(c.next(), c.dir, "", nil, "--json", "sync")
	rep2, err := parseReport(r2)
	if r2.code != 0 || err != nil || !rep2.upToDate() || rep2.Version != rep.Version {
		t.Fatalf("%s: the second sync is not up to date at version %d: %+v %v\n%v", what, rep.Version, rep2, err, r2)
	}
	if !bytes.Equal(c.read(), data) {
		t.Fatalf("%s: an up-to-date sync rewrote .env", what)
	}
	c.version = rep.Version
	c.cur = intended
	c.want[c.version] = maps.Clone(intended)
	return rep.Pushed
}

// stateBase is the base version state.json records for the environment.
func (c *crashRig) stateBase() uint64 {
	var st struct {
		Environments map[string]struct {
			BaseVersion uint64 `json:"base_version"`
		} `json:"environments"`
	}
	data, err := os.ReadFile(filepath.Join(c.dir, ".capy", "state.json"))
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		c.t.Fatalf("state.json: %v", err)
	}
	return st.Environments[c.p.envID].BaseVersion
}

// tempName matches the temporary files of envfile.WriteFileAtomic:
// "." + the target's name + ".tmp-" + digits (for .env: "..env.tmp-…").
var tempName = regexp.MustCompile(`^\..+\.tmp-[0-9]+$`)

// leftovers lists the temporary files interrupted writes left in the
// checkout and its .capy directory.
func (c *crashRig) leftovers() []string {
	var out []string
	for _, d := range []string{c.dir, filepath.Join(c.dir, ".capy")} {
		ents, err := os.ReadDir(d)
		if err != nil {
			c.t.Fatal(err)
		}
		for _, e := range ents {
			if tempName.MatchString(e.Name()) {
				out = append(out, filepath.Join(d, e.Name()))
			}
		}
	}
	sort.Strings(out)
	return out
}

// verifyHistory checks every stored version: 1..N in one chain, each
// holding exactly the values of the edit that made it.
func (c *crashRig) verifyHistory() {
	t := c.t
	vs := c.p.versions()
	if uint64(len(vs)) != c.version {
		t.Fatalf("the service holds %d versions, want %d", len(vs), c.version)
	}
	checkLinear(t, vs)
	for _, v := range vs {
		if d := diffMaps(v.values, c.want[v.meta.Version]); d != "" {
			t.Fatalf("version %d: %s", v.meta.Version, d)
		}
	}
	owner := c.p.users[0]
	c.p.checkHistoryJSON(owner, c.dir, vs)
	if d := diffMaps(c.p.exportJSON(owner, c.dir), c.cur); d != "" {
		t.Fatalf("capy export at the end: %s", d)
	}
}

// typicalSync measures how long an ordinary sync of one plaintext edit
// takes (the median of five), which bounds the random kill delays.
func (c *crashRig) typicalSync() time.Duration {
	var durs []time.Duration
	for i := range 5 {
		what := fmt.Sprintf("measuring sync %d", i)
		doc, err := envfile.Parse(c.read())
		if err != nil {
			c.t.Fatal(err)
		}
		intended := maps.Clone(c.cur)
		intended["A_00"] = c.value(-1, i)
		if err := doc.Set("A_00", intended["A_00"], false); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(c.envPath, doc.Bytes(), 0o600); err != nil {
			c.t.Fatal(err)
		}
		u := c.next()
		r := c.h.capy(u, c.dir, "", nil, "sync")
		if r.code != 0 {
			c.t.Fatalf("%s: %v", what, r)
		}
		durs = append(durs, r.dur)
		c.version++
		c.cur = intended
		c.want[c.version] = maps.Clone(intended)
		if vals, err := c.p.openDoc(c.read()); err != nil || diffMaps(vals, intended) != "" {
			c.t.Fatalf("%s: %v %s", what, err, diffMaps(vals, intended))
		}
	}
	slices.Sort(durs)
	return durs[len(durs)/2]
}

// TestCrashDuringSync kills capy with SIGKILL at a random moment of a
// sync, again and again (-clistress.iterations, default 220). Each
// iteration edits .env in plaintext (one to three values, sometimes a new
// name, sometimes a removed one), starts `capy`, kills it after a delay
// drawn from [0, a typical sync], and checks that .env is the old document
// or the complete new one and that no plaintext is anywhere else on disk
// (checkAfterKill); then a `capy` must converge to the intended values with
// exactly one new version, and a second `capy` must be up to date
// (converge). At the end every version on the service is checked: 1..N in
// one chain, each holding exactly the values of the edit that made it.
// Finally, leftover temporary files older than envfile's threshold are
// removed by the next write of .env.
func TestCrashDuringSync(t *testing.T) {
	c := newCrashRig(t)
	typical := c.typicalSync()
	t.Logf("typical sync (median of 5): %v", typical.Round(time.Millisecond))

	var completed, oldBeforePush, oldAfterPush, newStaleState, newRecorded int
	began := time.Now()
	for it := range *crashIterations {
		what := fmt.Sprintf("iteration %d", it)
		old, intended := c.edit(it)
		delay := time.Duration(c.rng.Int64N(int64(typical) + 1))
		r := c.startKill(delay, "", "sync", "--yes")
		if !r.killed {
			if r.code != 0 {
				t.Fatalf("%s: capy was not killed but failed: %v", what, r)
			}
			completed++
		}
		isNew := c.checkAfterKill(what, old, intended)
		if !r.killed && !isNew {
			t.Fatalf("%s: capy exited 0 but left .env as it was", what)
		}
		staleState := isNew && c.stateBase() == c.version
		pushed := c.converge(what, intended)
		switch {
		case !r.killed:
		case isNew && pushed:
			t.Fatalf("%s: .env was rewritten although the push had not reached the service (DESIGN §3: push, then rewrite)", what)
		case isNew && staleState:
			newStaleState++
		case isNew:
			newRecorded++
		case pushed:
			oldBeforePush++
		default:
			oldAfterPush++
		}
	}
	elapsed := time.Since(began)
	killed := *crashIterations - completed
	t.Logf("%d iterations in %v (%v each, delays in [0, %v]); %d finished before the kill, %d killed: "+
		"%d before the push (.env old), %d after the push but before the rename (.env old), "+
		"%d after the rename but before state.json (.env new), %d after state.json (.env new); pacer waited %v",
		*crashIterations, elapsed.Round(time.Millisecond), (elapsed / time.Duration(max(1, *crashIterations))).Round(time.Millisecond),
		typical.Round(time.Millisecond), completed, killed, oldBeforePush, oldAfterPush, newStaleState, newRecorded, c.h.pace.waited.Round(time.Millisecond))

	c.verifyHistory()
	c.checkLeftoverCleanup()
	c.h.checkNoPlaintext(c.plain)
	if n := c.h.d.statusCount(429); n > 0 {
		t.Errorf("capyd rate-limited %d requests; the pacer should have kept under the limits", n)
	}
}

// checkLeftoverCleanup: a SIGKILL between creating a temporary file and
// renaming it leaves the file behind. They hold no plaintext (checked after
// every kill); once older than envfile.StaleTempAge, the next write of the
// same file must remove them. Besides the leftovers the kills made, the
// check plants one for .env and one for state.json, so it never passes
// vacuously, and a young one that must stay.
func (c *crashRig) checkLeftoverCleanup() {
	t := c.t
	natural := c.leftovers()
	t.Logf("leftover temporary files after the kills: %d %v", len(natural), baseNames(natural))
	snippetDoc := c.read()
	planted := []string{
		filepath.Join(c.dir, "..env.tmp-"+strconv.FormatUint(uint64(c.rng.Uint32()), 10)),
		filepath.Join(c.dir, ".capy", ".state.json.tmp-"+strconv.FormatUint(uint64(c.rng.Uint32()), 10)),
	}
	for _, f := range planted {
		if err := os.WriteFile(f, snippetDoc, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-envfile.StaleTempAge - time.Hour)
	for _, f := range append(natural, planted...) {
		if err := os.Chtimes(f, long, long); err != nil {
			t.Fatal(err)
		}
	}
	young := filepath.Join(c.dir, "..env.tmp-"+strconv.FormatUint(uint64(c.rng.Uint32()), 10))
	if err := os.WriteFile(young, snippetDoc, 0o600); err != nil {
		t.Fatal(err)
	}
	// One more edit: the sync rewrites .env and state.json.
	_, intended := c.edit(10000)
	c.converge("cleanup", intended)
	if rest := c.leftovers(); len(rest) != 1 || rest[0] != young {
		t.Fatalf("after a write of .env and state.json, the leftovers are %v; want only the young %s", baseNames(rest), filepath.Base(young))
	}
	if err := os.Remove(young); err != nil {
		t.Fatal(err)
	}
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// TestCrashDuringSet kills `capy set NAME` (value on stdin) at random
// moments: .env must be the old document or the new one (the old one with
// NAME's value replaced by a snippet of the new value), never anything
// else, with no plaintext on disk; the next `capy` converges.
func TestCrashDuringSet(t *testing.T) {
	c := newCrashRig(t)
	// How long an ordinary `capy set` takes.
	var durs []time.Duration
	for i := range 3 {
		v := c.value(-2, i)
		r := c.h.capy(c.next(), c.dir, v, nil, "set", "A_01")
		if r.code != 0 {
			t.Fatalf("%v", r)
		}
		durs = append(durs, r.dur)
		c.version++
		c.cur["A_01"] = v
		c.want[c.version] = maps.Clone(c.cur)
	}
	slices.Sort(durs)
	typical := durs[1]
	const kills = 24
	var completed, oldFile, newFile int
	for it := range kills {
		what := fmt.Sprintf("set %d", it)
		old := c.read()
		intended := maps.Clone(c.cur)
		name := []string{"A_02", "A_03", fmt.Sprintf("SET_%02d", it)}[it%3]
		v := c.value(it, 0)
		intended[name] = v
		// Spread the kills evenly over [0, typical] so some land in the
		// file write of set itself and some in the sync after it.
		delay := typical * time.Duration(it) / (kills - 1)
		r := c.startKill(delay, v, "set", name)
		if !r.killed {
			if r.code != 0 {
				t.Fatalf("%s: capy set was not killed but failed: %v", what, r)
			}
			completed++
		}
		if c.checkAfterKill(what, old, intended) {
			newFile++
		} else {
			oldFile++
			if !r.killed {
				t.Fatalf("%s: capy set exited 0 but left .env as it was", what)
			}
			// The set never reached the file: redo it, as a person would.
			if r := c.h.capy(c.next(), c.dir, v, nil, "set", "--no-sync", name); r.code != 0 {
				t.Fatalf("%s: %v", what, r)
			}
		}
		c.converge(what, intended)
	}
	t.Logf("capy set killed %d times (delays evenly over [0, %v]): %d finished first, .env old %d, new %d",
		kills, typical.Round(time.Millisecond), completed, oldFile, newFile)
	c.verifyHistory()
	c.h.checkNoPlaintext(c.plain)
}
