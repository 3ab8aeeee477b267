package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/share"
)

// ShareOptions are a one-time share's choices (`capy share`).
type ShareOptions struct {
	Env   string   // --env; "" is the current environment
	Names []string // the variables to share, in this order
	// To is the recipient's request code (the share page shows it);
	// empty with Link.
	To   string
	Link bool
	// Views is a link's number of views (0: one).
	Views int
	// Expires is the share's lifetime (0: the service's default, 24 h).
	Expires time.Duration
}

// ShareResult is what was shared: names, never values. URL (a link
// share) carries the data key in its fragment: it is the secret.
type ShareResult struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Names     []string  `json:"names"`
	URL       string    `json:"url,omitempty"`
	Views     int       `json:"views"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Share limits the CLI checks before it asks the service.
const (
	ShareMaxExpires = 7 * 24 * time.Hour
	ShareMinExpires = time.Minute
	ShareMaxViews   = 100
)

// Share seals values of an environment for one recipient's browser and
// uploads them. With To, the recipient's request is fetched first and its
// public key checked against the code's fingerprint (internal/share): a
// key the service swapped is refused before any value is read, and
// nothing is uploaded. Values are read as `capy get` reads them (the key
// source of readKeys, from .env); a member's session uploads.
func (p *Project) Share(ctx context.Context, o ShareOptions) (*ShareResult, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	a, err := p.Account()
	if err != nil {
		return nil, err
	}
	res := &ShareResult{Kind: api.ShareKindLink, Views: o.Views}
	var seal func([]share.Entry) ([]byte, error)
	if o.Link {
		res.ID = ident.NewShareID()
		seal = func(entries []share.Entry) ([]byte, error) {
			blob, key, err := share.SealForLink(res.ID, entries)
			if err == nil {
				res.URL = share.LinkURL(p.Repo.Project.Service, res.ID, key)
			}
			return blob, err
		}
	} else {
		code, err := share.ParseCode(o.To)
		if err != nil {
			return nil, refuse(err, "usage", "copy the code the recipient's share page shows (…/share on the service)")
		}
		req, err := a.Client.ShareRequest(ctx, code.ID)
		if err != nil {
			return nil, err
		}
		pub, err := share.CheckRequestKey(code, req.ID, req.PublicKey)
		if err != nil {
			return nil, refuse(err, "share-key-mismatch",
				"nothing was read or uploaded; check the code with the recipient (a typo, or a service that answered with another key)")
		}
		res.ID, res.Kind, res.Views = code.ID, api.ShareKindRequest, 1
		seal = func(entries []share.Entry) ([]byte, error) { return share.SealForRequest(code.ID, pub, entries) }
	}
	vars, err := p.Values(ctx, o.Env, false, "")
	if err != nil {
		return nil, err
	}
	byName := make(map[string]string, len(vars))
	for _, v := range vars {
		byName[v.Name] = v.Value
	}
	entries := make([]share.Entry, 0, len(o.Names))
	for _, n := range o.Names {
		v, ok := byName[n]
		if !ok {
			return nil, refuse(fmt.Errorf("%s is not set in this environment", n), "not-set", "see `capy ls`")
		}
		entries = append(entries, share.Entry{Name: n, Value: v})
	}
	blob, err := seal(entries)
	if errors.Is(err, share.ErrTooMuch) {
		return nil, refuse(err, "usage", "share fewer or shorter values at once")
	}
	if err != nil {
		return nil, err
	}
	body := api.CreateShareBody{ID: res.ID, Kind: res.Kind, Blob: blob}
	if o.Link {
		body.Views = &o.Views
	}
	if o.Expires > 0 {
		s := int64(o.Expires / time.Second)
		body.TTLSeconds = &s
	}
	got, err := a.Client.CreateShare(ctx, p.Repo.Project.Org, body)
	if err != nil {
		return nil, err
	}
	res.Names, res.ExpiresAt = o.Names, got.ExpiresAt
	return res, nil
}

// Check refuses options that make no share (a usage error) and fills in
// the defaults; the CLI calls it before it opens anything.
func (o *ShareOptions) Check() error {
	if len(o.Names) == 0 {
		return refuse(errors.New("name at least one variable to share"), "usage", "capy share NAME [NAME…] --to CODE, or --link")
	}
	seen := map[string]bool{}
	for _, n := range o.Names {
		if err := ident.CheckName(n); err != nil {
			return refuse(err, "usage", "")
		}
		if seen[n] {
			return refuse(fmt.Errorf("%s is named twice", n), "usage", "")
		}
		seen[n] = true
	}
	switch {
	case o.Link == (o.To != ""):
		return refuse(errors.New("share needs either --to CODE (the recipient's request code) or --link"), "usage", "")
	case !o.Link && o.Views != 0:
		return refuse(errors.New("--views is for --link; an answered request is opened once"), "usage", "")
	case o.Views < 0 || o.Views > ShareMaxViews:
		return refuse(fmt.Errorf("--views must be from 1 to %d", ShareMaxViews), "usage", "")
	case o.Expires != 0 && (o.Expires < ShareMinExpires || o.Expires > ShareMaxExpires):
		return refuse(errors.New("--expires must be from 1m to 168h (7 days)"), "usage", "")
	}
	if o.Link && o.Views == 0 {
		o.Views = 1
	}
	return nil
}
