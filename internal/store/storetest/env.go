package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

func init() {
	register(
		test{"Projects", testProjects},
		test{"Environments", testEnvs},
		test{"Push", testPush},
		test{"GetEnvHead", testGetEnvHead},
		test{"PushRefusals", testPushRefusals},
		test{"Versions", testVersions},
		test{"RotateEnv", testRotate},
		test{"RotateEnvRefusals", testRotateRefusals},
	)
}

func testProjects(t *testing.T, h *h) {
	f := h.setup()
	before := h.state(f.owner, f.org)
	stranger := h.login(email("stranger"))
	_, err := h.s.CreateProject(h.ctx, stranger.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "web"})
	wantErr(t, err, store.ErrNotMember, "stranger creating a project")
	_, err = h.s.CreateProject(h.ctx, f.admin.tok, store.NewProject{ID: f.project, OrgID: f.org, Name: "web"})
	wantErr(t, err, store.ErrExists, "taken project id")
	for _, bad := range []store.NewProject{
		{ID: "prj_x", OrgID: f.org, Name: "web"},
		{ID: ident.NewID(ident.Project), OrgID: f.org, Name: ""},
		{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "my web"},
		{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "-web"},
		{ID: ident.NewID(ident.Project), OrgID: f.org, Name: strings.Repeat("a", 65)},
	} {
		_, err := h.s.CreateProject(h.ctx, f.admin.tok, bad)
		wantErr(t, err, store.ErrInvalid, "CreateProject "+bad.ID+" "+bad.Name)
	}
	h.unchanged(before, f.owner, f.org, "refused projects")
	p, err := h.s.CreateProject(h.ctx, f.admin.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "web"})
	wantErr(t, err, nil, "admin creates a project")
	if p.OrgID != f.org || p.Name != "web" || p.CreatedBy != f.admin.ID {
		t.Fatalf("project %+v", p)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionProjectCreate || ev.Target != p.ID {
		t.Fatalf("audit %+v", ev)
	}
	_, err = h.s.CreateProject(h.ctx, f.admin.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "web"})
	wantErr(t, err, store.ErrExists, "taken project name")
	ps, err := h.s.ListProjects(h.ctx, f.member.tok, f.org)
	wantErr(t, err, nil, "ListProjects")
	if len(ps) != 2 {
		t.Fatalf("%d projects, want 2", len(ps))
	}
	_, err = h.s.ListProjects(h.ctx, stranger.tok, f.org)
	wantErr(t, err, store.ErrNotMember, "ListProjects by a stranger")
	_, err = h.s.CreateProject(h.ctx, stranger.tok, store.NewProject{ID: ident.NewID(ident.Project), OrgID: f.org, Name: "x"})
	wantErr(t, err, store.ErrNotMember, "stranger creating a project")
}

