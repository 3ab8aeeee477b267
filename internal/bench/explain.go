package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/capy-oss/capy/internal/bench/scale"
)

// PagePlan is PostgreSQL's EXPLAIN ANALYZE of one page statement on the
// filled database (a list probe of package scale), summarised: every scan
// node with the rows it examined.
type PagePlan struct {
	Probe   string
	Scans   []string // "Index Scan on env_versions (env_versions_pkey): 101 rows × 1 loops, 0 removed"
	Bad     []string // a sort, a sequential scan, a node that examined more than Bound rows
	Bound   int
	ExecMS  float64
	Explain string // the error, when EXPLAIN itself failed
	// Analyzed: after ANALYZE (judged); else as just filled, before any
	// statistics (shown, not judged).
	Analyzed bool
}

// planNode is a node of EXPLAIN (ANALYZE, FORMAT JSON).
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Rows     float64    `json:"Actual Rows"`
	Loops    float64    `json:"Actual Loops"`
	Removed  float64    `json:"Rows Removed by Filter"`
	Recheck  float64    `json:"Rows Removed by Index Recheck"`
	Plans    []planNode `json:"Plans"`
}

// explainPages asks PostgreSQL at url how it runs each list probe's page
// statement on the filled database. A page is bounded when every scan is
// an index scan, nothing is sorted, and no scan node examines more than
// bound rows (the page's limit + 1, twice over: the tables hold 10,000 to
// 1,000,000 rows, so a plan that reads the table, not the page, fails).
// analyzed: run ANALYZE first, as autovacuum does in time on a live
// database (PagePlan.Analyzed); without it the plans are those of a
// database just filled, before any statistics.
func explainPages(url string, probes []scale.Probe, bound int, analyzed bool) []PagePlan {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return []PagePlan{{Probe: "connect", Explain: err.Error(), Analyzed: analyzed}}
	}
	defer conn.Close(ctx)
	if analyzed {
		if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
			return []PagePlan{{Probe: "ANALYZE", Explain: err.Error(), Analyzed: analyzed}}
		}
	}
	var out []PagePlan
	for _, p := range probes {
		if p.Query == "" {
			continue
		}
		pp := PagePlan{Probe: p.Name, Bound: bound, Analyzed: analyzed}
		var js string
		if err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+p.Query, p.Args...).Scan(&js); err != nil {
			pp.Explain = err.Error()
			out = append(out, pp)
			continue
		}
		var plans []struct {
			Plan planNode
			Exec float64 `json:"Execution Time"`
		}
		if err := json.Unmarshal([]byte(js), &plans); err != nil || len(plans) != 1 {
			pp.Explain = fmt.Sprintf("unreadable EXPLAIN: %v", err)
			out = append(out, pp)
			continue
		}
		pp.ExecMS = plans[0].Exec
		var walk func(n planNode)
		walk = func(n planNode) {
			switch {
			case strings.Contains(n.NodeType, "Sort"):
				pp.Bad = append(pp.Bad, "a sort")
			case strings.HasSuffix(n.NodeType, "Scan"):
				examined := (n.Rows + n.Removed + n.Recheck) * n.Loops
				pp.Scans = append(pp.Scans, fmt.Sprintf("%s on %s (%s): %v rows × %v loops, %v removed", n.NodeType, n.Relation, n.Index, n.Rows, n.Loops, n.Removed))
				if n.NodeType != "Index Scan" && n.NodeType != "Index Scan Backward" && n.NodeType != "Index Only Scan" {
					pp.Bad = append(pp.Bad, n.NodeType+" on "+n.Relation)
				}
				if examined > float64(bound) {
					pp.Bad = append(pp.Bad, fmt.Sprintf("%v rows examined on %s", examined, n.Relation))
				}
			}
			for _, c := range n.Plans {
				walk(c)
			}
		}
		walk(plans[0].Plan)
		if len(pp.Scans) == 0 {
			pp.Bad = append(pp.Bad, "no scan node")
		}
		out = append(out, pp)
	}
	return out
}
