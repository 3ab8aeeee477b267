package api

import "time"

// Request and response bodies, one pair per route (docs/api.md §4).

// AuthStartRequest is POST /v1/auth/start.
type AuthStartRequest struct {
	Email string `json:"email"`
}

// AuthStartResponse answers it.
type AuthStartResponse struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// AuthVerifyRequest is POST /v1/auth/verify.
type AuthVerifyRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
	Label string `json:"label"`
}

// AuthVerifyResponse carries the session token, shown only here.
type AuthVerifyResponse struct {
	Token   string  `json:"token"`
	User    User    `json:"user"`
	Session Session `json:"session"`
}

// MeResponse is GET /v1/auth/me.
type MeResponse struct {
	User    User    `json:"user"`
	Session Session `json:"session"`
	// MayCreateOrgs says whether the operator lets this account create
	// organisations (docs/server.md "Operator controls"); nil from a
	// service that predates it.
	MayCreateOrgs *bool `json:"may_create_orgs,omitempty"`
}

// CreateOrgRequest is POST /v1/orgs.
type CreateOrgRequest struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	KeyCheck string `json:"key_check"`
}

// OrgResponse wraps one org.
type OrgResponse struct {
	Org Org `json:"org"`
}

// WrapRequest is POST /v1/orgs/{org}/wrap.
type WrapRequest struct {
	Purpose string `json:"purpose"`
	Inner   Bytes  `json:"inner"`
}

// WrapResponse answers it.
type WrapResponse struct {
	Outer Bytes `json:"outer"`
}

// CoDecryptRequest is POST /v1/orgs/{org}/co-decrypt.
type CoDecryptRequest struct {
	Outer Bytes `json:"outer"`
}

// CoDecryptResponse answers it; Rewrapped is set when the blob used an
// older KEK and should replace key.enc.
type CoDecryptResponse struct {
	Inner     Bytes     `json:"inner"`
	Rewrapped Bytes     `json:"rewrapped"`
	AuditHead AuditHead `json:"audit_head"`
	// OfflineGraceSeconds is the org's offline grace as the gate read it
	// (0: off): the client keeps the environment keys it unlocks only
	// while this is on, and wipes them when it is off or shorter.
	OfflineGraceSeconds int64 `json:"offline_grace_seconds"`
}

// OrgPolicyRequest is PUT /v1/orgs/{org}/policy.
type OrgPolicyRequest struct {
	OfflineGraceSeconds int64 `json:"offline_grace_seconds"`
}

// CreateInviteRequest is POST /v1/orgs/{org}/invites.
type CreateInviteRequest struct {
	Kind       string `json:"kind"`
	Email      string `json:"email"`
	Role       *Role  `json:"role,omitempty"`
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
	Inner      Bytes  `json:"inner"`
}

// InviteResponse wraps one invite.
type InviteResponse struct {
	Invite Invite `json:"invite"`
}

// RedeemResponse is POST /v1/invites/{invite}/redeem.
type RedeemResponse struct {
	Inner  Bytes  `json:"inner"`
	Invite Invite `json:"invite"`
	Org    Org    `json:"org"`
}

// SetRoleRequest is PUT …/members/{user}/role.
type SetRoleRequest struct {
	Role Role `json:"role"`
}

// MemberResponse wraps one member.
type MemberResponse struct {
	Member Member `json:"member"`
}

// KickRequest is POST …/members/{user}/kick.
type KickRequest struct {
	KeepDeploys bool `json:"keep_deploys,omitempty"`
}

// KickResponse lists what the kick revoked.
type KickResponse struct {
	Member         Member   `json:"member"`
	RevokedInvites []string `json:"revoked_invites"`
	RevokedDeploys []string `json:"revoked_deploys"`
	KeptDeploys    []string `json:"kept_deploys"`
}

// CreateProjectRequest is POST /v1/orgs/{org}/projects.
type CreateProjectRequest struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ProjectResponse wraps one project.
type ProjectResponse struct {
	Project Project `json:"project"`
}

// CreateEnvRequest is POST …/projects/{prj}/envs.
type CreateEnvRequest struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	SigningPublicKey Bytes  `json:"signing_public_key"`
}

// EnvResponse wraps one environment.
type EnvResponse struct {
	Env Env `json:"env"`
}

// RotateRequest is POST …/envs/{env}/rotate.
type RotateRequest struct {
	Epoch            uint32 `json:"epoch"`
	SigningPublicKey Bytes  `json:"signing_public_key"`
	Text             string `json:"text"`
}

// RotateResponse answers it.
type RotateResponse struct {
	Env            Env       `json:"env"`
	Blob           BlobMeta  `json:"blob"`
	RevokedDeploys []string  `json:"revoked_deploys"`
	AuditHead      AuditHead `json:"audit_head"`
}

// HeadResponse is GET …/envs/{env}/head; Head is nil before the first push.
type HeadResponse struct {
	Head *Blob `json:"head"`
}