func testEnvs(t *testing.T, h *h) {
	f := h.setup()
	if f.env.Epoch != 1 || f.env.HeadVersion != 0 || f.env.HeadID != "" || f.env.OrgID != f.org || f.env.ProjectID != f.project || len(f.env.SigningKey) != 32 {
		t.Fatalf("new env %+v", f.env)
	}
	got, err := h.s.GetEnv(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, nil, "GetEnv")
	if got.ID != f.env.ID || !bytes.Equal(got.SigningKey, f.env.SigningKey) || !got.CreatedAt.Equal(f.env.CreatedAt) {
		t.Fatalf("GetEnv %+v, created %+v", got, f.env)
	}
	before := h.state(f.owner, f.org)
	key := randBytes(32)
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: ident.NewID(ident.Org), ID: ident.NewID(ident.Env), ProjectID: f.project, Name: "staging", SigningKey: key})
	wantErr(t, err, store.ErrNotMember, "env in another org")
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: ident.NewID(ident.Env), ProjectID: f.project, Name: "development", SigningKey: key})
	wantErr(t, err, store.ErrExists, "taken env name")
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: f.env.ID, ProjectID: f.project, Name: "staging", SigningKey: key})
	wantErr(t, err, store.ErrExists, "taken env id")
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: ident.NewID(ident.Env), ProjectID: ident.NewID(ident.Project), Name: "staging", SigningKey: key})
	wantErr(t, err, store.ErrNotFound, "unknown project")
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: ident.NewID(ident.Env), ProjectID: f.project, Name: "staging", SigningKey: key[:31]})
	wantErr(t, err, store.ErrInvalid, "short signing key")
	_, err = h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: ident.NewID(ident.Org), ProjectID: f.project, Name: "staging", SigningKey: key})
	wantErr(t, err, store.ErrInvalid, "org id as env id")
	h.unchanged(before, f.owner, f.org, "refused envs")

	e, err := h.s.CreateEnv(h.ctx, f.admin.tok, store.NewEnv{OrgID: f.org, ID: ident.NewID(ident.Env), ProjectID: f.project, Name: "staging", SigningKey: key})
	wantErr(t, err, nil, "CreateEnv")
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionEnvCreate || ev.Target != e.ID+" project="+f.project+" epoch=1" || ev.Actor != f.admin.ID {
		t.Fatalf("audit %+v", ev)
	}
	envs, err := h.s.ListEnvs(h.ctx, f.member.tok, f.org, f.project)
	wantErr(t, err, nil, "ListEnvs")
	// Order: creation time, then id (both were created at the same clock
	// time here).
	if len(envs) != 2 || envs[0].ID > envs[1].ID || envs[0].Name == envs[1].Name {
		t.Fatalf("ListEnvs %+v", envs)
	}
	stranger := h.login(email("stranger"))
	_, err = h.s.GetEnv(h.ctx, stranger.tok, e.ID)
	wantErr(t, err, store.ErrNotMember, "GetEnv by a stranger")
	_, err = h.s.ListEnvs(h.ctx, stranger.tok, f.org, f.project)
	wantErr(t, err, store.ErrNotMember, "ListEnvs by a stranger")
	_, err = h.s.GetEnv(h.ctx, f.member.tok, ident.NewID(ident.Env))
	wantErr(t, err, store.ErrNotFound, "unknown env")
}

func testPush(t *testing.T, h *h) {
	f := h.setup()
	_, err := h.s.GetHead(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, store.ErrNotFound, "head of an empty env")
	v1 := blob(1, 1, store.FirstParent)
	got, hd, err := h.s.Push(h.ctx, f.member.tok, f.env.ID, v1)
	wantErr(t, err, nil, "first push by a member")
	if got.Version != 1 || got.ID != v1.ID || got.ParentID != store.FirstParent || got.PushedBy != f.member.ID || !bytes.Equal(got.Blob, v1.Blob) {
		t.Fatalf("pushed %+v", got)
	}
	ev := h.lastAudit(f.owner, f.org)
	if ev.Action != store.ActionPush || ev.Target != f.env.ID+" version=1 id="+v1.ID || ev.Seq != hd.Seq || ev.Hash != hd.Hash {
		t.Fatalf("push audit %+v, head %+v", ev, hd)
	}
	head, err := h.s.GetHead(h.ctx, f.admin.tok, f.env.ID)
	wantErr(t, err, nil, "GetHead")
	if head.ID != v1.ID || !bytes.Equal(head.Blob, v1.Blob) || head.Epoch != 1 {
		t.Fatalf("head %+v", head)
	}
	v2 := blob(2, 1, v1.ID)
	_, _, err = h.s.Push(h.ctx, f.owner.tok, f.env.ID, v2)
	wantErr(t, err, nil, "second push")
	e, _ := h.s.GetEnv(h.ctx, f.member.tok, f.env.ID)
	if e.HeadVersion != 2 || e.HeadID != v2.ID {
		t.Fatalf("env head %d %s", e.HeadVersion, e.HeadID)
	}
	e2, hv, err := h.s.GetEnvHead(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, nil, "GetEnvHead")
	if e2.ID != e.ID || e2.HeadVersion != 2 || hv == nil || hv.ID != v2.ID || hv.Version != 2 || !bytes.Equal(hv.Blob, v2.Blob) {
		t.Fatalf("GetEnvHead %+v %+v", e2, hv)
	}
}

