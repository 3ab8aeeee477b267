package server

import (
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net/http"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// Share lifetimes and sizes (docs/api.md §4.11).
const (
	shareTTLMin       = 60
	shareTTLDefault   = int64(store.ShareDefaultTTL / time.Second)
	shareTTLMax       = int64(store.ShareMaxTTL / time.Second)
	sharePublicKeyMax = 1024
	// shareBlobMax is internal/share's MaxBlobBytes: the service checks
	// only the size of what it keeps, never its contents.
	shareBlobMax = 46 << 10
)

// checkSharePublicKey accepts what the share page makes: an RSA-2048 key
// with exponent 65537 as SPKI DER. The service does not need the key; it
// refuses others so that it stores nothing but keys (a client checks the
// key against the request code's fingerprint, internal/share).
func checkSharePublicKey(spki []byte) error {
	if len(spki) == 0 || len(spki) > sharePublicKeyMax {
		return invalidField("public_key", "must be an RSA-2048 public key (SPKI DER)")
	}
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return invalidField("public_key", "must be an RSA-2048 public key (SPKI DER)")
	}
	if pub, ok := k.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 || pub.E != 65537 {
		return invalidField("public_key", "must be an RSA-2048 public key with exponent 65537")
	}
	return nil
}

func (s *Server) createShareRequest(c *call) error {
	var req api.CreateShareRequestRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "public_key"); err != nil {
		return err
	}
	if err := checkSharePublicKey(req.PublicKey); err != nil {
		return err
	}
	// The id is the service's (random, 50 bits); a collision is retried.
	var sh store.Share
	for range 3 {
		sh, err = s.st.CreateShareRequest(c.ctx(), ident.NewShareID(), req.PublicKey)
		if !errors.Is(err, store.ErrExists) {
			break
		}
	}
	if err != nil {
		return err
	}
	return c.json(http.StatusCreated, api.ShareRequestResponse{Request: api.ShareRequest{ID: sh.ID, PublicKey: sh.PublicKey, ExpiresAt: sh.ExpiresAt}})
}

// shareProblem translates the store's answers about a share's state.
func shareProblem(err error) error {
	switch {
	case errors.Is(err, store.ErrConsumed):
		return problem(api.PShareOpened, "")
	case errors.Is(err, store.ErrExpired):
		return problem(api.PShareExpired, "")
	}
	return err
}

func (s *Server) getShareRequest(c *call) error {
	if err := c.limitUser(bucketShareUser, c.sess.UserID); err != nil {
		return err
	}
	sh, err := s.st.GetShareRequest(c.ctx(), c.tok, c.param("share"))
	if errors.Is(err, store.ErrConsumed) {
		return problem(api.PShareAnswered, "")
	}
	if err != nil {
		return shareProblem(err)
	}
	return c.json(http.StatusOK, api.ShareRequestResponse{Request: api.ShareRequest{ID: sh.ID, PublicKey: sh.PublicKey, ExpiresAt: sh.ExpiresAt}})
}

func (s *Server) createShare(c *call) error {
	if err := c.limitUser(bucketShareUser, c.sess.UserID); err != nil {
		return err
	}
	var req api.CreateShareBody
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "id", "kind", "blob"); err != nil {
		return err
	}
	if ident.CheckShareID(req.ID) != nil {
		return invalidField("id", "must be a share id: 10 characters a-z, 2-7")
	}
	in := store.NewShare{ID: req.ID, OrgID: c.org.ID, Blob: req.Blob, Views: 1}
	switch req.Kind {
	case api.ShareKindRequest:
		in.Kind = store.ShareRequest
		if present["views"] {
			return invalidField("views", "an answered request is opened once")
		}
	case api.ShareKindLink:
		in.Kind = store.ShareLink
		if present["views"] {
			if *req.Views < 1 || *req.Views > store.ShareMaxViews {
				return invalidField("views", "must be from 1 to 100")
			}
			in.Views = *req.Views
		}
	default:
		return invalidField("kind", "must be request or link")
	}
	if len(req.Blob) == 0 || len(req.Blob) > shareBlobMax {
		return invalidField("blob", "must be a sealed share of at most 47104 bytes")
	}
	ttl := shareTTLDefault
	if present["ttl_seconds"] {
		if *req.TTLSeconds < shareTTLMin || *req.TTLSeconds > shareTTLMax {
			return invalidField("ttl_seconds", "must be from 60 to 604800")
		}
		ttl = *req.TTLSeconds
	}
	in.ExpiresAt = s.now().Add(time.Duration(ttl) * time.Second)
	sh, _, err := s.st.CreateShare(c.ctx(), c.tok, in)
	if errors.Is(err, store.ErrConsumed) {
		return problem(api.PShareAnswered, "")
	}
	if err != nil {
		return shareProblem(err)
	}
	s.m.audit(store.ActionShareCreate, store.ResultOK)
	return c.json(http.StatusCreated, api.ShareResponse{Share: apiShare(sh)})
}

func apiShare(sh store.Share) api.Share {
	return api.Share{ID: sh.ID, Kind: string(sh.Kind), State: string(sh.State), ViewsLeft: sh.ViewsLeft, ExpiresAt: sh.ExpiresAt}
}

func (s *Server) openShare(c *call) error {
	sh, err := s.st.OpenShare(c.ctx(), c.param("share"))
	if err != nil {
		return shareProblem(err)
	}
	if sh.State != store.SharePending {
		s.m.audit(store.ActionShareOpen, store.ResultOK)
	}
	return c.json(http.StatusOK, api.OpenShareResponse{State: string(sh.State), Kind: string(sh.Kind), Blob: sh.Blob, ViewsLeft: sh.ViewsLeft, ExpiresAt: sh.ExpiresAt})
}
