package scale

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/capy-oss/capy/internal/store"
)

// Probe is the latency of one store operation on the filled database,
// timed in the benchmark process (no HTTP, one caller at a time).
type Probe struct {
	Name     string
	N        int
	P50, P99 time.Duration
	// Query and Args: the statement that reads the page, for a list probe
	// (from the store's list hook, on the first run), so that the caller
	// can ask the database for its plan; "" for the others.
	Query string
	Args  []any
}

// ProbePage is the page size of Measure's list probes.
const ProbePage = 100

// Measure times, n times each, the reads and writes whose cost could grow
// with the database: the long environment's head, the first and the
// deepest page of its versions, of the largest org's audit chain and of
// its members, a push and a login. The pushes and logins it makes add
// rows (n versions, n users).
func Measure(ctx context.Context, st store.Store, res Result, n int) ([]Probe, error) {
	if n < 1 || len(res.Owners) == 0 {
		return nil, nil
	}
	owner, org, env := res.Owners[0], res.BigOrg, res.BigEnv
	var out []Probe
	timeIt := func(name string, fn func(ctx context.Context, i int) error) error {
		var p Probe
		// The first run with the list hook: the page statement.
		hooked := store.WithListHook(ctx, func(q string, args []any) { p.Query, p.Args = q, args })
		ds := make([]time.Duration, 0, n)
		for i := range n {
			c := ctx
			if i == 0 {
				c = hooked
			}
			t0 := time.Now()
			if err := fn(c, i); err != nil {
				return fmt.Errorf("scale: probe %s: %w", name, err)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		p.Name, p.N, p.P50, p.P99 = name, n, ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
		out = append(out, p)
		return nil
	}
	const page = ProbePage
	e, _, err := st.GetEnvHead(ctx, owner, env)
	if err != nil {
		return nil, fmt.Errorf("scale: probe: GetEnvHead: %w", err)
	}
	_, audit, err := st.ListAudit(ctx, owner, org, 0, 1)
	if err != nil {
		return nil, fmt.Errorf("scale: probe: ListAudit: %w", err)
	}
	// The key before the members' last page: walk the pages once (untimed).
	var lastKey store.TimeKey
	for q := (store.PageQuery{Limit: page}); ; {
		p, err := st.ListMembersPage(ctx, owner, org, store.MemberFilter{}, q)
		if err != nil {
			return nil, fmt.Errorf("scale: probe: ListMembersPage: %w", err)
		}
		if !p.More || len(p.Items) == 0 {
			lastKey = q.After // the key this last page was read after
			break
		}
		m := p.Items[len(p.Items)-1]
		q.After = store.TimeKey{At: m.JoinedAt, ID: m.UserID}
	}
	steps := []struct {
		name string
		fn   func(context.Context, int) error
	}{
		{fmt.Sprintf("head of the environment with %d versions (GetEnvHead)", e.HeadVersion), func(ctx context.Context, _ int) error {
			_, _, err := st.GetEnvHead(ctx, owner, env)
			return err
		}},
		{fmt.Sprintf("versions, first page of %d", page), func(ctx context.Context, _ int) error {
			_, err := st.ListVersionsPage(ctx, owner, env, 0, page)
			return err
		}},
		{fmt.Sprintf("versions, deepest page of %d (below version %d)", page, page+1), func(ctx context.Context, _ int) error {
			_, err := st.ListVersionsPage(ctx, owner, env, page+1, page)
			return err
		}},
		{fmt.Sprintf("audit of the largest org, first page of %d", page), func(ctx context.Context, _ int) error {
			_, _, err := st.ListAudit(ctx, owner, org, 0, page)
			return err
		}},
		{fmt.Sprintf("audit of the largest org, last page of %d (after seq %d)", page, max(0, audit.Seq-page)), func(ctx context.Context, _ int) error {
			_, _, err := st.ListAudit(ctx, owner, org, max(0, audit.Seq-page), page)
			return err
		}},
		{fmt.Sprintf("members of the largest org, first page of %d", page), func(ctx context.Context, _ int) error {
			_, err := st.ListMembersPage(ctx, owner, org, store.MemberFilter{}, store.PageQuery{Limit: page})
			return err
		}},
		{fmt.Sprintf("members of the largest org, last page of %d", page), func(ctx context.Context, _ int) error {
			_, err := st.ListMembersPage(ctx, owner, org, store.MemberFilter{}, store.PageQuery{After: lastKey, Limit: page})
			return err
		}},
		{fmt.Sprintf("push of a %d-byte version", len(version(1, 1, store.FirstParent, res.blobBytes()).Blob)), func(ctx context.Context, _ int) error {
			cur, _, err := st.GetEnvHead(ctx, owner, env)
			if err != nil {
				return err
			}
			_, _, err = st.Push(ctx, owner, env, version(cur.HeadVersion+1, cur.Epoch, cur.HeadID, res.blobBytes()))
			return err
		}},
		{"login (code, verify, session)", func(ctx context.Context, i int) error {
			_, err := login(ctx, st, fmt.Sprintf("probe%07d@scale.example.com", i))
			return err
		}},
	}
	for _, s := range steps {
		if err := timeIt(s.name, s.fn); err != nil {
			return out, err
		}
	}
	return out, nil
}
