package member

import (
	"context"
	"fmt"
	"sort"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// NewOrg creates an org for a fresh phrase: ids are generated here so the
// key check can be sent with the create request; this machine is enrolled.
func (a *Account) NewOrg(ctx context.Context, name, phrase string) (*api.Org, keys.MasterKey, error) {
	m, err := keys.MasterKeyFromPhrase(phrase)
	if err != nil {
		return nil, m, err
	}
	orgID := ident.NewID(ident.Org)
	org, err := a.Client.CreateOrg(ctx, api.CreateOrgRequest{ID: orgID, Name: name, KeyCheck: m.KeyCheck(orgID)})
	if err != nil {
		return nil, m, err
	}
	if err := a.Enrol(ctx, orgID, org.KeyCheck, &m); err != nil {
		return nil, m, err
	}
	return org, m, nil
}

// Recover rebuilds key.enc from the phrase as typed (any case and
// spacing; a wrong word, length or checksum is named by keys.ParsePhrase),
// checked against the org's key check before anything is written; the
// recovery is recorded in the org's audit log (recover from=phrase) before
// the new key.enc is wrapped.
func (a *Account) Recover(ctx context.Context, orgID, typed string) error {
	phrase, err := keys.ParsePhrase(typed)
	if err != nil {
		return err
	}
	return a.RecoverWith(ctx, orgID, phrase, api.AuditEventRequest{Action: api.EventRecover, From: "phrase"})
}

// RecoverWith is Recover, from a phrase already parsed, recording the
// given event: a recovery from shares names its share set. A phrase that
// fails the org's key check is keys.ErrKeyCheck, and nothing is recorded
// or written.
func (a *Account) RecoverWith(ctx context.Context, orgID, phrase string, ev api.AuditEventRequest) error {
	m, err := keys.MasterKeyFromPhrase(phrase)
	if err != nil {
		return err
	}
	org, err := a.Client.Org(ctx, orgID)
	if err != nil {
		return err
	}
	if err := m.Verify(orgID, org.KeyCheck); err != nil {
		return err
	}
	if err := a.RecordEvent(ctx, orgID, ev); err != nil {
		return err
	}
	return a.Enrol(ctx, orgID, org.KeyCheck, &m)
}

// CheckPhrase reports whether phrase is the org's: its master key matches
// the org's key check (keys.ErrKeyCheck otherwise). It returns the org as
// the service describes it; nothing is written.
func (a *Account) CheckPhrase(ctx context.Context, orgID, phrase string) (*api.Org, error) {
	m, err := keys.MasterKeyFromPhrase(phrase)
	if err != nil {
		return nil, err
	}
	org, err := a.Client.Org(ctx, orgID)
	if err != nil {
		return nil, err
	}
	return org, m.Verify(orgID, org.KeyCheck)
}

// NewProject creates a project with its first environment and returns the
// project.json content for it.
func (a *Account) NewProject(ctx context.Context, m *keys.MasterKey, orgID, name, envName, envFile string) (*workspace.Project, error) {
	prjID := ident.NewID(ident.Project)
	if _, err := a.Client.CreateProject(ctx, orgID, api.CreateProjectRequest{ID: prjID, Name: name}); err != nil {
		return nil, err
	}
	p := &workspace.Project{Version: 1, Service: a.Client.BaseURL(), Org: orgID, Project: prjID,
		DefaultEnvironment: envName, Environments: map[string]workspace.EnvPin{}}
	if _, err := a.NewEnv(ctx, m, p, envName, envFile); err != nil {
		return nil, err
	}
	return p, nil
}

// NewEnv creates an environment at epoch 1 and pins it in p.
func (a *Account) NewEnv(ctx context.Context, m *keys.MasterKey, p *workspace.Project, name, file string) (*api.Env, error) {
	if !workspace.ValidEnvName(name) {
		return nil, fmt.Errorf("environment name %q: use lowercase letters, digits, '-' and '_'", name)
	}
	if err := workspace.CheckEnvFilePath(file); err != nil {
		return nil, err
	}
	envID := ident.NewID(ident.Env)
	pk := m.ProjectKey(p.Org, p.Project)
	pub := pk.SigningPublicKey(envID, 1)
	env, err := a.Client.CreateEnv(ctx, p.Org, p.Project, api.CreateEnvRequest{ID: envID, Name: name, SigningPublicKey: api.Bytes(pub)})
	if err != nil {
		return nil, err
	}
	p.Environments[name] = workspace.EnvPin{ID: envID, File: file, Epoch: 1, SigningKey: wrap.B64.EncodeToString(pub),
		Recipient: Recipient(&pk, p.Project, envID, 1)}
	return env, nil
}

// Link builds project.json for an existing project: every environment is
// pinned with the public key derived from PK (never the service's word).
func (a *Account) Link(ctx context.Context, m *keys.MasterKey, orgID, projectID string, files map[string]string) (*workspace.Project, error) {
	if _, err := a.Client.Project(ctx, orgID, projectID); err != nil {
		return nil, err
	}
	pk := m.ProjectKey(orgID, projectID)
	p := &workspace.Project{Version: 1, Service: a.Client.BaseURL(), Org: orgID, Project: projectID,
		Environments: map[string]workspace.EnvPin{}}
	var pages client.Pager
	for cursor, more := "", true; more; {
		page, err := a.Client.Envs(ctx, orgID, projectID, cursor, 200)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if ident.CheckID(ident.Env, e.ID) != nil || !workspace.ValidEnvName(e.Name) {
				return nil, fmt.Errorf("the service returned a malformed environment")
			}
			pub := pk.SigningPublicKey(e.ID, e.Epoch)
			if string(pub) != string(e.SigningPublicKey) {
				return nil, fmt.Errorf("environment %s: the service's signing key differs from the one derived from your key: refusing to link", e.Name)
			}
			if err := a.checkLinkEpoch(ctx, pk, orgID, projectID, e); err != nil {
				return nil, err
			}
			file := files[e.Name]
			if file == "" {
				file = defaultEnvFile(e.Name)
			}
			p.Environments[e.Name] = workspace.EnvPin{ID: e.ID, File: file, Epoch: e.Epoch, SigningKey: wrap.B64.EncodeToString(pub),
				Recipient: Recipient(&pk, projectID, e.ID, e.Epoch)}
			if p.DefaultEnvironment == "" || e.Name == "development" {
				p.DefaultEnvironment = e.Name
			}
		}
		if cursor, more, err = pages.Next(page.NextCursor); err != nil {
			return nil, err
		}
	}
	if len(p.Environments) == 0 {
		return nil, fmt.Errorf("the project has no environments")
	}
	return p, nil
}

