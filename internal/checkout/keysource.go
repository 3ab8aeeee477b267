package checkout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/capy-oss/capy/internal/client"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// readKeys picks the key source for reading values (DESIGN §3 Run):
// CAPY_KEY, the key file, CAPY_DEPLOY_CODE (in memory), the member unlock.
// With a deploy code it also returns the head the service handed over;
// with head set, a member's remote already has the head request under
// way.
func (p *Project) readKeys(ctx context.Context, pin workspace.EnvPin, keyFile string, head bool) (envsync.EnvKeys, *member.Account, *member.Remote, error) {
	if v := p.cfg.Key; v != "" {
		kf, err := keys.ParseEnvKeyFile(v)
		if err != nil {
			return nil, nil, nil, refuse(fmt.Errorf("CAPY_KEY: %w", err), "bad-key", "")
		}
		kr, err := member.CIKeyring(kf, pin)
		if err != nil {
			return nil, nil, nil, refuse(fmt.Errorf("CAPY_KEY is for environment %s, not %s", p.envLabel(kf.EnvID), p.envLabel(pin.ID)), "wrong-env-key", "use the key of this environment, or --env")
		}
		return kr, nil, nil, nil
	}
	explicit := keyFile != ""
	var data []byte
	var err error
	if explicit {
		data, err = p.Repo.ReadKeyFile(keyFile)
	} else {
		keyFile = p.Repo.KeyFilePath()
		// The default key file is used only if this machine's `capy ci`
		// wrote it: one that came with a branch would otherwise give a
		// member's `capy run` the attacker's environment, with no unlock
		// and no audit row.
		data, err = p.Repo.CheckKeyFile(p.Home)
		if errors.Is(err, workspace.ErrUntrustedKeyFile) {
			if _, aerr := p.Account(); aerr != nil && p.cfg.DeployCode == "" {
				return nil, nil, nil, refuse(fmt.Errorf("refusing .capy/decrypt: %w", err), "untrusted-key-file",
					"run `capy ci` to write it again, delete it, or pass --key-file .capy/decrypt to use it on purpose")
			}
			p.ui.Warn("ignoring .capy/decrypt: %v", err)
			err = fs.ErrNotExist // fall through to the deploy code or the member key
		}
	}
	switch {
	case err == nil:
		kf, err := keys.ParseEnvKeyFile(string(data))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		if kf.EnvID == pin.ID || explicit {
			kr, err := member.CIKeyring(kf, pin)
			if err != nil {
				return nil, nil, nil, refuse(fmt.Errorf("%s holds the key of environment %s, not %s", keyFile, kf.EnvID, pin.ID), "wrong-env-key", "")
			}
			return kr, nil, nil, nil
		}
	case explicit || !errors.Is(err, fs.ErrNotExist):
		return nil, nil, nil, err
	}
	if g, r, err := p.deployCode(ctx, pin); err != nil {
		return nil, nil, nil, err
	} else if g != nil {
		kr, err := member.CIKeyring(g.KeyFile, pin)
		if err != nil {
			return nil, nil, nil, err
		}
		return kr, nil, r, nil
	}
	if head {
		kr, a, r, err := p.memberKeysAndHead(ctx, pin)
		if err != nil {
			return nil, nil, nil, err
		}
		return kr, a, r, nil
	}
	kr, a, err := p.memberKeys(ctx, pin)
	var unreach *client.UnreachableError
	if errors.As(err, &unreach) && a != nil {
		// Only when no answer came: a 401/403 or any other answer is
		// not offline (and a 401/403 has deleted the kept keys).
		okr, oerr := p.offlineKeys(a, pin, err)
		if oerr != nil {
			return nil, nil, nil, oerr
		}
		return okr, a, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return kr, a, p.remote(a, pin), nil
}

// deployCode is the runner's way to the key and the head: CAPY_DEPLOY_CODE,
// decrypted in memory, for the environment pin (its id decides; the name
// in the service's answer is not trusted). Without a deploy code it
// returns nils. The remote serves the head the deploy decrypt answered
// with (nil when the environment has no versions yet): a deploy code has
// no session to ask for anything else.
func (p *Project) deployCode(ctx context.Context, pin workspace.EnvPin) (*member.CIGrant, *member.Remote, error) {
	if p.cfg.DeployCode == "" {
		return nil, nil, nil
	}
	g, cl, err := p.deployDecrypt(ctx, p.cfg.DeployCode, "")
	if err != nil {
		return nil, nil, err
	}
	if err := p.checkDeployEnv(g, pin); err != nil {
		return nil, nil, err
	}
	return g, &member.Remote{Client: cl, Org: p.Repo.Project.Org, Project: p.Repo.Project.Project, EnvID: pin.ID,
		Fixed: g.Head, HeadOnly: true}, nil
}

// deployDecrypt checks a deploy code against project.json (or the
// override) and runs the deploy decrypt.
func (p *Project) deployDecrypt(ctx context.Context, text, override string) (*member.CIGrant, *client.Client, error) {
	code, err := wrap.ParseDeployCode(text)
	if err != nil {
		return nil, nil, fmt.Errorf("CAPY_DEPLOY_CODE: %w", err)
	}
	want := p.Repo.Project.Service
	if override != "" {
		if want, err = ident.CheckServiceURL(override); err != nil {
			return nil, nil, err
		}
	}
	if code.URL != want {
		return nil, nil, refuse(fmt.Errorf("the deploy code is for %s but this repository uses %s", code.URL, want),
			"code-url-mismatch", "use a code minted for this service, or --url-override URL if you moved the service")
	}
	cl, err := p.cfg.NewClient(code.URL)
	if err != nil {
		return nil, nil, err
	}
	g, err := member.DeployDecrypt(ctx, cl, code, &p.Repo.Project)
	if err != nil {
		return nil, nil, err
	}
	return g, cl, nil
}

// checkDeployEnv refuses a deploy grant for another environment than the
// one a command reads, naming both from project.json (by id: the name in
// the service's answer is not trusted).
func (p *Project) checkDeployEnv(g *member.CIGrant, pin workspace.EnvPin) error {
	if g.KeyFile.EnvID == pin.ID {
		return nil
	}
	return refuse(fmt.Errorf("CAPY_DEPLOY_CODE is for environment %s, not %s", p.envLabel(g.KeyFile.EnvID), p.envLabel(pin.ID)),
		"wrong-env-key", "use a deploy code of this environment, or --env")
}

// envLabel names an environment of project.json by id ("production
// (env_…)"), or the id alone when project.json does not list it.
func (p *Project) envLabel(id string) string {
	for n, e := range p.Repo.Project.Environments {
		if e.ID == id {
			return n + " (" + id + ")"
		}
	}
	return id
}
