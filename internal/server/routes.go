package server

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// Route patterns that code refers to.
const envBase = "/v1/orgs/{org}/projects/{prj}/envs/{env}"

var (
	idsOrg     = map[string]ident.Kind{"org": ident.Org}
	idsProject = map[string]ident.Kind{"org": ident.Org, "prj": ident.Project}
	idsEnv     = map[string]ident.Kind{"org": ident.Org, "prj": ident.Project, "env": ident.Env}
)

// params are the query parameters a route defines (docs/api.md §1.5);
// run refuses every other one, so a route that lists none takes none.
type params []string

// paged are the parameters of every list (docs/api.md §1.6).
var paged = params{"limit", "cursor"}

// and returns p with more parameters (a fresh slice, so paged is never
// appended to in place).
func (p params) and(more ...string) params {
	return append(append(params{}, p...), more...)
}

func with(m map[string]ident.Kind, name string, k ident.Kind) map[string]ident.Kind {
	out := map[string]ident.Kind{name: k}
	for n, v := range m {
		out[n] = v
	}
	return out
}

// routes is the route table of docs/api.md §3 (public) or of the
// operations listener.
func (s *Server) routes(public bool) []route {
	health := s.healthz
	if !public {
		health = s.opsHealthz
	}
	ops := []route{
		{method: http.MethodGet, pattern: "/healthz", h: health},
		{method: http.MethodGet, pattern: "/readyz", h: s.readyz},
	}
	if !public {
		metrics := promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
		return append(ops, route{method: http.MethodGet, pattern: "/metrics", h: func(c *call) error {
			metrics.ServeHTTP(c.w, c.r)
			return nil
		}})
	}
	S, M := authSession, true
	return append(ops, []route{
		// Auth.
		{method: "POST", pattern: "/v1/auth/start", limit: limitSmall, ipLimit: bucketAuthStartIP, console: true, h: s.authStart},
		{method: "POST", pattern: "/v1/auth/verify", limit: limitSmall, ipLimit: bucketAuthVerifyIP, h: s.authVerify},
		{method: "POST", pattern: "/v1/auth/logout", auth: S, h: s.logout},
		{method: "GET", pattern: "/v1/auth/me", auth: S, h: s.me},
		// The web console's session (console.go): sign in with a login code
		// into an HttpOnly cookie, who is signed in, sign out.
		{method: "POST", pattern: "/v1/console/session", limit: limitSmall, ipLimit: bucketAuthVerifyIP, console: true, h: s.consoleLogin},
		{method: "GET", pattern: "/v1/console/session", auth: S, console: true, h: s.consoleSession},
		{method: "DELETE", pattern: "/v1/console/session", auth: S, console: true, h: s.consoleLogout},
		{method: "GET", pattern: "/v1/auth/sessions", query: paged, auth: S, console: true, h: s.listSessions},
		{method: "DELETE", pattern: "/v1/auth/sessions/{session}", ids: map[string]ident.Kind{"session": ident.Session}, auth: S, console: true, h: s.revokeSession},
		// Orgs.
		{method: "POST", pattern: "/v1/orgs", limit: limitOther, auth: S, h: s.createOrg},
		{method: "GET", pattern: "/v1/orgs", query: paged, auth: S, console: true, h: s.listOrgs},
		{method: "GET", pattern: "/v1/orgs/{org}", ids: idsOrg, auth: S, org: M, console: true, h: s.getOrg},
		{method: "PUT", pattern: "/v1/orgs/{org}/policy", ids: idsOrg, limit: limitOther, auth: S, org: M, role: store.RoleAdmin, h: s.setOrgPolicy},
		// Keys.
		{method: "POST", pattern: "/v1/orgs/{org}/wrap", ids: idsOrg, limit: limitOther, auth: S, org: M, ipLimit: bucketKeysIP, h: s.wrapKey},
		{method: "POST", pattern: "/v1/orgs/{org}/co-decrypt", ids: idsOrg, limit: limitOther, auth: S, org: M, gated: true, ipLimit: bucketKeysIP, h: s.coDecrypt},
		// Invites.
		{method: "POST", pattern: "/v1/orgs/{org}/invites", ids: idsOrg, limit: limitOther, auth: S, org: M, h: s.createInvite},
		{method: "GET", pattern: "/v1/orgs/{org}/invites", ids: idsOrg, query: paged.and("status"), auth: S, org: M, console: true, h: s.listInvites},
		{method: "DELETE", pattern: "/v1/orgs/{org}/invites/{invite}", ids: with(idsOrg, "invite", ident.Invite), auth: S, org: M, console: true, h: s.revokeInvite},
		{method: "POST", pattern: "/v1/invites/{invite}/redeem", ids: map[string]ident.Kind{"invite": ident.Invite}, auth: S, ipLimit: bucketRedeemIP, h: s.redeem},
		// Members.
		{method: "GET", pattern: "/v1/orgs/{org}/members", ids: idsOrg, query: paged.and("status", "email"), auth: S, org: M, console: true, h: s.listMembers},
		{method: "PUT", pattern: "/v1/orgs/{org}/members/{user}/role", ids: with(idsOrg, "user", ident.User), limit: limitOther, auth: S, org: M, role: store.RoleOwner, console: true, h: s.setRole},
		{method: "POST", pattern: "/v1/orgs/{org}/members/{user}/kick", ids: with(idsOrg, "user", ident.User), limit: limitOther, auth: S, org: M, role: store.RoleAdmin, console: true, h: s.kick},
		// Projects and environments.
		{method: "POST", pattern: "/v1/orgs/{org}/projects", ids: idsOrg, limit: limitOther, auth: S, org: M, h: s.createProject},
		{method: "GET", pattern: "/v1/orgs/{org}/projects", ids: idsOrg, query: paged, auth: S, org: M, console: true, h: s.listProjects},
		{method: "GET", pattern: "/v1/orgs/{org}/projects/{prj}", ids: idsProject, auth: S, org: M, console: true, h: s.getProject},
		{method: "POST", pattern: "/v1/orgs/{org}/projects/{prj}/envs", ids: idsProject, limit: limitOther, auth: S, org: M, h: s.createEnv},
		{method: "GET", pattern: "/v1/orgs/{org}/projects/{prj}/envs", ids: idsProject, query: paged, auth: S, org: M, console: true, h: s.listEnvs},
		{method: "GET", pattern: envBase, ids: idsEnv, auth: S, org: M, console: true, h: s.getEnv},
		{method: "POST", pattern: envBase + "/rotate", ids: idsEnv, limit: limitBlob, auth: S, org: M, role: store.RoleAdmin, h: s.rotate},
		{method: "GET", pattern: envBase + "/head", ids: idsEnv, auth: S, org: M, h: s.head},
		{method: "GET", pattern: envBase + "/versions", ids: idsEnv, query: paged, auth: S, org: M, console: true, h: s.listVersions},
		{method: "GET", pattern: envBase + "/versions/{n}", ids: idsEnv, auth: S, org: M, h: s.getVersion},
		{method: "POST", pattern: envBase + "/versions", ids: idsEnv, limit: limitBlob, auth: S, org: M, h: s.push},
		// Deploy tokens.
		{method: "POST", pattern: "/v1/orgs/{org}/deploys", ids: idsOrg, limit: limitOther, auth: S, org: M, role: store.RoleAdmin, h: s.mintDeploy},
		{method: "GET", pattern: "/v1/orgs/{org}/deploys", ids: idsOrg, query: paged.and("env", "created_by", "status"), auth: S, org: M, role: store.RoleAdmin, console: true, h: s.listDeploys},
		{method: "DELETE", pattern: "/v1/orgs/{org}/deploys/{dep}", ids: with(idsOrg, "dep", ident.Deploy), auth: S, org: M, role: store.RoleAdmin, console: true, h: s.revokeDeploy},
		{method: "POST", pattern: "/v1/deploys/{dep}/decrypt", ids: map[string]ident.Kind{"dep": ident.Deploy}, limit: limitSmall, ipLimit: bucketDeployIP, h: s.deployDecrypt},
		// Audit.
		{method: "GET", pattern: "/v1/orgs/{org}/audit", ids: idsOrg, query: paged.and("from_seq"), auth: S, org: M, role: store.RoleAdmin, console: true, h: s.listAudit},
		{method: "GET", pattern: "/v1/orgs/{org}/audit/verify", ids: idsOrg, auth: S, org: M, role: store.RoleAdmin, console: true, h: s.verifyAudit},
		{method: "POST", pattern: "/v1/orgs/{org}/audit/events", ids: idsOrg, limit: limitOther, auth: S, org: M, ipLimit: bucketKeysIP, h: s.recordEvent},
		// One-time shares: the recipient's routes take no session.
		{method: "POST", pattern: "/v1/share-requests", limit: limitSmall, ipLimit: bucketShareRequestIP, h: s.createShareRequest},
		{method: "GET", pattern: "/v1/share-requests/{share}", share: true, auth: S, ipLimit: bucketShareIP, h: s.getShareRequest},
		{method: "POST", pattern: "/v1/orgs/{org}/shares", ids: idsOrg, limit: limitOther, auth: S, org: M, ipLimit: bucketShareIP, h: s.createShare},
		{method: "POST", pattern: "/v1/shares/{share}/open", share: true, ipLimit: bucketShareOpenIP, h: s.openShare},
	}...)
}
