package member

import (
	"context"
	"errors"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/sync"
	"github.com/capy-oss/capy/internal/workspace"
)

// Remote adapts the client to sync.Remote for one environment, and keeps
// the audit head a push answer carries.
type Remote struct {
	Client              *client.Client
	Home                *workspace.Home
	Org, Project, EnvID string
	Fixed               *api.Blob // CI: serve this head instead of asking (deploy decrypt answer)
}

// Head fetches the head.
func (r *Remote) Head(ctx context.Context) (*sync.RemoteBlob, error) {
	if r.Fixed != nil {
		return &sync.RemoteBlob{Version: r.Fixed.Version, Text: r.Fixed.Text}, nil
	}
	b, err := r.Client.Head(ctx, r.Org, r.Project, r.EnvID)
	if err != nil || b == nil {
		return nil, err
	}
	return &sync.RemoteBlob{Version: b.Version, Text: b.Text}, nil
}

// Version fetches one version.
func (r *Remote) Version(ctx context.Context, v uint64) (*sync.RemoteBlob, error) {
	if r.Fixed != nil {
		return nil, errors.New("a deploy key can read only the head")
	}
	b, err := r.Client.Version(ctx, r.Org, r.Project, r.EnvID, v)
	if err != nil {
		return nil, err
	}
	return &sync.RemoteBlob{Version: b.Version, Text: b.Text}, nil
}

// Push sends the next version.
func (r *Remote) Push(ctx context.Context, text string) error {
	if r.Fixed != nil {
		return sync.ErrReadOnly
	}
	res, err := r.Client.Push(ctx, r.Org, r.Project, r.EnvID, text)
	if client.Is(err, api.PVersionConflict) {
		return sync.ErrVersionConflict
	}
	if err != nil {
		return err
	}
	if r.Home != nil {
		return r.Home.RecordAuditHead(r.Org, workspace.AuditHead(res.AuditHead))
	}
	return nil
}
