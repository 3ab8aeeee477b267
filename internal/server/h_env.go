package server

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

const signingKeySize = 32 // Ed25519 public key

func (s *Server) createProject(c *call) error {
	var req api.CreateProjectRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "id", "name"); err != nil {
		return err
	}
	if err := checkID("id", ident.Project, req.ID); err != nil {
		return err
	}
	if !slugRe.MatchString(req.Name) {
		return invalidField("name", "must be a slug: lowercase letters, digits, '_' and '-'")
	}
	p, err := s.st.CreateProject(c.ctx(), c.tok, store.NewProject{ID: req.ID, OrgID: c.org.ID, Name: req.Name})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionProjectCreate, store.ResultOK)
	return c.json(http.StatusCreated, api.ProjectResponse{Project: apiProject(p)})
}

func (s *Server) listProjects(c *call) error {
	q := c.q
	p, err := parsePage(q, "projects", 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Project)
	if err != nil {
		return err
	}
	pg, err := s.st.ListProjectsPage(c.ctx(), c.tok, c.org.ID, pq)
	if err != nil {
		return err
	}
	key := func(x store.Project) string { return timeKey(x.CreatedAt, x.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, apiProject))
}

func (s *Server) getProject(c *call) error {
	p, err := s.st.GetProject(c.ctx(), c.tok, c.org.ID, c.param("prj"))
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, api.ProjectResponse{Project: apiProject(p)})
}

func (s *Server) createEnv(c *call) error {
	var req api.CreateEnvRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "id", "name", "signing_public_key"); err != nil {
		return err
	}
	if err := checkID("id", ident.Env, req.ID); err != nil {
		return err
	}
	if !slugRe.MatchString(req.Name) {
		return invalidField("name", "must be a slug: lowercase letters, digits, '_' and '-'")
	}
	if len(req.SigningPublicKey) != signingKeySize {
		return invalidField("signing_public_key", "must be a 32-byte Ed25519 public key")
	}
	e, err := s.st.CreateEnv(c.ctx(), c.tok, store.NewEnv{
		ID: req.ID, OrgID: c.org.ID, ProjectID: c.param("prj"), Name: req.Name, SigningKey: req.SigningPublicKey,
	})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionEnvCreate, store.ResultOK)
	return c.json(http.StatusCreated, api.EnvResponse{Env: apiEnv(e)})
}

func (s *Server) listEnvs(c *call) error {
	q := c.q
	p, err := parsePage(q, "envs", 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Env)
	if err != nil {
		return err
	}
	pg, err := s.st.ListEnvsPage(c.ctx(), c.tok, c.org.ID, c.param("prj"), pq)
	if err != nil {
		return err
	}
	key := func(x store.Env) string { return timeKey(x.CreatedAt, x.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, apiEnv))
}

// env reads the path's environment and checks that it belongs to the
// path's project and org (else not-found).
func (c *call) env() (store.Env, error) {
	e, err := c.s.st.GetEnv(c.ctx(), c.tok, c.param("env"))
	return c.checkEnv(e, err)
}

// checkEnv maps the result of reading {env} to what the route answers: the
// environment must belong to {org} and {prj}.
func (c *call) checkEnv(e store.Env, err error) (store.Env, error) {
	if errors.Is(err, store.ErrNotMember) || errors.Is(err, store.ErrMembershipRevoked) {
		// The caller's membership of {org} was checked just before: the
		// environment belongs to another org.
		return e, problem(api.PNotFound, "")
	}
	if err != nil {
		return e, err
	}
	if e.OrgID != c.org.ID || e.ProjectID != c.param("prj") {
		return e, problem(api.PNotFound, "")
	}
	return e, nil
}

func (s *Server) getEnv(c *call) error {
	e, err := c.env()
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, api.EnvResponse{Env: apiEnv(e)})
}

