// Package api defines the wire types of capy's HTTP API (docs/api.md):
// request and response bodies, objects, and problem types. The service and
// the client both use it, so the two cannot drift apart silently. It holds
// no logic beyond encoding.
package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/wrap"
)

// Bytes is binary data carried as strict base64url without padding.
type Bytes []byte

// MarshalJSON encodes b as a b64u string, or null when b is nil.
func (b Bytes) MarshalJSON() ([]byte, error) {
	if b == nil {
		return []byte("null"), nil
	}
	return json.Marshal(wrap.B64.EncodeToString(b))
}

// UnmarshalJSON decodes a strict b64u string; null leaves b nil.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*b = nil
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("want a base64url string")
	}
	raw, err := wrap.DecodeB64(s)
	if err != nil {
		return fmt.Errorf("not strict base64url without padding")
	}
	*b = raw
	return nil
}

// Role is an org role.
type Role string

// Roles, strongest first.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// Rank orders roles: owner 3, admin 2, member 1, anything else 0.
func (r Role) Rank() int {
	switch r {
	case RoleOwner:
		return 3
	case RoleAdmin:
		return 2
	case RoleMember:
		return 1
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.Rank() > 0 }

// UserRef names a user.
type UserRef struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// User is an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// Session is one signed-in machine.
type Session struct {
	ID            string    `json:"id"`
	Label         string    `json:"label"`
	CreatedAt     time.Time `json:"created_at"`
	LastUsedAt    time.Time `json:"last_used_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	Current       bool      `json:"current"`
}

// Org is an organisation as seen by one member.
type Org struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	KeyCheck  string    `json:"key_check"`
	CreatedAt time.Time `json:"created_at"`
	Role      Role      `json:"role"`
	// OfflineGraceSeconds is the org's offline grace (0: off; at most
	// 604800, 7 days).
	OfflineGraceSeconds int64 `json:"offline_grace_seconds"`
}

// Member is a membership.
type Member struct {
	ID        string     `json:"id"`
	Email     string     `json:"email"`
	Role      Role       `json:"role"`
	Status    string     `json:"status"` // active | revoked
	JoinedAt  time.Time  `json:"joined_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

// Membership statuses.
const (
	MemberActive  = "active"
	MemberRevoked = "revoked"
)

// Invite kinds and statuses.
const (
	InviteMember = "member"
	InviteDevice = "device"

	InvitePending  = "pending"
	InviteRedeemed = "redeemed"
	InviteConsumed = "consumed"
	InviteRevoked  = "revoked"
	InviteExpired  = "expired"
)

// Invite is a member or device invite.
type Invite struct {
	ID            string     `json:"id"`
	Org           string     `json:"org"`
	Kind          string     `json:"kind"`
	Email         string     `json:"email"`
	Role          *Role      `json:"role"`
	Status        string     `json:"status"`
	CreatedBy     UserRef    `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	RedeemedAt    *time.Time `json:"redeemed_at"`
	ConsumedAt    *time.Time `json:"consumed_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason *string    `json:"revoked_reason"`
}

// Project is a project of an org.
type Project struct {
	ID        string    `json:"id"`
	Org       string    `json:"org"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy UserRef   `json:"created_by"`
}

// HeadRef names an environment's head blob.
type HeadRef struct {
	Version uint64 `json:"version"`
	ID      string `json:"id"`
}

// Env is an environment.
type Env struct {
	ID               string     `json:"id"`
	Org              string     `json:"org"`
	Project          string     `json:"project"`
	Name             string     `json:"name"`
	Epoch            uint32     `json:"epoch"`
	SigningPublicKey Bytes      `json:"signing_public_key"`
	Head             *HeadRef   `json:"head"`
	CreatedAt        time.Time  `json:"created_at"`
	RotatedAt        *time.Time `json:"rotated_at"`
}

// BlobMeta describes one version of an environment.
type BlobMeta struct {
	Version   uint64    `json:"version"`
	ID        string    `json:"id"`
	Epoch     uint32    `json:"epoch"`
	Parent    string    `json:"parent"`
	Size      int       `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy UserRef   `json:"created_by"`
}

// Blob is a version with its text.
type Blob struct {
	BlobMeta
	Text string `json:"text"`
}

// Deploy statuses and revocation reasons.
const (
	DeployActive  = "active"
	DeployRevoked = "revoked"
	DeployExpired = "expired"

	ReasonManual = "manual"
	ReasonKick   = "kick"
	ReasonRotate = "rotate"
)

// Deploy is a deploy token (never its secret).
type Deploy struct {
	ID            string     `json:"id"`
	Org           string     `json:"org"`
	Project       string     `json:"project"`
	Env           string     `json:"env"`
	Epoch         uint32     `json:"epoch"`
	Name          string     `json:"name"`
	Status        string     `json:"status"`
	CreatedBy     UserRef    `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	RevokedAt     *time.Time `json:"revoked_at"`
	RevokedReason *string    `json:"revoked_reason"`
}

// AuditHead is the newest row of an org's audit chain.
type AuditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// AuditEntry is one audit row.
type AuditEntry struct {
	Seq      uint64 `json:"seq"`
	Time     string `json:"time"`
	Actor    string `json:"actor"`
	Action   string `json:"action"`
	Target   string `json:"target"`
	Result   string `json:"result"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// List is a page of a list.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}
