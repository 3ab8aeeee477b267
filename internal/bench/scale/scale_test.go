package scale

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/sqlite"
)

func TestAtOneIsTheIssuesShape(t *testing.T) {
	if got := At(1); got != Full {
		t.Fatalf("At(1) = %+v, want %+v", got, Full)
	}
	sizes := Full.OrgSizes()
	sum := 0
	for _, n := range sizes {
		sum += n
	}
	// Zipf-like: the largest has 500, most are small, and the memberships
	// add up to about one per user.
	if sizes[0] != 500 || sizes[len(sizes)-1] > 10 || sum < 95000 || sum > 105000 {
		t.Fatalf("org sizes: largest %d, smallest %d, sum %d", sizes[0], sizes[len(sizes)-1], sum)
	}
	small := 0
	for _, n := range sizes {
		if n <= 10 {
			small++
		}
	}
	if small < len(sizes)/2 {
		t.Fatalf("only %d of %d orgs have at most 10 members", small, len(sizes))
	}
}

func TestSpread(t *testing.T) {
	got := spread(10, 3, func(k int) float64 { return []float64{2, 1, 1}[k] })
	if got[0]+got[1]+got[2] != 10 || got[0] < got[1] {
		t.Fatalf("spread = %v", got)
	}
}

// The generator at a tiny size on SQLite, counted back through the store.
func TestFillTinySQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "capyd.db")
	sh := At(0.0005)
	sh.BlobBytes = 200
	res, err := FillDatabase(ctx, path, sh, Options{Workers: 4, Probes: 3, MixedOrgs: 1000, MixedClients: 8, MixedRequests: 40, MixedDuration: time.Minute}, func(s string) { t.Log(s) })
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, path, store.Config{CodePepper: Pepper})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	if res.Orgs != sh.Orgs || res.Users != sh.Users || res.Versions != sh.Versions || res.Deploys != sh.Deploys {
		t.Fatalf("result %+v for shape %+v", res, sh)
	}
	if res.BigProject == "" || store.HashToken(res.BigOwnerSession) != res.Owners[0] {
		t.Fatalf("the largest org's project %q or owner session is missing", res.BigProject)
	}
	if _, err := st.GetProject(ctx, res.Owners[0], res.BigOrg, res.BigProject); err != nil {
		t.Fatalf("GetProject: %v", err)
	}
	sizes := sh.OrgSizes()
	members, deploys, audit := 0, 0, int64(0)
	for k, org := range res.OrgIDs {
		ms, err := st.ListMembers(ctx, res.Owners[k], org)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != sizes[k] {
			t.Errorf("org %d: %d members, want %d", k, len(ms), sizes[k])
		}
		members += len(ms)
		ds, err := st.ListDeploys(ctx, res.Owners[k], org)
		if err != nil {
			t.Fatal(err)
		}
		deploys += len(ds)
		head, err := st.VerifyChain(ctx, org)
		if err != nil {
			t.Fatalf("org %d: audit chain: %v", k, err)
		}
		audit += head.Seq
	}
	if members != res.Members || deploys != sh.Deploys {
		t.Errorf("counted %d members, %d deploy tokens; generated %d, %d", members, deploys, res.Members, sh.Deploys)
	}
	// Measure's 3 pushes each appended an audit row too, and so did each
	// co-decrypt of the mixed loads.
	if len(res.Mixed) != 2 || res.Mixed[0].Orgs != sh.Orgs || res.Mixed[1].Orgs != 1 {
		t.Fatalf("mixed loads: %+v", res.Mixed)
	}
	for _, m := range res.Mixed {
		if m.OK != 40 || m.Failed != 0 || m.P99 < m.P50 {
			t.Errorf("mixed load %+v", m)
		}
	}
	if audit != int64(res.AuditRows)+3+80 || res.AuditRows < sh.AuditRows {
		t.Errorf("counted %d audit rows; generated %d (+3 probe pushes), asked for at least %d", audit, res.AuditRows, sh.AuditRows)
	}
	// Measure pushed 3 versions after the generated ones.
	vs, err := st.ListVersions(ctx, res.Owners[0], res.BigEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != sh.Versions+3 || vs[0].Version != int64(sh.Versions+3) {
		t.Errorf("long environment: %d versions, head %d; want %d + 3 probe pushes", len(vs), vs[0].Version, sh.Versions)
	}
	if len(res.Probes) != 9 {
		t.Errorf("%d probes, want 9", len(res.Probes))
	}
	for _, p := range res.Probes {
		if p.N != 3 || p.P50 <= 0 || p.P99 < p.P50 {
			t.Errorf("probe %+v", p)
		}
	}
}