func (s *Server) head(c *call) error {
	e, v, err := s.st.GetEnvHead(c.ctx(), c.tok, c.param("env"))
	if _, err := c.checkEnv(e, err); err != nil {
		return err
	}
	if v == nil {
		return c.json(http.StatusOK, api.HeadResponse{})
	}
	b := apiBlob(*v)
	return c.json(http.StatusOK, api.HeadResponse{Head: &b})
}

func (s *Server) listVersions(c *call) error {
	q := c.q
	p, err := parsePage(q, "versions", 50, 200)
	if err != nil {
		return err
	}
	before, err := p.numAfter()
	if err != nil {
		return err
	}
	e, err := c.env()
	if err != nil {
		return err
	}
	pg, err := s.st.ListVersionsPage(c.ctx(), c.tok, e.ID, before, p.limit)
	if err != nil {
		return err
	}
	key := func(v store.Version) string { return numKey(v.Version) }
	return c.json(http.StatusOK, pageOf(p, pg, key, apiBlobMeta))
}

// parseVersion reads a canonical decimal version from the path.
func parseVersion(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || n > maxJSONSafe || strconv.FormatInt(n, 10) != s {
		return 0, false
	}
	return n, true
}

func (s *Server) getVersion(c *call) error {
	n, ok := parseVersion(c.param("n"))
	if !ok {
		return problem(api.PNotFound, "")
	}
	e, err := c.env()
	if err != nil {
		return err
	}
	v, err := s.st.GetVersion(c.ctx(), c.tok, e.ID, n)
	if err != nil {
		return err
	}
	return c.json(http.StatusOK, api.BlobResponse{Blob: apiBlob(v)})
}

// newVersion is what the store needs of a checked blob.
func newVersion(text string, b *wrap.Blob) store.NewVersion {
	return store.NewVersion{
		Version: int64(b.Version), Epoch: int64(b.Epoch), ID: wrap.BlobID([]byte(text)), ParentID: b.Parent, Blob: []byte(text),
	}
}

func (s *Server) push(c *call) error {
	e, err := c.env()
	if err != nil {
		return err
	}
	var req api.PushRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "text"); err != nil {
		return err
	}
	b, err := checkBlob(req.Text)
	if err != nil {
		return err
	}
	v, hd, err := s.st.Push(c.ctx(), c.tok, e.ID, newVersion(req.Text, b))
	if err != nil {
		return err
	}
	s.m.audit(store.ActionPush, store.ResultOK)
	return c.json(http.StatusCreated, api.PushResponse{Blob: apiBlobMeta(v), AuditHead: apiHead(hd)})
}

func (s *Server) rotate(c *call) error {
	e, err := c.env()
	if err != nil {
		return err
	}
	var req api.RotateRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "epoch", "signing_public_key", "text"); err != nil {
		return err
	}
	if req.Epoch < 1 {
		return invalidField("epoch", "must be from 1 to 2^32-1")
	}
	if len(req.SigningPublicKey) != signingKeySize {
		return invalidField("signing_public_key", "must be a 32-byte Ed25519 public key")
	}
	b, err := checkBlob(req.Text)
	if err != nil {
		return err
	}
	if b.Epoch != req.Epoch {
		return badBlob(2, "the manifest epoch differs from the request's epoch")
	}
	if int64(req.Epoch) != e.Epoch+1 {
		ep := uint32(e.Epoch)
		return &problemError{slug: api.PEpochMismatch, epoch: &ep}
	}
	if bytes.Equal(req.SigningPublicKey, e.SigningKey) {
		return invalidField("signing_public_key", "must differ from the current signing key")
	}
	res, err := s.st.RotateEnv(c.ctx(), c.tok, e.ID, store.Rotation{
		Epoch: int64(req.Epoch), SigningKey: req.SigningPublicKey, Head: newVersion(req.Text, b),
	})
	if err != nil {
		return err
	}
	s.m.audit(store.ActionEnvRotate, store.ResultOK)
	return c.json(http.StatusOK, api.RotateResponse{
		Env: apiEnv(res.Env), Blob: apiBlobMeta(res.Version), RevokedDeploys: nonNil(res.RevokedDeploys), AuditHead: apiHead(res.Audit),
	})
}
