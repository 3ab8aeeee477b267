package server

import (
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

func TestMembers(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		list := must(w.member.Members(e.ctx, w.org, "", "", "", 0))
		if len(list.Items) != 3 || list.Items[0].ID != w.owner.ID || list.Items[0].Role != api.RoleOwner {
			t.Fatalf("members %+v", list)
		}
		byEmail := must(w.member.Members(e.ctx, w.org, "all", w.admin.Email, "", 0))
		if len(byEmail.Items) != 1 || byEmail.Items[0].ID != w.admin.ID || byEmail.Items[0].Status != "active" {
			t.Fatalf("by e-mail %+v", byEmail)
		}
		_, err := w.member.Members(e.ctx, w.org, "gone", "", "", 0)
		wantProblem(t, err, api.PInvalidField, "bad status")
		_, err = w.member.Members(e.ctx, w.org, "", "Bob@X.io", "", 0)
		wantProblem(t, err, api.PInvalidField, "non-canonical e-mail filter")

		before := e.snapshot(w)
		// Role changes: owners only.
		_, err = w.admin.SetRole(e.ctx, w.org, w.member.ID, api.RoleAdmin)
		wantProblem(t, err, api.PForbidden, "admin changing a role")
		_, err = w.owner.SetRole(e.ctx, w.org, w.owner.ID, api.RoleAdmin)
		wantProblem(t, err, api.PLastOwner, "last owner stepping down")
		_, err = w.owner.SetRole(e.ctx, w.org, ident.NewID(ident.User), api.RoleAdmin)
		wantProblem(t, err, api.PNotFound, "role of a non-member")
		// Kicks: a plain member cannot; an admin cannot kick an owner;
		// nobody kicks the last owner, not even themself.
		_, err = w.member.Kick(e.ctx, w.org, w.admin.ID, false)
		wantProblem(t, err, api.PForbidden, "kick by a plain member")
		_, err = w.admin.Kick(e.ctx, w.org, w.owner.ID, false)
		wantProblem(t, err, api.PForbidden, "admin kicking an owner")
		_, err = w.owner.Kick(e.ctx, w.org, w.owner.ID, false)
		wantProblem(t, err, api.PLastOwner, "kicking the last owner")
		_, err = w.owner.Kick(e.ctx, w.org, ident.NewID(ident.User), false)
		wantProblem(t, err, api.PNotFound, "kicking a non-member")
		e.unchanged(w, before, "refused role changes and kicks")

		// Setting the same role again is a no-op with no row.
		m := must(w.owner.SetRole(e.ctx, w.org, w.member.ID, api.RoleMember))
		if m.Role != api.RoleMember {
			t.Fatalf("member %+v", m)
		}
		e.unchanged(w, before, "a no-op role change")
		m = must(w.owner.SetRole(e.ctx, w.org, w.member.ID, api.RoleAdmin))
		if m.Role != api.RoleAdmin {
			t.Fatalf("promoted %+v", m)
		}
		if last := e.lastAudit(w); last.Action != "role" || last.Target != w.member.ID+" role=admin" {
			t.Fatalf("role audit %+v", last)
		}
		// A second owner; then the first may be kicked by the second.
		must(w.owner.SetRole(e.ctx, w.org, w.admin.ID, api.RoleOwner))
		first := w.owner
		res := must(w.admin.Kick(e.ctx, w.org, first.ID, false))
		w.owner = w.admin // the owner from now on
		if res.Member.Status != "revoked" || res.Member.RevokedAt == nil || res.Member.ID != first.ID {
			t.Fatalf("kick %+v", res)
		}
		if last := e.lastAudit(w); last.Action != "kick" || last.Target != first.ID+" invites=0 deploys=0 kept=0" {
			t.Fatalf("kick audit %+v", last)
		}
		// The kicked owner is shut out everywhere, on the next request.
		_, err = first.Org(e.ctx, w.org)
		wantProblem(t, err, api.PMembershipRevoked, "kicked owner")
		_, err = first.Members(e.ctx, w.org, "", "", "", 0)
		wantProblem(t, err, api.PMembershipRevoked, "kicked owner listing")
		_, err = w.admin.SetRole(e.ctx, w.org, first.ID, api.RoleMember)
		wantProblem(t, err, api.PMemberNotActive, "role of a revoked member")
		revoked := must(w.admin.Members(e.ctx, w.org, "revoked", "", "", 0))
		if len(revoked.Items) != 1 || revoked.Items[0].ID != first.ID {
			t.Fatalf("revoked members %+v", revoked)
		}
		// Kicking again is allowed and writes a row.
		e.clock.Advance(time.Second)
		before = e.snapshot(w)
		must(w.admin.Kick(e.ctx, w.org, first.ID, false))
		if e.snapshot(w) == before {
			t.Fatal("a repeated kick wrote no row")
		}
		// Pages of members.
		p1 := must(w.admin.Members(e.ctx, w.org, "all", "", "", 2))
		p2 := must(w.admin.Members(e.ctx, w.org, "all", "", *p1.NextCursor, 2))
		if len(p1.Items) != 2 || len(p2.Items) != 1 || p2.NextCursor != nil {
			t.Fatalf("pages %+v %+v", p1, p2)
		}
		_, err = w.admin.Members(e.ctx, w.org, "active", "", *p1.NextCursor, 2)
		wantProblem(t, err, api.PInvalidField, "a cursor of another filter")
	})
}

