package server

import (
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// Deploy token lifetimes (docs/api.md §4.8).
const (
	deployTTLMin     = 300
	deployTTLMax     = 63_072_000
	deployTTLDefault = 31_536_000
)

func (s *Server) mintDeploy(c *call) error {
	var req api.MintDeployRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "env", "epoch", "name", "verifier", "inner"); err != nil {
		return err
	}
	if err := checkID("env", ident.Env, req.Env); err != nil {
		return err
	}
	if req.Epoch < 1 {
		return invalidField("epoch", "must be from 1 to 2^32-1")
	}
	if err := checkLabel("name", req.Name); err != nil {
		return err
	}
	ttl := int64(deployTTLDefault)
	if present["ttl_seconds"] {
		if *req.TTLSeconds < deployTTLMin || *req.TTLSeconds > deployTTLMax {
			return invalidField("ttl_seconds", "must be from 300 to 63072000")
		}
		ttl = *req.TTLSeconds
	}
	if !hex64Re.MatchString(req.Verifier) {
		return invalidField("verifier", "must be 64 lowercase hex characters")
	}
	verifier, _ := hex.DecodeString(req.Verifier)
	if err := checkInner("inner", req.Inner); err != nil {
		return err
	}
	id := ident.NewID(ident.Deploy)
	outer, err := s.keks().Wrap(c.org.ID, wrap.PurposeDeploy, id, req.Inner)
	if err != nil {
		return err
	}
	d, _, err := s.st.CreateDeploy(c.ctx(), c.tok, store.NewDeploy{
		ID: id, OrgID: c.org.ID, EnvID: req.Env, Name: req.Name, Epoch: int64(req.Epoch), Verifier: verifier,
		ExpiresAt: s.now().Add(time.Duration(ttl) * time.Second), Blob: outer,
	})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionDeployMint, store.ResultOK)
	return c.json(http.StatusCreated, api.DeployResponse{Deploy: apiDeploy(d, s.now())})
}

func (s *Server) listDeploys(c *call) error {
	q := c.q
	env, byEnv := q["env"]
	if byEnv {
		if err := checkID("env", ident.Env, env); err != nil {
			return err
		}
	}
	by, byUser := q["created_by"]
	if byUser {
		if err := checkID("created_by", ident.User, by); err != nil {
			return err
		}
	}
	status, ok := q["status"]
	if !ok {
		status = "active"
	}
	if status != "active" && status != "all" {
		return invalidField("status", "must be active or all")
	}
	p, err := parsePage(q, "deploys:"+status+":"+env+":"+by, 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Deploy)
	if err != nil {
		return err
	}
	now := s.now()
	f := store.DeployFilter{}
	if byEnv {
		f.EnvID = env
	}
	if byUser {
		f.MintedBy = by
	}
	if status != "all" {
		f.ActiveAt = now
	}
	pg, err := s.st.ListDeploysPage(c.ctx(), c.tok, c.org.ID, f, pq)
	if err != nil {
		return err
	}
	key := func(d store.Deploy) string { return timeKey(d.CreatedAt, d.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, func(d store.Deploy) api.Deploy { return apiDeploy(d, now) }))
}

func (s *Server) revokeDeploy(c *call) error {
	d, hd, err := s.st.RevokeDeploy(c.ctx(), c.tok, c.org.ID, c.param("dep"))
	if err != nil {
		return err
	}
	if hd.Seq != 0 {
		s.m.audit(store.ActionDeployRevoke, store.ResultOK)
	}
	return c.json(http.StatusOK, api.DeployResponse{Deploy: apiDeploy(d, s.now())})
}

func (s *Server) deployDecrypt(c *call) error {
	id := c.param("dep")
	if rec, ok := c.w.(*recorder); ok {
		rec.actor = id
	}
	var req api.DeployDecryptRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "auth_key"); err != nil {
		return err
	}
	if len(req.AuthKey) != 32 {
		return invalidField("auth_key", "must be 32 bytes")
	}
	if err := c.limitUser(bucketDeployToken, id); err != nil {
		return err
	}
	// The store compares the verifier in constant time (against a dummy
	// for an unknown token), then opens the outer blob (re-wrapping it
	// under the primary KEK if it is under an older one), audits, and
	// commits before anything leaves. A blob that does not open changes
	// nothing: the token stays usable once the KEK is there.
	var inner []byte
	g, err := s.st.DeployDecrypt(c.ctx(), id, hashAuthKey(req.AuthKey), s.openStored(c, wrap.PurposeDeploy, id, &inner))
	var kp *problemError
	switch {
	case err == nil:
	case errors.Is(err, store.ErrUnauthenticated):
		s.m.deployDecrypt.WithLabelValues("denied").Inc()
		return problem(api.PDeployDenied, "")
	case errors.Is(err, store.ErrRevoked):
		s.m.deployDecrypt.WithLabelValues("revoked").Inc()
		s.m.audit(store.ActionDeployDecrypt, store.ResultDenied)
		return problem(api.PDeployRevoked, "")
	case errors.Is(err, store.ErrExpired):
		s.m.deployDecrypt.WithLabelValues("expired").Inc()
		s.m.audit(store.ActionDeployDecrypt, store.ResultDenied)
		return problem(api.PDeployExpired, "")
	case errors.As(err, &kp) && (kp.slug == api.PUnavailable || kp.slug == api.POuterKeyRetired):
		s.m.deployDecrypt.WithLabelValues("kek-missing").Inc()
		return err
	default:
		return err
	}
	s.m.deployDecrypt.WithLabelValues("ok").Inc()
	s.m.audit(store.ActionDeployDecrypt, store.ResultOK)
	out := api.DeployDecryptResponse{
		Inner: inner, Org: g.Deploy.OrgID, Project: g.Deploy.ProjectID,
		Env: api.DeployEnv{
			ID: g.Env.ID, Name: g.Env.Name, Epoch: uint32(g.Env.Epoch), SigningPublicKey: api.Bytes(g.Env.SigningKey),
		},
		ExpiresAt: ts(g.Deploy.ExpiresAt),
	}
	if g.Head != nil {
		b := apiBlob(*g.Head)
		out.Head = &b
	}
	return c.json(http.StatusOK, out)
}
