package storetest

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"PagedLists", testPagedLists},
		test{"PagesAreBounded", testPagesAreBounded},
	)
}

// walk reads a whole list page by page, limit items a page, each page
// after the key of the previous page's last item, and checks that only
// the last page says nothing follows.
func walk[T any, K any](t *testing.T, what string, limit int, key func(T) K, get func(after K, limit int) (store.Page[T], error)) []T {
	t.Helper()
	var (
		all   []T
		after K // the start
	)
	for i := 0; ; i++ {
		p, err := get(after, limit)
		if err != nil {
			t.Fatalf("%s: page %d: %v", what, i, err)
		}
		if len(p.Items) > limit || (p.More && len(p.Items) != limit) {
			t.Fatalf("%s: page %d holds %d items (limit %d), more %v", what, i, len(p.Items), limit, p.More)
		}
		all = append(all, p.Items...)
		if !p.More {
			return all
		}
		after = key(p.Items[len(p.Items)-1])
		if i > 100000 {
			t.Fatalf("%s: the pages do not end", what)
		}
	}
}

// samePages walks a list with several limits and compares what the pages
// hold with want, the whole list in order.
func samePages[T any, K any](t *testing.T, what string, want []T, key func(T) K, get func(after K, limit int) (store.Page[T], error)) {
	t.Helper()
	for _, limit := range []int{1, 2, 3, 1000} {
		got := walk(t, what, limit, key, get)
		if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%s by %d:\ngot  %+v\nwant %+v", what, limit, got, want)
		}
	}
}

func versionKey(v store.Version) int64 { return v.Version }

