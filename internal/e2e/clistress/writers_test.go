package clistress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWritersDuringSetSameCheckout: every command that rewrites .env or
// state.json takes the checkout's lock, re-reads state under it and
// re-checks the file before its rename. Each such writer runs in one
// checkout at the same moment as `capy set A_03` (20 rounds each, the set
// started at offsets over the writer's duration); both exit 0 and, after
// one more `capy` (which leaves file and service equal), the value the
// set wrote is there. Before the lock covered them, `env rotate`, `ci` and `env
// switch` rewrote .env or state.json from what they read before it.
//
// `rollback` legitimately undoes a set that finished before it, so its
// rounds check the order instead: the set (run with --json) must have
// pushed, and the value after both is the set's when its version is the
// head, else the one the rollback restored; a set whose edit a rollback
// overwrote unpushed would report nothing pushed.
func TestWritersDuringSetSameCheckout(t *testing.T) {
	writers := []struct {
		name  string
		setup func(c *crashRig) []string // extra environment of the writer
		args  []string
		owner bool // run by the org's owner (rotate needs admin)
		// rollback: the writer's arguments are made per round (the
		// version to go back to) and the set's outcome depends on order.
		rollback bool
	}{
		{"env rotate", nil, []string{"env", "rotate", "--yes"}, true, false},
		{"env switch", nil, []string{"env", "switch", "development"}, false, false},
		{"ci", func(c *crashRig) []string {
			code := strings.TrimSpace(c.h.must(c.p.users[0], c.dir, "", "deploy", "--name", "writers").stdout)
			return []string{"CAPY_DEPLOY_CODE=" + code}
		}, []string{"ci"}, false, false},
		{"rollback", nil, []string{"rollback", "--yes"}, false, true},
	}
	for _, wr := range writers {
		t.Run(wr.name, func(t *testing.T) {
			c := newCrashRig(t)
			var extra []string
			if wr.setup != nil {
				extra = wr.setup(c)
			}
			typical := c.typicalSync()
			if wr.owner {
				// The rounds run as the owner; the file was last written by
				// others (typicalSync), so the owner's record of it is set.
				c.h.must(c.p.users[0], c.dir, "", "sync")
			}
			const rounds = 20
			for it := range rounds {
				what := fmt.Sprintf("round %d", it)
				value := c.value(it, 3)
				offset := typical * time.Duration(it%10) / 10
				uw := c.next()
				if wr.owner {
					uw = c.p.users[0]
				}
				// One person's two commands: the checkout record that tells
				// capy's writes from others' lives in that person's home.
				us := uw
				args, setArgs := wr.args, []string{"set", "A_03"}
				var before string
				if wr.rollback {
					// Back to the version before a push that changed
					// another name: A_03 there is what it is now, and the
					// set's value, if it lands first, is what the rollback
					// undoes.
					c.h.must(uw, c.dir, strconv.Itoa(it), "set", "ROUND")
					before = c.h.must(uw, c.dir, "", "get", "A_03").stdout
					args = append(append([]string{}, args...), strconv.FormatUint(c.baseVersion(uw)-1, 10))
					setArgs = append([]string{"--json"}, setArgs...)
				}
				c.h.pace.take(uw.email)
				c.h.pace.take(us.email)
				ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
				wCmd, wo, we := c.h.command(ctx, uw, c.dir, "", extra, args...)
				sCmd, so, se := c.h.command(ctx, us, c.dir, value, nil, setArgs...)
				var wg sync.WaitGroup
				var rw, rs result
				run := func(cmd *exec.Cmd, out, errb *bytes.Buffer, delay time.Duration, r *result, args []string) {
					defer wg.Done()
					time.Sleep(delay)
					start := time.Now()
					if err := cmd.Start(); err != nil {
						*r = result{args: args, code: -3, stderr: err.Error()}
						return
					}
					*r = finish(cmd, out, errb, start, args)
				}
				wg.Add(2)
				go run(wCmd, wo, we, 0, &rw, args)
				go run(sCmd, so, se, offset, &rs, setArgs)
				wg.Wait()
				cancel()
				if rw.code != 0 || rs.code != 0 {
					t.Fatalf("%s: %s: %v\nset: %v", what, wr.name, rw, rs)
				}
				c.h.must(uw, c.dir, "", "sync")
				if wr.rollback {
					var set struct {
						Version uint64 `json:"version"`
						Pushed  bool   `json:"pushed"`
					}
					if err := json.Unmarshal([]byte(rs.stdout), &set); err != nil || !set.Pushed {
						t.Fatalf("%s: the set pushed nothing (%v): %v", what, err, rs)
					}
					want, head := value+"\n", c.baseVersion(uw)
					if set.Version < head {
						want = before // the rollback came after the set
					}
					if got := c.h.must(uw, c.dir, "", "get", "A_03").stdout; got != want {
						t.Fatalf("%s: set pushed v%d, head v%d: A_03 = %q, want %q", what, set.Version, head, got, want)
					}
					continue
				}
				if got := c.h.must(uw, c.dir, "", "get", "A_03").stdout; got != value+"\n" {
					t.Fatalf("%s: after %s and set, A_03 = %q, want %q", what, wr.name, got, value)
				}
			}
			c.h.checkNoPlaintext(c.plain)
		})
	}
}

// baseVersion is the version the checkout was last synced at, as u's
// `capy status` reports it.
func (c *crashRig) baseVersion(u *user) uint64 {
	c.h.t.Helper()
	var st struct {
		Base uint64 `json:"base_version"`
	}
	out := c.h.must(u, c.dir, "", "--json", "status").stdout
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Base == 0 {
		c.h.t.Fatalf("status --json: %v: %s", err, out)
	}
	return st.Base
}