func TestProjectsAndEnvs(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		w := e.world()
		// Any member may create projects and environments.
		prj := ident.NewID(ident.Project)
		e.clock.Advance(time.Second)
		p := must(w.member.CreateProject(e.ctx, w.org, api.CreateProjectRequest{ID: prj, Name: "api"}))
		if p.ID != prj || p.CreatedBy.ID != w.member.ID || p.CreatedBy.Email != w.member.Email || p.Org != w.org {
			t.Fatalf("project %+v", p)
		}
		if last := e.lastAudit(w); last.Action != "project-create" || last.Target != prj {
			t.Fatalf("audit %+v", last)
		}
		_, err := w.member.CreateProject(e.ctx, w.org, api.CreateProjectRequest{ID: ident.NewID(ident.Project), Name: "api"})
		if pr := wantProblem(t, err, api.PAlreadyExists, "taken name"); pr.Field != "name" {
			t.Fatalf("field %q", pr.Field)
		}
		_, err = w.member.CreateProject(e.ctx, w.org, api.CreateProjectRequest{ID: prj, Name: "other"})
		if pr := wantProblem(t, err, api.PAlreadyExists, "taken id"); pr.Field != "id" {
			t.Fatalf("field %q", pr.Field)
		}
		_, err = w.member.CreateProject(e.ctx, w.org, api.CreateProjectRequest{ID: ident.NewID(ident.Project), Name: "Bad Name"})
		wantProblem(t, err, api.PInvalidField, "bad slug")
		got := must(w.member.Project(e.ctx, w.org, prj))
		if got.ID != prj || got.Name != "api" {
			t.Fatalf("project %+v", got)
		}
		ps := must(w.member.Projects(e.ctx, w.org, "", 0))
		if len(ps.Items) != 2 || ps.Items[0].ID != w.project || ps.Items[1].ID != prj {
			t.Fatalf("projects %+v", ps)
		}
		_, err = w.member.Project(e.ctx, w.org, ident.NewID(ident.Project))
		wantProblem(t, err, api.PNotFound, "unknown project")

		envID := ident.NewID(ident.Env)
		key := randBytes(32)
		en := must(w.member.CreateEnv(e.ctx, w.org, prj, api.CreateEnvRequest{ID: envID, Name: "staging", SigningPublicKey: key}))
		if en.Epoch != 1 || en.Head != nil || en.Project != prj || en.RotatedAt != nil {
			t.Fatalf("env %+v", en)
		}
		if last := e.lastAudit(w); last.Action != "env-create" || last.Target != envID+" project="+prj+" epoch=1" {
			t.Fatalf("audit %+v", last)
		}
		_, err = w.member.CreateEnv(e.ctx, w.org, prj, api.CreateEnvRequest{ID: ident.NewID(ident.Env), Name: "staging", SigningPublicKey: key})
		wantProblem(t, err, api.PAlreadyExists, "taken env name")
		_, err = w.member.CreateEnv(e.ctx, w.org, prj, api.CreateEnvRequest{ID: ident.NewID(ident.Env), Name: "x", SigningPublicKey: key[:31]})
		wantProblem(t, err, api.PInvalidField, "short signing key")
		_, err = w.member.CreateEnv(e.ctx, w.org, ident.NewID(ident.Project), api.CreateEnvRequest{ID: ident.NewID(ident.Env), Name: "x", SigningPublicKey: key})
		wantProblem(t, err, api.PNotFound, "env in an unknown project")
		envs := must(w.member.Envs(e.ctx, w.org, prj, "", 0))
		if len(envs.Items) != 1 || envs.Items[0].ID != envID {
			t.Fatalf("envs %+v", envs)
		}
		if got := must(w.member.Env(e.ctx, w.org, prj, envID)); got.ID != envID || got.Name != "staging" {
			t.Fatalf("env %+v", got)
		}
		// An env named under the wrong project or org is not found.
		_, err = w.member.Env(e.ctx, w.org, w.project, envID)
		wantProblem(t, err, api.PNotFound, "env under another project")
		_, err = w.member.Envs(e.ctx, w.org, ident.NewID(ident.Project), "", 0)
		wantProblem(t, err, api.PNotFound, "envs of an unknown project")
		stranger := e.login(addr("stranger"))
		other := ident.NewID(ident.Org)
		must(stranger.CreateOrg(e.ctx, api.CreateOrgRequest{ID: other, Name: "Other", KeyCheck: "00000000000000000000000000000000"}))
		_, err = stranger.Env(e.ctx, other, prj, envID)
		wantProblem(t, err, api.PNotFound, "env through another org")
		_, err = stranger.Project(e.ctx, other, prj)
		wantProblem(t, err, api.PNotFound, "project through another org")
		_, err = stranger.Projects(e.ctx, w.org, "", 0)
		wantProblem(t, err, api.PNotAMember, "stranger listing projects")
	})
}