// testGetEnvHead: the environment and its head in one read, with the
// same refusals as GetEnv.
func testGetEnvHead(t *testing.T, h *h) {
	f := h.setup()
	e, hv, err := h.s.GetEnvHead(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, nil, "GetEnvHead of an empty env")
	if e.ID != f.env.ID || e.OrgID != f.org || e.HeadVersion != 0 || hv != nil {
		t.Fatalf("empty env: %+v %+v", e, hv)
	}
	v1 := h.push(f.member, f.env.ID)
	e, hv, err = h.s.GetEnvHead(h.ctx, f.admin.tok, f.env.ID)
	wantErr(t, err, nil, "GetEnvHead after a push")
	if e.HeadVersion != 1 || hv == nil || hv.ID != v1.ID || !bytes.Equal(hv.Blob, v1.Blob) || hv.PushedBy != f.member.ID {
		t.Fatalf("after a push: %+v %+v", e, hv)
	}
	stranger := h.login(email("stranger"))
	_, _, err = h.s.GetEnvHead(h.ctx, stranger.tok, f.env.ID)
	wantErr(t, err, store.ErrNotMember, "GetEnvHead by a stranger")
	_, _, err = h.s.GetEnvHead(h.ctx, f.member.tok, ident.NewID(ident.Env))
	wantErr(t, err, store.ErrNotFound, "GetEnvHead of an unknown env")
	_, _, err = h.s.GetEnvHead(h.ctx, newToken(), f.env.ID)
	wantErr(t, err, store.ErrUnauthenticated, "GetEnvHead without a session")
	_, err = h.s.Kick(h.ctx, f.admin.tok, f.org, f.member.ID, store.KickOptions{})
	wantErr(t, err, nil, "Kick")
	_, _, err = h.s.GetEnvHead(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, store.ErrRevoked, "GetEnvHead by a kicked member")
	_, err = h.s.GetEnv(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, store.ErrRevoked, "GetEnv by a kicked member")

	// Use is recorded as by any read; an idle session is over.
	before, err := h.s.LookupSession(h.ctx, f.admin.tok)
	wantErr(t, err, nil, "LookupSession")
	h.clock.Advance(store.DefaultSessionTouch + time.Second)
	_, _, err = h.s.GetEnvHead(h.ctx, f.admin.tok, f.env.ID)
	wantErr(t, err, nil, "GetEnvHead after SessionTouch")
	after, err := h.s.LookupSession(h.ctx, f.admin.tok)
	wantErr(t, err, nil, "LookupSession")
	if !after.LastSeenAt.After(before.LastSeenAt) {
		t.Fatalf("GetEnvHead did not record the session's use: %v → %v", before.LastSeenAt, after.LastSeenAt)
	}
	h.clock.Advance(store.DefaultSessionIdle + time.Second)
	_, err = h.s.GetEnv(h.ctx, f.admin.tok, f.env.ID)
	wantErr(t, err, store.ErrUnauthenticated, "GetEnv with an idle-expired session")
	_, _, err = h.s.GetEnvHead(h.ctx, f.admin.tok, f.env.ID)
	wantErr(t, err, store.ErrUnauthenticated, "GetEnvHead with an idle-expired session")
}

