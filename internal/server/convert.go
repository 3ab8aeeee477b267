package server

import (
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/store"
)

// Conversions from store records to the wire objects of docs/api.md §2.
// Times are shown in UTC with whole seconds; absent values are null.

func apiUser(id, email string, created time.Time) api.User {
	return api.User{ID: id, Email: email, CreatedAt: ts(created)}
}

func apiSession(x store.Session, current bool) api.Session {
	return api.Session{
		ID: x.ID, Label: x.Label, CreatedAt: ts(x.CreatedAt), LastUsedAt: ts(x.LastSeenAt),
		IdleExpiresAt: ts(x.IdleExpiresAt), ExpiresAt: ts(x.ExpiresAt), Current: current,
	}
}

func apiOrg(o store.Org, role store.Role) api.Org {
	return api.Org{ID: o.ID, Name: o.Name, KeyCheck: o.KeyCheck, CreatedAt: ts(o.CreatedAt), Role: api.Role(role),
		OfflineGraceSeconds: int64(o.OfflineGrace / time.Second)}
}

func apiMember(m store.Member) api.Member {
	return api.Member{
		ID: m.UserID, Email: m.Email, Role: api.Role(m.Role), Status: string(m.Status),
		JoinedAt: ts(m.JoinedAt), RevokedAt: tsp(m.RevokedAt),
	}
}

func apiInvite(i store.Invite, now time.Time) api.Invite {
	out := api.Invite{
		ID: i.ID, Org: i.OrgID, Kind: string(i.Kind), Email: i.Email, Status: i.Status(now),
		CreatedBy: api.UserRef{ID: i.CreatedBy, Email: i.CreatedByEmail}, CreatedAt: ts(i.CreatedAt),
		ExpiresAt: ts(i.ExpiresAt), RedeemedAt: tsp(i.RedeemedAt), ConsumedAt: tsp(i.ConsumedAt), RevokedAt: tsp(i.RevokedAt),
	}
	if i.Kind == store.InviteMember {
		r := api.Role(i.Role)
		out.Role = &r
	}
	if i.RevokedReason != "" {
		r := i.RevokedReason
		out.RevokedReason = &r
	}
	return out
}

func apiProject(p store.Project) api.Project {
	return api.Project{
		ID: p.ID, Org: p.OrgID, Name: p.Name, CreatedAt: ts(p.CreatedAt),
		CreatedBy: api.UserRef{ID: p.CreatedBy, Email: p.CreatedByEmail},
	}
}

func apiEnv(e store.Env) api.Env {
	out := api.Env{
		ID: e.ID, Org: e.OrgID, Project: e.ProjectID, Name: e.Name, Epoch: uint32(e.Epoch),
		SigningPublicKey: api.Bytes(e.SigningKey), CreatedAt: ts(e.CreatedAt), RotatedAt: tsp(e.RotatedAt),
	}
	if e.HeadVersion > 0 {
		out.Head = &api.HeadRef{Version: uint64(e.HeadVersion), ID: e.HeadID}
	}
	return out
}

func apiBlobMeta(v store.Version) api.BlobMeta {
	return api.BlobMeta{
		Version: uint64(v.Version), ID: v.ID, Epoch: uint32(v.Epoch), Parent: v.ParentID, Size: int(v.Size),
		CreatedAt: ts(v.PushedAt), CreatedBy: api.UserRef{ID: v.PushedBy, Email: v.PushedByEmail},
	}
}

func apiBlob(v store.Version) api.Blob {
	return api.Blob{BlobMeta: apiBlobMeta(v), Text: string(v.Blob)}
}

func apiDeploy(d store.Deploy, now time.Time) api.Deploy {
	out := api.Deploy{
		ID: d.ID, Org: d.OrgID, Project: d.ProjectID, Env: d.EnvID, Epoch: uint32(d.Epoch), Name: d.Name,
		Status: d.Status(now), CreatedBy: api.UserRef{ID: d.MintedBy, Email: d.MintedByEmail}, CreatedAt: ts(d.CreatedAt),
		ExpiresAt: ts(d.ExpiresAt), LastUsedAt: tsp(d.LastUsedAt), RevokedAt: tsp(d.RevokedAt),
	}
	if d.RevokedReason != "" {
		r := d.RevokedReason
		out.RevokedReason = &r
	}
	return out
}

func apiHead(h store.AuditHead) api.AuditHead {
	return api.AuditHead{Seq: uint64(h.Seq), Hash: h.Hash}
}

func apiAudit(e store.AuditEvent) api.AuditEntry {
	return api.AuditEntry{
		Seq: uint64(e.Seq), Time: auditchain.FormatTime(e.Time), Actor: e.Actor,
		Action: e.Action, Target: e.Target, Result: e.Result, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

// nonNil returns s, or an empty slice for nil (lists are [] on the wire,
// never null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
