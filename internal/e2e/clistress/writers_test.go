package clistress

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
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
func TestWritersDuringSetSameCheckout(t *testing.T) {
	writers := []struct {
		name  string
		setup func(c *crashRig) []string // extra environment of the writer
		args  []string
		owner bool // run by the org's owner (rotate needs admin)
	}{
		{"env rotate", nil, []string{"env", "rotate", "--yes"}, true},
		{"env switch", nil, []string{"env", "switch", "development"}, false},
		{"ci", func(c *crashRig) []string {
			code := strings.TrimSpace(c.h.must(c.p.users[0], c.dir, "", "deploy", "--name", "writers").stdout)
			return []string{"CAPY_DEPLOY_CODE=" + code}
		}, []string{"ci"}, false},
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
				c.h.pace.take(uw.email)
				c.h.pace.take(us.email)
				ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
				wCmd, wo, we := c.h.command(ctx, uw, c.dir, "", extra, wr.args...)
				sCmd, so, se := c.h.command(ctx, us, c.dir, value, nil, "set", "A_03")
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
				go run(wCmd, wo, we, 0, &rw, wr.args)
				go run(sCmd, so, se, offset, &rs, []string{"set", "A_03"})
				wg.Wait()
				cancel()
				if rw.code != 0 || rs.code != 0 {
					t.Fatalf("%s: %s: %v\nset: %v", what, wr.name, rw, rs)
				}
				c.h.must(uw, c.dir, "", "sync")
				if got := c.h.must(uw, c.dir, "", "get", "A_03").stdout; got != value+"\n" {
					t.Fatalf("%s: after %s and set, A_03 = %q, want %q", what, wr.name, got, value)
				}
			}
			c.h.checkNoPlaintext(c.plain)
		})
	}
}
