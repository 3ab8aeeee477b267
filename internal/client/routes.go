package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
)

func urlEscape(s string) string { return url.QueryEscape(s) }

// AuthStart asks the service to mail a login code.
func (c *Client) AuthStart(ctx context.Context, email string) (*api.AuthStartResponse, error) {
	var out api.AuthStartResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/auth/start", api.AuthStartRequest{Email: email}, &out, once)
}

// AuthVerify exchanges a login code for a session token.
func (c *Client) AuthVerify(ctx context.Context, email, code, label string) (*api.AuthVerifyResponse, error) {
	var out api.AuthVerifyResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/auth/verify", api.AuthVerifyRequest{Email: email, Code: code, Label: label}, &out, once)
}

// Logout revokes the calling session.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/auth/logout", nil, nil, retry)
}

// Me returns the caller and the calling session.
func (c *Client) Me(ctx context.Context) (*api.MeResponse, error) {
	var out api.MeResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/auth/me", nil, &out, retry)
}

// Sessions lists the caller's live sessions.
func (c *Client) Sessions(ctx context.Context, cursor string, limit int) (*api.List[api.Session], error) {
	var out api.List[api.Session]
	return &out, c.do(ctx, http.MethodGet, "/v1/auth/sessions"+pageQuery(cursor, limit), nil, &out, retry)
}

// RevokeSession revokes one of the caller's sessions.
func (c *Client) RevokeSession(ctx context.Context, id string) error {
	s, err := segment(ident.Session, id)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/v1/auth/sessions/"+s, nil, nil, retry)
}