// checkLinkEpoch compares the epoch the service claims for an environment
// with its newest version, whose epoch the signature proves (every
// rotation pushes a version at the new epoch): a service claiming an
// older epoch would have this checkout pin a key that a revoked deploy
// code may hold. A service that also serves an old version is the
// fresh-machine limit (docs/threat-model.md); the first sync that sees a
// newer epoch raises the pin.
func (a *Account) checkLinkEpoch(ctx context.Context, pk keys.ProjectKey, orgID, projectID string, e api.Env) error {
	head, err := a.Client.Head(ctx, orgID, projectID, e.ID)
	if err != nil || head == nil {
		return err
	}
	b, err := wrap.ParseBlob([]byte(head.Text))
	if err != nil {
		return fmt.Errorf("environment %s: %w", e.Name, err)
	}
	if err := b.VerifySignature(pk.SigningPublicKey(e.ID, b.Epoch), projectID, e.ID); err != nil {
		return fmt.Errorf("environment %s: %w", e.Name, err)
	}
	if b.Epoch != e.Epoch {
		return fmt.Errorf("environment %s: %w (the service says epoch %d, its newest version is at epoch %d)", e.Name, wrap.ErrEpochRollback, e.Epoch, b.Epoch)
	}
	return nil
}

func defaultEnvFile(env string) string {
	if env == "development" {
		return ".env"
	}
	return ".env." + env
}

// DefaultEnvFile is the file an environment uses unless told otherwise.
func DefaultEnvFile(env string) string { return defaultEnvFile(env) }

// PinnedKey is the signing public key a member derives for an environment
// at its pinned epoch, spelt as project.json pins it.
func PinnedKey(pk *keys.ProjectKey, pin workspace.EnvPin) string {
	return wrap.B64.EncodeToString(pk.SigningPublicKey(pin.ID, pin.Epoch))
}

// WrongPins lists, by name, the environments of p whose pinned signing key
// is not the one derived from PK: members never trust the pin, CI runners
// do, so a wrong one (a branch may carry it) is repaired or reported.
func WrongPins(p *workspace.Project, pk *keys.ProjectKey) []string {
	var wrong []string
	for name, pin := range p.Environments {
		if pin.SigningKey != PinnedKey(pk, pin) {
			wrong = append(wrong, name)
		}
	}
	sort.Strings(wrong)
	return wrong
}
