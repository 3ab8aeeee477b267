package member

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// MintDeploy creates a deploy token for one environment at its pinned
// epoch and returns the deploy code (printed once, never stored).
func (a *Account) MintDeploy(ctx context.Context, m *keys.MasterKey, p *workspace.Project, envName, name string, ttl time.Duration) (string, *api.Deploy, error) {
	pin, ok := p.Environments[envName]
	if !ok {
		return "", nil, fmt.Errorf("no environment %q in this project", envName)
	}
	dt, err := keys.NewDeployToken()
	if err != nil {
		return "", nil, err
	}
	pk := m.ProjectKey(p.Org, p.Project)
	ek := pk.EnvKey(p.Project, pin.ID, pin.Epoch)
	inner, err := dt.SealEnvKey(&ek, pin.ID, pin.Epoch)
	if err != nil {
		return "", nil, err
	}
	auth := dt.AuthKey(pin.ID)
	req := api.MintDeployRequest{Env: pin.ID, Epoch: pin.Epoch, Name: name, Verifier: keys.DeployVerifier(&auth), Inner: inner}
	if ttl > 0 {
		s := int64(ttl / time.Second)
		req.TTLSeconds = &s
	}
	d, err := a.Client.MintDeploy(ctx, p.Org, req)
	if err != nil {
		return "", nil, err
	}
	if err := ident.CheckID(ident.Deploy, d.ID); err != nil {
		return "", nil, fmt.Errorf("service returned a malformed deploy id: %w", err)
	}
	code := wrap.DeployCode{URL: a.Client.BaseURL(), OrgID: p.Org, ProjectID: p.Project, EnvID: pin.ID,
		Epoch: pin.Epoch, DeployID: d.ID, Token: dt}
	return code.Encode(), d, nil
}

// ErrCodeMismatch means a deploy code or key does not belong to this
// repository's project or environment.
var ErrCodeMismatch = errors.New("the deploy code is for another project, environment or service")

// CIGrant is what a runner gets from a deploy decrypt.
type CIGrant struct {
	KeyFile keys.EnvKeyFile
	EnvName string
	Head    *api.Blob
}

// DeployDecrypt runs the runner's side of a deploy: present the auth key,
// open EK with DT, check everything the service said against the code and
// the pins. DT is not kept.
func DeployDecrypt(ctx context.Context, c *client.Client, code wrap.DeployCode, p *workspace.Project) (*CIGrant, error) {
	dt := keys.DeployToken(code.Token)
	auth := dt.AuthKey(code.EnvID)
	res, err := c.DeployDecrypt(ctx, code.DeployID, auth[:])
	if err != nil {
		return nil, err
	}
	if res.Org != code.OrgID || res.Project != code.ProjectID || res.Env.ID != code.EnvID || res.Env.Epoch != code.Epoch {
		return nil, ErrCodeMismatch
	}
	if p != nil && (p.Org != code.OrgID || p.Project != code.ProjectID) {
		return nil, ErrCodeMismatch
	}
	ek, err := dt.OpenEnvKey(res.Inner, code.EnvID, code.Epoch)
	if err != nil {
		return nil, fmt.Errorf("open the environment key with the deploy code: %w", err)
	}
	return &CIGrant{KeyFile: keys.EnvKeyFile{EnvID: code.EnvID, Epoch: code.Epoch, Key: ek}, EnvName: res.Env.Name, Head: res.Head}, nil
}

// CIKeyring is the read-only keyring of a key file, verified against the
// pinned public key of the environment in project.json.
func CIKeyring(kf keys.EnvKeyFile, pin workspace.EnvPin) (*envsync.CIKeys, error) {
	if kf.EnvID != pin.ID {
		return nil, ErrCodeMismatch
	}
	pub, err := pin.PublicKey()
	if err != nil {
		return nil, err
	}
	return &envsync.CIKeys{EK: kf.Key, EnvID: kf.EnvID, Epoch: kf.Epoch, Pinned: ed25519.PublicKey(pub)}, nil
}