func filter[T any](all []T, keep func(T) bool) []T {
	var out []T
	for _, x := range all {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// testPagedLists: every List…Page, read page by page with several limits,
// holds what the whole-list method holds after the API's filter, in the
// API's order, with the same rights; ties of time are broken by id.
func testPagedLists(t *testing.T, h *h) {
	f := h.setup()
	ctx := h.ctx
	tick := func() { h.clock.Advance(time.Second) }

	// Orgs: three more of the owner's created in the same microsecond
	// (ties), one later.
	for range 3 {
		h.newOrg(f.owner)
	}
	tick()
	h.newOrg(f.owner)
	orgs, err := h.s.ListOrgs(ctx, f.owner.tok)
	wantErr(t, err, nil, "ListOrgs")
	if len(orgs) != 5 {
		t.Fatalf("%d orgs", len(orgs))
	}
	samePages(t, "orgs", orgs, func(o store.OrgMembership) store.TimeKey { return store.TimeKey{At: o.Org.CreatedAt, ID: o.Org.ID} },
		func(a store.TimeKey, n int) (store.Page[store.OrgMembership], error) {
			return h.s.ListOrgsPage(ctx, f.owner.tok, store.PageQuery{After: a, Limit: n})
		})

	// Members: four more, two joined in the same microsecond, two kicked.
	tick()
	var added []who
	for i := range 4 {
		if i != 1 {
			tick()
		}
		added = append(added, h.addMember(f.org, f.owner, store.RoleMember))
	}
	for _, m := range added[1:3] {
		_, err := h.s.Kick(ctx, f.owner.tok, f.org, m.ID, store.KickOptions{})
		wantErr(t, err, nil, "Kick")
	}
	members, err := h.s.ListMembers(ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListMembers")
	memberKey := func(m store.Member) store.TimeKey { return store.TimeKey{At: m.JoinedAt, ID: m.UserID} }
	for _, fl := range []store.MemberFilter{{}, {Status: store.StatusActive}, {Status: store.StatusRevoked}, {Email: added[2].Email}, {Status: store.StatusActive, Email: added[2].Email}} {
		want := filter(members, func(m store.Member) bool {
			return (fl.Status == "" || m.Status == fl.Status) && (fl.Email == "" || m.Email == fl.Email)
		})
		samePages(t, fmt.Sprintf("members %+v", fl), want, memberKey, func(a store.TimeKey, n int) (store.Page[store.Member], error) {
			return h.s.ListMembersPage(ctx, f.member.tok, f.org, fl, store.PageQuery{After: a, Limit: n})
		})
	}

	// Invites: one that expires, one revoked, three open (two in the
	// same microsecond); a member's device invite, which members see.
	tick()
	old := h.invite(f.owner, f.org, email("late"), store.InviteMember, store.RoleMember)
	h.clock.Advance(8 * 24 * time.Hour) // past old's expiry
	// Sessions stay live: each is used after the jump.
	for _, w := range []who{f.owner, f.admin, f.member} {
		_, err := h.s.LookupSession(ctx, w.tok)
		wantErr(t, err, nil, "LookupSession")
	}
	gone := h.invite(f.admin, f.org, email("gone"), store.InviteMember, store.RoleMember)
	_, _, err = h.s.RevokeInvite(ctx, f.owner.tok, f.org, gone.ID)
	wantErr(t, err, nil, "RevokeInvite")
	h.invite(f.owner, f.org, email("a"), store.InviteMember, store.RoleMember)
	h.invite(f.admin, f.org, email("b"), store.InviteMember, store.RoleMember)
	tick()
	h.invite(f.member, f.org, f.member.Email, store.InviteDevice, "")
	now := h.clock.Now()
	for _, w := range []who{f.owner, f.member} {
		invites, err := h.s.ListInvites(ctx, w.tok, f.org)
		wantErr(t, err, nil, "ListInvites")
		if w == f.owner && (len(invites) < 5 || !slices.ContainsFunc(invites, func(i store.Invite) bool { return i.ID == old.ID })) {
			t.Fatalf("owner's invites %+v", invites)
		}
		if w == f.member && len(invites) != 1 {
			t.Fatalf("member's invites %+v", invites)
		}
		for _, openAt := range []time.Time{{}, now} {
			want := filter(invites, func(i store.Invite) bool { return openAt.IsZero() || i.Open(openAt) })
			samePages(t, "invites", want, func(i store.Invite) store.TimeKey { return store.TimeKey{At: i.CreatedAt, ID: i.ID} },
				func(a store.TimeKey, n int) (store.Page[store.Invite], error) {
					return h.s.ListInvitesPage(ctx, w.tok, f.org, openAt, store.PageQuery{After: a, Limit: n})
				})
		}
	}

	// Projects and environments: two more of each in one microsecond.
	tick()
	h.newProject(f.org, f.admin)
	h.newProject(f.org, f.member)
	projects, err := h.s.ListProjects(ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListProjects")
	samePages(t, "projects", projects, func(p store.Project) store.TimeKey { return store.TimeKey{At: p.CreatedAt, ID: p.ID} },
		func(a store.TimeKey, n int) (store.Page[store.Project], error) {
			return h.s.ListProjectsPage(ctx, f.member.tok, f.org, store.PageQuery{After: a, Limit: n})
		})
	for range 2 {
		_, err := h.s.CreateEnv(ctx, f.member.tok, store.NewEnv{ID: ident.NewID(ident.Env), OrgID: f.org, ProjectID: f.project, Name: fmt.Sprintf("e%d", counter.Add(1)), SigningKey: randBytes(32)})
		wantErr(t, err, nil, "CreateEnv")
	}
	envs, err := h.s.ListEnvs(ctx, f.member.tok, f.org, f.project)
	wantErr(t, err, nil, "ListEnvs")
	samePages(t, "envs", envs, func(e store.Env) store.TimeKey { return store.TimeKey{At: e.CreatedAt, ID: e.ID} },
		func(a store.TimeKey, n int) (store.Page[store.Env], error) {
			return h.s.ListEnvsPage(ctx, f.member.tok, f.org, f.project, store.PageQuery{After: a, Limit: n})
		})

	// Versions.
	for range 5 {
		h.push(f.member, f.env.ID)
	}
	versions, err := h.s.ListVersions(ctx, f.member.tok, f.env.ID)
	wantErr(t, err, nil, "ListVersions")
	samePages(t, "versions", versions, versionKey, func(before int64, n int) (store.Page[store.Version], error) {
		return h.s.ListVersionsPage(ctx, f.member.tok, f.env.ID, before, n)
	})

	// Deploy tokens: on two environments, by two admins, one revoked,
	// one expired, two minted in the same microsecond.
	tick()
	other := h.newEnv(f.org, h.newProject(f.org, f.owner), f.owner)
	var deps []store.Deploy
	for _, mint := range []struct {
		by  who
		env store.Env
	}{{f.owner, f.env}, {f.admin, f.env}, {f.admin, other}, {f.owner, other}} {
		d, _ := h.deploy(mint.by, mint.env)
		deps = append(deps, d)
	}
	_, _, err = h.s.RevokeDeploy(ctx, f.owner.tok, f.org, deps[1].ID)
	wantErr(t, err, nil, "RevokeDeploy")
	tick()
	v := sha256.Sum256(randBytes(32))
	_, _, err = h.s.CreateDeploy(ctx, f.admin.tok, store.NewDeploy{
		ID: ident.NewID(ident.Deploy), OrgID: f.org, EnvID: f.env.ID, Name: "short", Epoch: f.env.Epoch,
		Verifier: v[:], Blob: randBytes(64), ExpiresAt: h.clock.Now().Add(time.Minute),
	})
	wantErr(t, err, nil, "CreateDeploy")
	h.clock.Advance(2 * time.Minute)
	now = h.clock.Now()
	deploys, err := h.s.ListDeploys(ctx, f.admin.tok, f.org)
	wantErr(t, err, nil, "ListDeploys")
	if len(deploys) != 5 {
		t.Fatalf("%d deploys", len(deploys))
	}
	for _, fl := range []store.DeployFilter{{}, {ActiveAt: now}, {EnvID: f.env.ID}, {MintedBy: f.admin.ID}, {EnvID: other.ID, MintedBy: f.owner.ID, ActiveAt: now}} {
		want := filter(deploys, func(d store.Deploy) bool {
			return (fl.EnvID == "" || d.EnvID == fl.EnvID) && (fl.MintedBy == "" || d.MintedBy == fl.MintedBy) &&
				(fl.ActiveAt.IsZero() || d.Status(fl.ActiveAt) == "active")
		})
		samePages(t, fmt.Sprintf("deploys %+v", fl), want, func(d store.Deploy) store.TimeKey { return store.TimeKey{At: d.CreatedAt, ID: d.ID} },
			func(a store.TimeKey, n int) (store.Page[store.Deploy], error) {
				return h.s.ListDeploysPage(ctx, f.admin.tok, f.org, fl, store.PageQuery{After: a, Limit: n})
			})
	}

	// Sessions: three more of the owner's in one microsecond, one that
	// goes idle; compared by id and Current (reads record use).
	for range 3 {
		_, err := h.s.CreateSession(ctx, f.owner.ID, newToken(), "ci")
		wantErr(t, err, nil, "CreateSession")
	}
	h.clock.Advance(20 * 24 * time.Hour)
	for _, w := range []who{f.owner, f.admin, f.member} {
		_, err := h.s.LookupSession(ctx, w.tok)
		wantErr(t, err, nil, "LookupSession")
	}
	h.clock.Advance(11 * 24 * time.Hour) // the three are idle past 30 days
	tick()
	for range 2 {
		_, err := h.s.CreateSession(ctx, f.owner.ID, newToken(), "ci")
		wantErr(t, err, nil, "CreateSession")
	}
	sessions, err := h.s.ListSessions(ctx, f.owner.tok)
	wantErr(t, err, nil, "ListSessions")
	if len(sessions) != 3 {
		t.Fatalf("%d live sessions, want 3", len(sessions))
	}
	slices.SortFunc(sessions, func(a, b store.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	sessionIDs := func(xs []store.Session) []string {
		var out []string
		for _, x := range xs {
			out = append(out, fmt.Sprint(x.ID, x.Current))
		}
		return out
	}
	for _, limit := range []int{1, 2, 5} {
		got := walk(t, "sessions", limit, func(x store.Session) store.TimeKey { return store.TimeKey{At: x.CreatedAt, ID: x.ID} },
			func(a store.TimeKey, n int) (store.Page[store.Session], error) {
				return h.s.ListSessionsPage(ctx, f.owner.tok, store.PageQuery{After: a, Limit: n})
			})
		if !reflect.DeepEqual(sessionIDs(got), sessionIDs(sessions)) {
			t.Fatalf("sessions by %d: %v, want %v", limit, sessionIDs(got), sessionIDs(sessions))
		}
	}

	// The same rights as the whole lists, and limits are checked.
	stranger := h.login(email("stranger"))
	q := store.PageQuery{Limit: 10}
	_, err = h.s.ListMembersPage(ctx, stranger.tok, f.org, store.MemberFilter{}, q)
	wantErr(t, err, store.ErrNotMember, "ListMembersPage by a stranger")
	_, err = h.s.ListVersionsPage(ctx, stranger.tok, f.env.ID, 0, 10)
	wantErr(t, err, store.ErrNotMember, "ListVersionsPage by a stranger")
	_, err = h.s.ListEnvsPage(ctx, f.member.tok, f.org, ident.NewID(ident.Project), q)
	wantErr(t, err, store.ErrNotFound, "ListEnvsPage of an unknown project")
	_, err = h.s.ListDeploysPage(ctx, f.member.tok, f.org, store.DeployFilter{}, q)
	wantErr(t, err, store.ErrForbidden, "ListDeploysPage by a member")
	_, err = h.s.ListOrgsPage(ctx, newToken(), q)
	wantErr(t, err, store.ErrUnauthenticated, "ListOrgsPage without a session")
	for _, n := range []int{0, -1, store.MaxPageLimit + 1} {
		_, err = h.s.ListProjectsPage(ctx, f.member.tok, f.org, store.PageQuery{Limit: n})
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("ListProjectsPage limit %d", n))
		_, err = h.s.ListVersionsPage(ctx, f.member.tok, f.env.ID, 0, n)
		wantErr(t, err, store.ErrInvalid, fmt.Sprintf("ListVersionsPage limit %d", n))
	}
	_, err = h.s.ListMembersPage(ctx, f.member.tok, f.org, store.MemberFilter{Status: "gone"}, q)
	wantErr(t, err, store.ErrInvalid, "ListMembersPage with an unknown status")
	_, err = h.s.ListMembersPage(ctx, f.member.tok, f.org, store.MemberFilter{Email: "Bob@Example.com"}, q)
	wantErr(t, err, store.ErrInvalid, "ListMembersPage with a non-canonical e-mail")
}

// testPagesAreBounded: with 10,000 versions in one environment and 10,000
// memberships in one org, the first page, a deep page and the last page
// each hold the right rows, and the statement that reads a page reads
// only that page: the database's own plan says so (SQLite: EXPLAIN QUERY
// PLAN, a range on an index in the list's order, no sort; PostgreSQL:
// EXPLAIN ANALYZE, index scans only, no sort, each scan node examined at
// most the page's limit+1 rows, plus, for members, the rows of the
// cursor's own time and of another status in between).
//
// The rows are written in bulk through the suite's database handle, as
// the store would write them (through the store API this is some 60,000
// transactions); the store then pushes on top of the bulk history. What
// the pages must hold is computed here from what was written. Every page
// of a small list, with ties, is PagedLists' job.
func testPagesAreBounded(t *testing.T, h *h) {
	f := h.setup()
	ctx := h.ctx
	const n = 10000
	const limit = 50
	db := rawDB{h, h.isSQLite()}
	base := h.clock.Now().Add(time.Hour)

	// ----- 10,000 versions: 1 and 2 pushed, 3 … n in bulk, n+1 pushed.
	type vrow struct {
		v  int64
		id string
	}
	var vrows []vrow // oldest first until reversed below
	for range 2 {
		v := h.push(f.member, f.env.ID)
		vrows = append(vrows, vrow{v.Version, v.ID})
	}
	var rows [][]any
	for v := int64(3); v <= n; v++ {
		parent := vrows[len(vrows)-1].id
		b := fmt.Appendf(nil, "capy-blob 1\nmanifest 1 %d %s sig\nbulk", v, parent)
		sum := sha256.Sum256(b)
		id := hex.EncodeToString(sum[:])
		rows = append(rows, []any{f.env.ID, v, int64(1), id, parent, b, f.member.ID, db.time(base.Add(time.Duration(v) * time.Millisecond))})
		vrows = append(vrows, vrow{v, id})
	}
	db.bulkInsert("env_versions", []string{"env_id", "version", "epoch", "id", "parent_id", "blob", "pushed_by", "pushed_at"}, rows)
	if _, err := h.raw.ExecContext(ctx, `UPDATE environments SET head_version = $1, head_id = $2 WHERE id = $3`, int64(n), vrows[n-1].id, f.env.ID); err != nil {
		t.Fatalf("moving the head: %v", err)
	}
	v := h.push(f.member, f.env.ID)
	vrows = append(vrows, vrow{v.Version, v.ID})
	slices.Reverse(vrows)

	// ----- 10,000 memberships: bulk users and memberships, joined in
	// threes in one microsecond (ties), every 10th a schema-v1 row
	// (joined_at NULL: the key is created_at), every 7th revoked; after
	// the setup's three.
	type mrow struct {
		at     time.Time
		id     string
		status store.MemberStatus
	}
	setup, err := h.s.ListMembers(ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListMembers")
	var mrows []mrow
	for _, m := range setup {
		mrows = append(mrows, mrow{m.JoinedAt, m.UserID, m.Status})
	}
	var users, memberships [][]any
	for i := range n {
		uid := ident.NewID(ident.User)
		at := base.Add(time.Duration(i/3) * time.Second)
		users = append(users, []any{uid, fmt.Sprintf("bulk%d@example.com", i), db.time(base)})
		status, revokedAt := store.StatusActive, any(nil)
		if i%7 == 0 {
			status, revokedAt = store.StatusRevoked, db.time(at.Add(time.Hour))
		}
		created, joined := db.time(at.Add(-time.Hour)), db.time(at)
		if i%10 == 0 {
			created, joined = db.time(at), nil
		}
		memberships = append(memberships, []any{f.org, uid, "member", string(status), created, created, revokedAt, joined})
		mrows = append(mrows, mrow{at, uid, status})
	}
	db.bulkInsert("users", []string{"id", "email", "created_at"}, users)
	db.bulkInsert("memberships", []string{"org_id", "user_id", "role", "status", "created_at", "updated_at", "revoked_at", "joined_at"}, memberships)
	slices.SortFunc(mrows, func(a, b mrow) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	if !db.sqlite {
		// The steady state autovacuum reaches: the planner knows the
		// tables' sizes (it would otherwise depend on when it ran).
		if _, err := h.raw.ExecContext(ctx, `ANALYZE env_versions, memberships, users`); err != nil {
			t.Fatalf("ANALYZE: %v", err)
		}
	}

	// ----- versions: first, deep and last page.
	for _, c := range []struct {
		what   string
		before int64
		want   []vrow
		more   bool
	}{
		{"first page", 0, vrows[:limit], true},
		{"deep page", 1001, vrows[n+1-1000 : n+1-1000+limit], true}, // 1000 … 951
		{"last page", 3, vrows[n-1:], false},                        // 2, 1
	} {
		var stmt capturedStmt
		p, err := h.s.ListVersionsPage(store.WithListHook(ctx, stmt.capture), f.member.tok, f.env.ID, c.before, limit)
		wantErr(t, err, nil, "ListVersionsPage "+c.what)
		var got []vrow
		for _, v := range p.Items {
			got = append(got, vrow{v.Version, v.ID})
			if v.EnvID != f.env.ID || v.PushedBy != f.member.ID || v.Blob != nil || v.Size == 0 {
				t.Fatalf("versions, %s: %+v", c.what, v)
			}
		}
		if !slices.Equal(got, c.want) || p.More != c.more {
			t.Fatalf("versions, %s: %v (more %v), want %v (more %v)", c.what, got, p.More, c.want, c.more)
		}
		if c.more {
			rng := ""
			if c.before > 0 {
				rng = "version<?"
			}
			db.wantBoundedPlan(t, "versions, "+c.what, stmt, "v", rng, limit+1)
		}
	}

	// ----- members, all and active: first, deep and last page.
	key := func(m mrow) store.TimeKey { return store.TimeKey{At: m.at, ID: m.id} }
	for _, fl := range []store.MemberFilter{{}, {Status: store.StatusActive}} {
		keep := func(m mrow) bool { return fl.Status == "" || m.status == fl.Status }
		want := filter(mrows, keep)
		deep := len(want) * 9 / 10
		// The deep page starts after a member who shares their time with
		// the page's first one: the tie-break decides the boundary.
		for !want[deep-1].at.Equal(want[deep].at) {
			deep--
		}
		for _, c := range []struct {
			what  string
			after store.TimeKey
			want  []mrow
			more  bool
		}{
			{"first page", store.TimeKey{}, want[:limit], true},
			{"deep page", key(want[deep-1]), want[deep : deep+limit], true},
			{"last page", key(want[len(want)-3]), want[len(want)-2:], false},
		} {
			what := fmt.Sprintf("members %+v, %s", fl, c.what)
			var stmt capturedStmt
			p, err := h.s.ListMembersPage(store.WithListHook(ctx, stmt.capture), f.member.tok, f.org, fl, store.PageQuery{After: c.after, Limit: limit})
			wantErr(t, err, nil, what)
			ok := len(p.Items) == len(c.want) && p.More == c.more
			for i, m := range p.Items {
				ok = ok && m.OrgID == f.org && m.UserID == c.want[i].id && m.JoinedAt.Equal(c.want[i].at) && m.Status == c.want[i].status
			}
			if !ok {
				t.Fatalf("%s: %+v (more %v), want %+v (more %v)", what, p.Items, p.More, c.want, c.more)
			}
			if c.more {
				rng := ""
				if !c.after.IsZero() {
					rng = "<expr>>?"
				}
				db.wantBoundedPlan(t, what, stmt, "m", rng, scanBound(mrows, key, keep, c.after, limit+1))
			}
		}
	}
}

// scanBound is how many rows an index scan in the order of all (the whole
// list, in order) reads to find the first n rows after the key that keep
// accepts: from the first row of the key's time (the rows of that time up
// to the key are read and dropped) to the n-th accepted row.
func scanBound[T any](all []T, key func(T) store.TimeKey, keep func(T) bool, after store.TimeKey, n int) int {
	read, found := 0, 0
	for _, x := range all {
		k := key(x)
		if !after.IsZero() && k.At.Before(after.At) {
			continue
		}
		read++
		if (after.IsZero() || k.At.After(after.At) || k.ID > after.ID) && keep(x) {
			if found++; found == n {
				break
			}
		}
	}
	return read
}

// capturedStmt keeps the statement a List…Page ran (store.WithListHook).
type capturedStmt struct {
	query string
	args  []any
	n     int
}

func (c *capturedStmt) capture(query string, args []any) {
	c.query, c.args = query, args
	c.n++
}

// isSQLite says whether the suite's database handle reaches SQLite (else
// PostgreSQL).
func (h *h) isSQLite() bool {
	var v string
	return h.raw.QueryRowContext(h.ctx, `SELECT sqlite_version()`).Scan(&v) == nil
}

// rawDB is the suite's database handle and its dialect.
type rawDB struct {
	*h
	sqlite bool
}

// time is t as the store writes it: timestamptz on PostgreSQL, fixed
// width text on SQLite (docs/storage.md decision 11).
func (db rawDB) time(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if db.sqlite {
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t
}

// bulkInsert writes rows into table in one transaction, several rows a
// statement, each statement text prepared once: several hundred rows on
// PostgreSQL, 16 on SQLite, whose driver binds a statement's parameters
// in time that grows faster than their number (thousands took seconds a
// statement; under the race detector 16 is about twice as fast as 1 or
// 64).
func (db rawDB) bulkInsert(table string, cols []string, rows [][]any) {
	h := db.h
	h.t.Helper()
	tx, err := h.raw.BeginTx(h.ctx, nil)
	if err != nil {
		h.t.Fatalf("bulk %s: %v", table, err)
	}
	defer tx.Rollback()
	values := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range cols {
				if j > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", i*len(cols)+j+1)
			}
			b.WriteString(")")
		}
		return fmt.Sprintf("INSERT INTO %s (%s) VALUES %s", table, strings.Join(cols, ", "), b.String())
	}
	per := 4000 / len(cols)
	if db.sqlite {
		per = 16
	}
	stmts := map[int]*sql.Stmt{}
	for len(rows) > 0 {
		chunk := rows[:min(per, len(rows))]
		rows = rows[len(chunk):]
		stmt := stmts[len(chunk)]
		if stmt == nil {
			if stmt, err = tx.PrepareContext(h.ctx, values(len(chunk))); err != nil {
				h.t.Fatalf("bulk %s: %v", table, err)
			}
			defer stmt.Close()
			stmts[len(chunk)] = stmt
		}
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := stmt.ExecContext(h.ctx, args...); err != nil {
			h.t.Fatalf("bulk %s: %v", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		h.t.Fatalf("bulk %s: %v", table, err)
	}
}

// wantBoundedPlan asks the database how it runs the page statement stmt
// and fails unless it reads only the page. alias names the listed table
// in the statement; rng, if set, is the keyset range SQLite must show as
// a constraint of the index search; bound is the most rows a PostgreSQL
// scan node may examine.
func (db rawDB) wantBoundedPlan(t *testing.T, what string, stmt capturedStmt, alias, rng string, bound int) {
	t.Helper()
	h := db.h
	if stmt.n != 1 {
		t.Fatalf("%s: the list hook saw %d statements, want 1", what, stmt.n)
	}
	if db.sqlite {
		args := make([]any, len(stmt.args))
		for i, a := range stmt.args {
			if tm, ok := a.(time.Time); ok {
				a = db.time(tm)
			}
			args[i] = a
		}
		rows, err := h.raw.QueryContext(h.ctx, "EXPLAIN QUERY PLAN "+stmt.query, args...)
		if err != nil {
			t.Fatalf("%s: EXPLAIN QUERY PLAN: %v", what, err)
		}
		defer rows.Close()
		var plan []string
		for rows.Next() {
			var (
				id, parent, unused int
				detail             string
			)
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatalf("%s: EXPLAIN QUERY PLAN: %v", what, err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: EXPLAIN QUERY PLAN: %v", what, err)
		}
		text := strings.Join(plan, "\n")
		var search string
		for _, d := range plan {
			if strings.HasPrefix(d, "SEARCH "+alias+" USING ") && strings.Contains(d, "INDEX ") {
				search = d
			}
		}
		if search == "" || strings.Contains(text, "SCAN ") || strings.Contains(text, "TEMP B-TREE") ||
			(rng != "" && !strings.Contains(search, rng+")")) {
			t.Fatalf("%s: SQLite does not read just the page:\n%s\n%s", what, text, stmt.query)
		}
		t.Logf("%s: SQLite plan:\n%s", what, text)
		return
	}
	var js string
	if err := h.raw.QueryRowContext(h.ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+stmt.query, stmt.args...).Scan(&js); err != nil {
		t.Fatalf("%s: EXPLAIN: %v", what, err)
	}
	var out []struct{ Plan pgPlan }
	if err := json.Unmarshal([]byte(js), &out); err != nil || len(out) != 1 {
		t.Fatalf("%s: EXPLAIN answered %q (%v)", what, js, err)
	}
	var (
		bad   []string
		scans []string
		walkP func(p pgPlan)
	)
	walkP = func(p pgPlan) {
		switch {
		case strings.Contains(p.NodeType, "Sort"):
			bad = append(bad, "a sort")
		case strings.HasSuffix(p.NodeType, "Scan"):
			examined := (p.Rows + p.Removed + p.Recheck) * p.Loops
			scans = append(scans, fmt.Sprintf("%s on %s (%s): %v rows × %v loops, %v removed", p.NodeType, p.Relation, p.Index, p.Rows, p.Loops, p.Removed))
			if p.NodeType != "Index Scan" && p.NodeType != "Index Scan Backward" && p.NodeType != "Index Only Scan" {
				bad = append(bad, p.NodeType+" on "+p.Relation)
			}
			if examined > float64(bound) {
				bad = append(bad, fmt.Sprintf("%v rows examined on %s, more than %d", examined, p.Relation, bound))
			}
		}
		for _, c := range p.Plans {
			walkP(c)
		}
	}
	walkP(out[0].Plan)
	if len(scans) == 0 || len(bad) > 0 {
		t.Fatalf("%s: PostgreSQL does not read just the page: %s\n%s\n%s", what, strings.Join(bad, "; "), js, stmt.query)
	}
	t.Logf("%s: PostgreSQL scans (bound %d): %s", what, bound, strings.Join(scans, "; "))
}

// pgPlan is a node of PostgreSQL's EXPLAIN (ANALYZE, FORMAT JSON).
type pgPlan struct {
	NodeType string   `json:"Node Type"`
	Relation string   `json:"Relation Name"`
	Index    string   `json:"Index Name"`
	Rows     float64  `json:"Actual Rows"`
	Loops    float64  `json:"Actual Loops"`
	Removed  float64  `json:"Rows Removed by Filter"`
	Recheck  float64  `json:"Rows Removed by Index Recheck"`
	Plans    []pgPlan `json:"Plans"`
}