// CreateOrg creates an org with a client-generated id.
func (c *Client) CreateOrg(ctx context.Context, req api.CreateOrgRequest) (*api.Org, error) {
	var out api.OrgResponse
	if err := c.do(ctx, http.MethodPost, "/v1/orgs", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Org, nil
}

// Orgs lists the caller's orgs.
func (c *Client) Orgs(ctx context.Context, cursor string, limit int) (*api.List[api.Org], error) {
	var out api.List[api.Org]
	return &out, c.do(ctx, http.MethodGet, "/v1/orgs"+pageQuery(cursor, limit), nil, &out, retry)
}

// Org returns one org.
func (c *Client) Org(ctx context.Context, org string) (*api.Org, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.OrgResponse
	if err := c.do(ctx, http.MethodGet, p, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Org, nil
}

// SetOrgPolicy sets an org's offline grace (admins and owners).
func (c *Client) SetOrgPolicy(ctx context.Context, org string, offlineGraceSeconds int64) (*api.Org, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.OrgResponse
	if err := c.do(ctx, http.MethodPut, p+"/policy", api.OrgPolicyRequest{OfflineGraceSeconds: offlineGraceSeconds}, &out, retry); err != nil {
		return nil, err
	}
	return &out.Org, nil
}

// Wrap outer-wraps the caller's key.enc inner layer.
func (c *Client) Wrap(ctx context.Context, org string, inner []byte) ([]byte, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.WrapResponse
	if err := c.do(ctx, http.MethodPost, p+"/wrap", api.WrapRequest{Purpose: "key", Inner: inner}, &out, retry); err != nil {
		return nil, err
	}
	return out.Outer, nil
}

// CoDecrypt strips the outer wrap of the caller's key.enc.
func (c *Client) CoDecrypt(ctx context.Context, org string, outer []byte) (*api.CoDecryptResponse, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.CoDecryptResponse
	return &out, c.do(ctx, http.MethodPost, p+"/co-decrypt", api.CoDecryptRequest{Outer: outer}, &out, retry)
}

// CreateInvite creates a member or device invite.
func (c *Client) CreateInvite(ctx context.Context, org string, req api.CreateInviteRequest) (*api.Invite, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.InviteResponse
	if err := c.do(ctx, http.MethodPost, p+"/invites", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Invite, nil
}

// Invites lists invites (status "open" or "all").
func (c *Client) Invites(ctx context.Context, org, status, cursor string, limit int) (*api.List[api.Invite], error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var extra []string
	if status != "" {
		extra = append(extra, "status="+urlEscape(status))
	}
	var out api.List[api.Invite]
	return &out, c.do(ctx, http.MethodGet, p+"/invites"+pageQuery(cursor, limit, extra...), nil, &out, retry)
}

// RevokeInvite revokes an open invite.
func (c *Client) RevokeInvite(ctx context.Context, org, invite string) (*api.Invite, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	i, err := segment(ident.Invite, invite)
	if err != nil {
		return nil, err
	}
	var out api.InviteResponse
	if err := c.do(ctx, http.MethodDelete, p+"/invites/"+i, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Invite, nil
}

// Redeem releases an invite's inner blob to the invitee.
func (c *Client) Redeem(ctx context.Context, invite string) (*api.RedeemResponse, error) {
	i, err := segment(ident.Invite, invite)
	if err != nil {
		return nil, err
	}
	var out api.RedeemResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/invites/"+i+"/redeem", nil, &out, retry)
}

// Members lists members; status "active", "revoked" or "all"; email filters.
func (c *Client) Members(ctx context.Context, org, status, email, cursor string, limit int) (*api.List[api.Member], error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var extra []string
	if status != "" {
		extra = append(extra, "status="+urlEscape(status))
	}
	if email != "" {
		extra = append(extra, "email="+urlEscape(email))
	}
	var out api.List[api.Member]
	return &out, c.do(ctx, http.MethodGet, p+"/members"+pageQuery(cursor, limit, extra...), nil, &out, retry)
}

// SetRole changes a member's role.
func (c *Client) SetRole(ctx context.Context, org, user string, role api.Role) (*api.Member, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	u, err := segment(ident.User, user)
	if err != nil {
		return nil, err
	}
	var out api.MemberResponse
	if err := c.do(ctx, http.MethodPut, p+"/members/"+u+"/role", api.SetRoleRequest{Role: role}, &out, retry); err != nil {
		return nil, err
	}
	return &out.Member, nil
}

// Kick revokes a membership and what hangs off it.
func (c *Client) Kick(ctx context.Context, org, user string, keepDeploys bool) (*api.KickResponse, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	u, err := segment(ident.User, user)
	if err != nil {
		return nil, err
	}
	var out api.KickResponse
	return &out, c.do(ctx, http.MethodPost, p+"/members/"+u+"/kick", api.KickRequest{KeepDeploys: keepDeploys}, &out, retry)
}

// CreateProject creates a project with a client-generated id.
func (c *Client) CreateProject(ctx context.Context, org string, req api.CreateProjectRequest) (*api.Project, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.ProjectResponse
	if err := c.do(ctx, http.MethodPost, p+"/projects", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Project, nil
}

// Projects lists an org's projects.
func (c *Client) Projects(ctx context.Context, org, cursor string, limit int) (*api.List[api.Project], error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.List[api.Project]
	return &out, c.do(ctx, http.MethodGet, p+"/projects"+pageQuery(cursor, limit), nil, &out, retry)
}

// Project returns one project.
func (c *Client) Project(ctx context.Context, org, prj string) (*api.Project, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	pr, err := segment(ident.Project, prj)
	if err != nil {
		return nil, err
	}
	var out api.ProjectResponse
	if err := c.do(ctx, http.MethodGet, p+"/projects/"+pr, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Project, nil
}

// CreateEnv creates an environment at epoch 1.
func (c *Client) CreateEnv(ctx context.Context, org, prj string, req api.CreateEnvRequest) (*api.Env, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	pr, err := segment(ident.Project, prj)
	if err != nil {
		return nil, err
	}
	var out api.EnvResponse
	if err := c.do(ctx, http.MethodPost, p+"/projects/"+pr+"/envs", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Env, nil
}

// Envs lists a project's environments.
func (c *Client) Envs(ctx context.Context, org, prj, cursor string, limit int) (*api.List[api.Env], error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	pr, err := segment(ident.Project, prj)
	if err != nil {
		return nil, err
	}
	var out api.List[api.Env]
	return &out, c.do(ctx, http.MethodGet, p+"/projects/"+pr+"/envs"+pageQuery(cursor, limit), nil, &out, retry)
}

// Env returns one environment.
func (c *Client) Env(ctx context.Context, org, prj, env string) (*api.Env, error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.EnvResponse
	if err := c.do(ctx, http.MethodGet, p, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Env, nil
}

// Rotate moves an environment to the next epoch.
func (c *Client) Rotate(ctx context.Context, org, prj, env string, req api.RotateRequest) (*api.RotateResponse, error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.RotateResponse
	return &out, c.do(ctx, http.MethodPost, p+"/rotate", req, &out, once)
}

// Head returns the environment's head blob, nil before the first push.
func (c *Client) Head(ctx context.Context, org, prj, env string) (*api.Blob, error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.HeadResponse
	if err := c.do(ctx, http.MethodGet, p+"/head", nil, &out, retry); err != nil {
		return nil, err
	}
	return out.Head, nil
}

// Versions lists an environment's versions, newest first.
func (c *Client) Versions(ctx context.Context, org, prj, env, cursor string, limit int) (*api.List[api.BlobMeta], error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.List[api.BlobMeta]
	return &out, c.do(ctx, http.MethodGet, p+"/versions"+pageQuery(cursor, limit), nil, &out, retry)
}

// Version returns one version of an environment.
func (c *Client) Version(ctx context.Context, org, prj, env string, version uint64) (*api.Blob, error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.BlobResponse
	if err := c.do(ctx, http.MethodGet, p+"/versions/"+strconv.FormatUint(version, 10), nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Blob, nil
}

// Push sends the next version. A version-conflict problem carries the
// current head.
func (c *Client) Push(ctx context.Context, org, prj, env, text string) (*api.PushResponse, error) {
	p, err := envPath(org, prj, env)
	if err != nil {
		return nil, err
	}
	var out api.PushResponse
	return &out, c.do(ctx, http.MethodPost, p+"/versions", api.PushRequest{Text: text}, &out, once)
}

// MintDeploy creates a deploy token.
func (c *Client) MintDeploy(ctx context.Context, org string, req api.MintDeployRequest) (*api.Deploy, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.DeployResponse
	if err := c.do(ctx, http.MethodPost, p+"/deploys", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Deploy, nil
}

// Deploys lists deploy tokens; env and createdBy filter when non-empty.
func (c *Client) Deploys(ctx context.Context, org, env, createdBy, status, cursor string, limit int) (*api.List[api.Deploy], error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var extra []string
	if env != "" {
		e, err := segment(ident.Env, env)
		if err != nil {
			return nil, err
		}
		extra = append(extra, "env="+e)
	}
	if createdBy != "" {
		u, err := segment(ident.User, createdBy)
		if err != nil {
			return nil, err
		}
		extra = append(extra, "created_by="+u)
	}
	if status != "" {
		extra = append(extra, "status="+urlEscape(status))
	}
	var out api.List[api.Deploy]
	return &out, c.do(ctx, http.MethodGet, p+"/deploys"+pageQuery(cursor, limit, extra...), nil, &out, retry)
}

// RevokeDeploy revokes a deploy token.
func (c *Client) RevokeDeploy(ctx context.Context, org, dep string) (*api.Deploy, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	d, err := segment(ident.Deploy, dep)
	if err != nil {
		return nil, err
	}
	var out api.DeployResponse
	if err := c.do(ctx, http.MethodDelete, p+"/deploys/"+d, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Deploy, nil
}

// DeployDecrypt presents a deploy auth key (no session needed).
func (c *Client) DeployDecrypt(ctx context.Context, dep string, authKey []byte) (*api.DeployDecryptResponse, error) {
	d, err := segment(ident.Deploy, dep)
	if err != nil {
		return nil, err
	}
	var out api.DeployDecryptResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/deploys/"+d+"/decrypt", api.DeployDecryptRequest{AuthKey: authKey}, &out, retry)
}

// Audit returns a page of an org's audit chain from fromSeq.
func (c *Client) Audit(ctx context.Context, org string, fromSeq uint64, cursor string, limit int) (*api.AuditListResponse, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var extra []string
	if fromSeq > 0 && cursor == "" {
		extra = append(extra, "from_seq="+strconv.FormatUint(fromSeq, 10))
	}
	var out api.AuditListResponse
	return &out, c.do(ctx, http.MethodGet, p+"/audit"+pageQuery(cursor, limit, extra...), nil, &out, retry)
}

// AuditVerify asks the service to recompute its chain.
func (c *Client) AuditVerify(ctx context.Context, org string) (*api.AuditVerifyResponse, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.AuditVerifyResponse
	return &out, c.do(ctx, http.MethodGet, p+"/audit/verify", nil, &out, retry)
}

// RecordAuditEvent reports an event of this machine (a split of the
// recovery phrase, a recovery) to the org's audit chain. A retry after a
// lost answer records it again, as a retried wrap is audited again.
func (c *Client) RecordAuditEvent(ctx context.Context, org string, req api.AuditEventRequest) (*api.AuditEventResponse, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.AuditEventResponse
	return &out, c.do(ctx, http.MethodPost, p+"/audit/events", req, &out, retry)
}

// ShareRequest returns a recipient's pending share request with its
// public key (which the caller must check against the request code).
func (c *Client) ShareRequest(ctx context.Context, id string) (*api.ShareRequest, error) {
	if err := ident.CheckShareID(id); err != nil {
		return nil, err
	}
	var out api.ShareRequestResponse
	if err := c.do(ctx, http.MethodGet, "/v1/share-requests/"+id, nil, &out, retry); err != nil {
		return nil, err
	}
	return &out.Request, nil
}

// CreateShare uploads a sealed share: the answer to a request or a new
// link share. Sent once: a retry of an answered request would be refused.
func (c *Client) CreateShare(ctx context.Context, org string, req api.CreateShareBody) (*api.Share, error) {
	p, err := orgPath(org)
	if err != nil {
		return nil, err
	}
	var out api.ShareResponse
	if err := c.do(ctx, http.MethodPost, p+"/shares", req, &out, once); err != nil {
		return nil, err
	}
	return &out.Share, nil
}