func testPushRefusals(t *testing.T, h *h) {
	f := h.setup()
	v1 := h.push(f.member, f.env.ID)
	before := h.state(f.owner, f.org)
	for name, c := range map[string]struct {
		v    store.NewVersion
		want error
	}{
		"same version again":       {blob(1, 1, store.FirstParent), store.ErrConflict},
		"skipping a version":       {blob(3, 1, v1.ID), store.ErrConflict},
		"parent is not the head":   {blob(2, 1, strings.Repeat("ab", 32)), store.ErrConflict},
		"wrong epoch":              {blob(2, 2, v1.ID), store.ErrConflict},
		"version 1 with a parent":  {blob(1, 1, v1.ID), store.ErrInvalid},
		"later version, no parent": {blob(2, 1, store.FirstParent), store.ErrInvalid},
		"bad parent":               {blob(2, 1, "xyz"), store.ErrInvalid},
		"version 0":                {blob(0, 1, store.FirstParent), store.ErrInvalid},
	} {
		_, _, err := h.s.Push(h.ctx, f.member.tok, f.env.ID, c.v)
		wantErr(t, err, c.want, name)
	}
	bad := blob(2, 1, v1.ID)
	bad.ID = strings.Repeat("0", 64)
	_, _, err := h.s.Push(h.ctx, f.member.tok, f.env.ID, bad)
	wantErr(t, err, store.ErrInvalid, "id is not the blob's hash")
	bad = blob(2, 1, v1.ID)
	bad.Blob = nil
	_, _, err = h.s.Push(h.ctx, f.member.tok, f.env.ID, bad)
	wantErr(t, err, store.ErrInvalid, "empty blob")
	stranger := h.login(email("stranger"))
	_, _, err = h.s.Push(h.ctx, stranger.tok, f.env.ID, blob(2, 1, v1.ID))
	wantErr(t, err, store.ErrNotMember, "push by a stranger")
	_, _, err = h.s.Push(h.ctx, f.member.tok, ident.NewID(ident.Env), blob(1, 1, store.FirstParent))
	wantErr(t, err, store.ErrNotFound, "push to an unknown env")
	_, _, err = h.s.Push(h.ctx, newToken(), f.env.ID, blob(2, 1, v1.ID))
	wantErr(t, err, store.ErrUnauthenticated, "push without a session")
	h.unchanged(before, f.owner, f.org, "refused pushes")
}

func testVersions(t *testing.T, h *h) {
	f := h.setup()
	var pushed []store.Version
	for i := 0; i < 4; i++ {
		pushed = append(pushed, h.push(f.member, f.env.ID))
	}
	list, err := h.s.ListVersions(h.ctx, f.member.tok, f.env.ID)
	wantErr(t, err, nil, "ListVersions")
	if len(list) != 4 {
		t.Fatalf("%d versions", len(list))
	}
	for i, v := range list {
		p := pushed[len(pushed)-1-i]
		if v.Version != p.Version || v.ID != p.ID || v.ParentID != p.ParentID || v.Blob != nil || !v.PushedAt.Equal(p.PushedAt) {
			t.Fatalf("version %d: %+v, pushed %+v", i, v, p)
		}
	}
	for _, p := range pushed {
		v, err := h.s.GetVersion(h.ctx, f.member.tok, f.env.ID, p.Version)
		wantErr(t, err, nil, "GetVersion")
		if !bytes.Equal(v.Blob, p.Blob) || v.ID != p.ID {
			t.Fatalf("GetVersion(%d) %+v", p.Version, v)
		}
	}
	_, err = h.s.GetVersion(h.ctx, f.member.tok, f.env.ID, 5)
	wantErr(t, err, store.ErrNotFound, "GetVersion past the head")
	_, err = h.s.GetVersion(h.ctx, f.member.tok, f.env.ID, 0)
	wantErr(t, err, store.ErrInvalid, "GetVersion(0)")
	stranger := h.login(email("stranger"))
	_, err = h.s.GetVersion(h.ctx, stranger.tok, f.env.ID, 1)
	wantErr(t, err, store.ErrNotMember, "GetVersion by a stranger")
	_, err = h.s.ListVersions(h.ctx, stranger.tok, f.env.ID)
	wantErr(t, err, store.ErrNotMember, "ListVersions by a stranger")
	_, err = h.s.GetHead(h.ctx, stranger.tok, f.env.ID)
	wantErr(t, err, store.ErrNotMember, "GetHead by a stranger")
}

