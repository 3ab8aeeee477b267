package member

import (
	"context"
	"errors"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/workspace"
)

// Remote adapts the client to envsync.Remote for one environment, and keeps
// the audit head a push answer carries.
type Remote struct {
	Client              *client.Client
	Home                *workspace.Home
	Org, Project, EnvID string
	Fixed               *api.Blob // CI: serve this head instead of asking (deploy decrypt answer)
	// HeadOnly means Fixed is the only head there is, nil included (an
	// environment with no versions yet): a deploy code has no session, so
	// asking the service again could only fail as "not authenticated".
	HeadOnly bool

	prefetched chan headResult // see Prefetch
}

type headResult struct {
	b   *envsync.RemoteBlob
	err error
}

// Prefetch starts fetching the head in the background, so that the
// request overlaps other work (the co-decrypt of the unlock, which the
// head does not depend on); the next Head call returns that answer, later
// ones ask again. The answer is verified like any other by whoever uses
// it. If Head is never called, the answer is dropped.
func (r *Remote) Prefetch(ctx context.Context) {
	if r.Fixed != nil || r.HeadOnly || r.prefetched != nil {
		return
	}
	ch := make(chan headResult, 1)
	r.prefetched = ch
	go func() {
		b, err := r.fetchHead(ctx)
		ch <- headResult{b, err}
	}()
}

// Head fetches the head.
func (r *Remote) Head(ctx context.Context) (*envsync.RemoteBlob, error) {
	if r.Fixed != nil {
		return &envsync.RemoteBlob{Version: r.Fixed.Version, Text: r.Fixed.Text}, nil
	}
	if r.HeadOnly {
		return nil, nil
	}
	if ch := r.prefetched; ch != nil {
		r.prefetched = nil
		select {
		case res := <-ch:
			return res.b, res.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return r.fetchHead(ctx)
}

func (r *Remote) fetchHead(ctx context.Context) (*envsync.RemoteBlob, error) {
	b, err := r.Client.Head(ctx, r.Org, r.Project, r.EnvID)
	if err != nil || b == nil {
		return nil, err
	}
	return &envsync.RemoteBlob{Version: b.Version, Text: b.Text}, nil
}

// Version fetches one version.
func (r *Remote) Version(ctx context.Context, v uint64) (*envsync.RemoteBlob, error) {
	if r.Fixed != nil || r.HeadOnly {
		return nil, errors.New("a deploy key can read only the head")
	}
	b, err := r.Client.Version(ctx, r.Org, r.Project, r.EnvID, v)
	if err != nil {
		return nil, err
	}
	return &envsync.RemoteBlob{Version: b.Version, Text: b.Text}, nil
}

// Push sends the next version.
func (r *Remote) Push(ctx context.Context, text string) error {
	if r.Fixed != nil || r.HeadOnly {
		return envsync.ErrReadOnly
	}
	if r.Home != nil {
		// A deferred write of the unlock's audit head that failed stops
		// the sync before it changes anything on the service.
		if err := r.Home.Flush(); err != nil {
			return err
		}
	}
	res, err := r.Client.Push(ctx, r.Org, r.Project, r.EnvID, text)
	if client.Is(err, api.PVersionConflict) {
		return envsync.ErrVersionConflict
	}
	if err != nil {
		return err
	}
	if r.Home != nil {
		return r.Home.Org(r.Client.BaseURL(), r.Org).RecordAuditHead(workspace.AuditHead(res.AuditHead))
	}
	return nil
}
