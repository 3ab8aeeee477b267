package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgWaits returns a scale.Options.Watch for the PostgreSQL at url: every
// 10 ms it reads what the database's active backends are waiting on
// (pg_stat_activity.wait_event_type/wait_event; "running" when nothing)
// and, when stop closes, says what share of the backend samples each
// took. Group commit is per org, so a co-decrypt can wait on a row lock
// (Lock: transactionid or tuple, the org's audit head) only behind a
// request of its own org: spread over 1,000 orgs, lock waits should be
// about as rare as two of the 128 clients picking the same org, and on
// one org they should dominate.
func pgWaits(url string) func(stop <-chan struct{}) string {
	return func(stop <-chan struct{}) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return "wait sampling failed: " + err.Error()
		}
		defer conn.Close(context.Background())
		counts := map[string]int{}
		total, polls := 0, 0
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return waitSummary(counts, total, polls)
			case <-tick.C:
			}
			rows, err := conn.Query(ctx, `SELECT coalesce(wait_event_type, 'running'), coalesce(wait_event, '') FROM pg_stat_activity
				WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
			if err != nil {
				return "wait sampling failed: " + err.Error()
			}
			for rows.Next() {
				var typ, ev string
				if rows.Scan(&typ, &ev) == nil {
					k := typ
					if ev != "" {
						k += ":" + ev
					}
					counts[k]++
					total++
				}
			}
			rows.Close()
			polls++
		}
	}
}

func waitSummary(counts map[string]int, total, polls int) string {
	if total == 0 {
		return fmt.Sprintf("no active backend seen in %d samples", polls)
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return counts[b] - counts[a] })
	lock := 0
	for k, n := range counts {
		if strings.HasPrefix(k, "Lock:") {
			lock += n
		}
	}
	var parts []string
	for i, k := range keys {
		if i == 6 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f %%", k, 100*float64(counts[k])/float64(total)))
	}
	return fmt.Sprintf("row-lock waits %.1f %% of %d backend samples (%d polls, %.1f active a poll); %s",
		100*float64(lock)/float64(total), total, polls, float64(total)/float64(polls), strings.Join(parts, ", "))
}