func testRotate(t *testing.T, h *h) {
	f := h.setup()
	v1 := h.push(f.member, f.env.ID)
	other := h.newEnv(f.org, h.newProject(f.org, f.owner), f.owner)
	depHere, _ := h.deploy(f.admin, f.env)
	depThere, _ := h.deploy(f.admin, other)
	key := randBytes(32)
	nv := blob(2, 2, v1.ID)
	res, err := h.s.RotateEnv(h.ctx, f.admin.tok, f.env.ID, store.Rotation{Epoch: 2, SigningKey: key, Head: nv})
	wantErr(t, err, nil, "RotateEnv")
	if res.Env.Epoch != 2 || !bytes.Equal(res.Env.SigningKey, key) || res.Env.HeadVersion != 2 || res.Env.HeadID != nv.ID {
		t.Fatalf("rotated env %+v", res.Env)
	}
	if res.Version.Version != 2 || res.Version.Epoch != 2 || res.Version.ParentID != v1.ID {
		t.Fatalf("rotated head %+v", res.Version)
	}
	if len(res.RevokedDeploys) != 1 || res.RevokedDeploys[0] != depHere.ID {
		t.Fatalf("revoked deploys %v, want [%s]", res.RevokedDeploys, depHere.ID)
	}
	if ev := h.lastAudit(f.owner, f.org); ev.Action != store.ActionEnvRotate || ev.Target != fmt.Sprintf("%s epoch=2 version=2 id=%s deploys=1", f.env.ID, res.Version.ID) || ev.Seq != res.Audit.Seq {
		t.Fatalf("rotate audit %+v", ev)
	}
	e, _ := h.s.GetEnv(h.ctx, f.member.tok, f.env.ID)
	if e.Epoch != 2 || !bytes.Equal(e.SigningKey, key) || e.HeadVersion != 2 {
		t.Fatalf("env after rotate %+v", e)
	}
	head, _ := h.s.GetHead(h.ctx, f.member.tok, f.env.ID)
	if !bytes.Equal(head.Blob, nv.Blob) {
		t.Fatal("head after rotate is not the rotated blob")
	}
	old, err := h.s.GetVersion(h.ctx, f.member.tok, f.env.ID, 1)
	wantErr(t, err, nil, "history is kept")
	if !bytes.Equal(old.Blob, v1.Blob) {
		t.Fatal("old version changed")
	}
	deps, _ := h.s.ListDeploys(h.ctx, f.owner.tok, f.org)
	for _, d := range deps {
		if d.ID == depThere.ID && !d.RevokedAt.IsZero() {
			t.Fatal("another environment's deploy token was revoked")
		}
	}
	// Pushes now need the new epoch.
	_, _, err = h.s.Push(h.ctx, f.member.tok, f.env.ID, blob(3, 1, nv.ID))
	wantErr(t, err, store.ErrConflict, "push at the old epoch")
	_, _, err = h.s.Push(h.ctx, f.member.tok, f.env.ID, blob(3, 2, nv.ID))
	wantErr(t, err, nil, "push at the new epoch")

	// An env without a blob can be rotated too.
	fresh := h.newEnv(f.org, h.newProject(f.org, f.owner), f.owner)
	_, err = h.s.RotateEnv(h.ctx, f.owner.tok, fresh.ID, store.Rotation{Epoch: 2, SigningKey: key, Head: blob(1, 2, store.FirstParent)})
	wantErr(t, err, nil, "rotate an empty env")
}

func testRotateRefusals(t *testing.T, h *h) {
	f := h.setup()
	v1 := h.push(f.member, f.env.ID)
	h.deploy(f.admin, f.env)
	key := randBytes(32)
	before := h.state(f.owner, f.org)
	for name, c := range map[string]struct {
		tok  who
		r    store.Rotation
		want error
	}{
		"member rotating":       {f.member, store.Rotation{Epoch: 2, SigningKey: key, Head: blob(2, 2, v1.ID)}, store.ErrForbidden},
		"skipping an epoch":     {f.admin, store.Rotation{Epoch: 3, SigningKey: key, Head: blob(2, 3, v1.ID)}, store.ErrConflict},
		"head not on the head":  {f.admin, store.Rotation{Epoch: 2, SigningKey: key, Head: blob(3, 2, v1.ID)}, store.ErrConflict},
		"epoch 1":               {f.admin, store.Rotation{Epoch: 1, SigningKey: key, Head: blob(2, 1, v1.ID)}, store.ErrInvalid},
		"head of another epoch": {f.admin, store.Rotation{Epoch: 2, SigningKey: key, Head: blob(2, 1, v1.ID)}, store.ErrInvalid},
		"short key":             {f.admin, store.Rotation{Epoch: 2, SigningKey: key[:8], Head: blob(2, 2, v1.ID)}, store.ErrInvalid},
	} {
		_, err := h.s.RotateEnv(h.ctx, c.tok.tok, f.env.ID, c.r)
		wantErr(t, err, c.want, name)
	}
	h.unchanged(before, f.owner, f.org, "refused rotations")
}