// BlobResponse is GET …/versions/{n}.
type BlobResponse struct {
	Blob Blob `json:"blob"`
}

// PushRequest is POST …/envs/{env}/versions.
type PushRequest struct {
	Text string `json:"text"`
}

// PushResponse answers it.
type PushResponse struct {
	Blob      BlobMeta  `json:"blob"`
	AuditHead AuditHead `json:"audit_head"`
}

// MintDeployRequest is POST /v1/orgs/{org}/deploys.
type MintDeployRequest struct {
	Env        string `json:"env"`
	Epoch      uint32 `json:"epoch"`
	Name       string `json:"name"`
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
	Verifier   string `json:"verifier"`
	Inner      Bytes  `json:"inner"`
}

// DeployResponse wraps one deploy token.
type DeployResponse struct {
	Deploy Deploy `json:"deploy"`
}

// DeployDecryptRequest is POST /v1/deploys/{dep}/decrypt.
type DeployDecryptRequest struct {
	AuthKey Bytes `json:"auth_key"`
}

// DeployEnv is the environment part of a deploy decrypt answer.
type DeployEnv struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Epoch            uint32 `json:"epoch"`
	SigningPublicKey Bytes  `json:"signing_public_key"`
}

// DeployDecryptResponse answers a deploy decrypt.
type DeployDecryptResponse struct {
	Inner     Bytes     `json:"inner"`
	Org       string    `json:"org"`
	Project   string    `json:"project"`
	Env       DeployEnv `json:"env"`
	Head      *Blob     `json:"head"`
	ExpiresAt time.Time `json:"expires_at"`
}

// AuditListResponse is GET /v1/orgs/{org}/audit.
type AuditListResponse struct {
	Items      []AuditEntry `json:"items"`
	NextCursor *string      `json:"next_cursor"`
	Head       AuditHead    `json:"head"`
}

// AuditEventRequest is POST /v1/orgs/{org}/audit/events: an event that
// happened on the member's machine (docs/api.md §4.9), in fixed fields.
type AuditEventRequest struct {
	Action string `json:"action"`           // "recovery-split" or "recover"
	Set    string `json:"set,omitempty"`    // the SLIP-39 share set: 4 lowercase hex digits
	Scheme string `json:"scheme,omitempty"` // recovery-split: "2-of-3" or "2:2-of-3,1-of-1"
	From   string `json:"from,omitempty"`   // recover: "phrase" or "shares"
}

// Audit event actions a client reports.
const (
	EventRecoverySplit = "recovery-split"
	EventRecover       = "recover"
)

// AuditEventResponse answers it with the head after the event's row.
type AuditEventResponse struct {
	AuditHead AuditHead `json:"audit_head"`
}

// AuditVerifyResponse is GET /v1/orgs/{org}/audit/verify.
type AuditVerifyResponse struct {
	Valid       bool      `json:"valid"`
	Rows        uint64    `json:"rows"`
	Head        AuditHead `json:"head"`
	FirstBadSeq *uint64   `json:"first_bad_seq"`
}

// Share kinds and states (docs/api.md §4.11).
const (
	ShareKindRequest  = "request"
	ShareKindLink     = "link"
	ShareStatePending = "pending"
	ShareStateReady   = "ready"
	ShareStateOpened  = "opened"
)

// CreateShareRequestRequest is POST /v1/share-requests: the recipient's
// page registers its public key (SPKI DER).
type CreateShareRequestRequest struct {
	PublicKey Bytes `json:"public_key"`
}

// ShareRequest is a recipient's pending request: POST /v1/share-requests
// and GET /v1/share-requests/{share}.
type ShareRequest struct {
	ID        string    `json:"id"`
	PublicKey Bytes     `json:"public_key"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ShareRequestResponse wraps one request.
type ShareRequestResponse struct {
	Request ShareRequest `json:"request"`
}

// CreateShareBody is POST /v1/orgs/{org}/shares: a member's sealed share,
// answering a request (kind request, id the request's) or a new link
// share (kind link, id made by the client).
type CreateShareBody struct {
	ID         string `json:"id"`
	Kind       string `json:"kind"`
	Blob       Bytes  `json:"blob"`
	Views      *int   `json:"views,omitempty"`
	TTLSeconds *int64 `json:"ttl_seconds,omitempty"`
}

// Share is a share's metadata (never its blob or key).
type Share struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	ViewsLeft int       `json:"views_left"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ShareResponse wraps one share.
type ShareResponse struct {
	Share Share `json:"share"`
}

// OpenShareResponse is POST /v1/shares/{share}/open: a pending request
// (no blob yet), or the sealed blob of a share with one view spent.
type OpenShareResponse struct {
	State     string    `json:"state"`
	Kind      string    `json:"kind"`
	Blob      Bytes     `json:"blob,omitempty"`
	ViewsLeft int       `json:"views_left"`
	ExpiresAt time.Time `json:"expires_at"`
}
