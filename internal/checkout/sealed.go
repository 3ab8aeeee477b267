package checkout

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/member"
	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/internal/wrap"
)

// checkRecipientPin compares the age recipient pinned for the environment
// with the one derived from PK at the pinned epoch. Contributors encrypt
// to the pin with no way to check it, so a pin a branch swapped would send
// their values to whoever holds the other key: a member refuses to go on
// (tampered) before anything is encrypted or pushed, and says which
// environment. A project from before pins existed gets the pin added.
func (p *Project) checkRecipientPin(mk *envsync.MemberKeys, pin workspace.EnvPin) error {
	want := member.Recipient(&mk.PK, p.Repo.Project.Project, pin.ID, pin.Epoch)
	for name, e := range p.Repo.Project.Environments {
		if e.ID != pin.ID {
			continue
		}
		if e.Recipient == "" {
			e.Recipient = want
			p.Repo.Project.Environments[name] = e
			if err := p.Repo.SaveProject(); err != nil {
				return fmt.Errorf("pin the recipient of %s: %w", name, err)
			}
			p.ui.Say("pinned the age recipient of %s in .capy/project.json, so others can `capy encrypt` to it (commit it)", name)
			continue
		}
		if subtle.ConstantTimeCompare([]byte(e.Recipient), []byte(want)) != 1 {
			return refuse(fmt.Errorf("the age recipient pinned for %s in .capy/project.json is not this environment's: values encrypted to it would go to someone else", name),
				"tampered", "restore the recipient from `git log -p .capy/project.json`, and tell whoever encrypted values to it since then to redo them")
		}
	}
	return nil
}

// memberAgeIdentities returns, built once on first call, the age identity
// of every environment of the project at every epoch up to its pinned one:
// a member can open a value sealed to any of them (protocol.md §14).
func memberAgeIdentities(pk *keys.ProjectKey, prj *workspace.Project) func() []*keys.AgeIdentity {
	var once sync.Once
	var ids []*keys.AgeIdentity
	return func() []*keys.AgeIdentity {
		once.Do(func() {
			for _, pin := range prj.Environments {
				for e := uint32(1); e <= pin.Epoch && e <= maxSealedEpochs; e++ {
					ek := pk.EnvKey(prj.Project, pin.ID, e)
					ids = append(ids, ek.AgeIdentity(pin.ID, e))
				}
			}
		})
		return ids
	}
}

// maxSealedEpochs bounds the identities tried per environment, so a
// project.json claiming a huge epoch cannot make a member derive forever.
const maxSealedEpochs = 1000

// Contributor is a checkout opened for encrypting only (`capy encrypt`,
// `capy set --public`): project.json and state.json, no capy home, no
// session, no service. Nothing it does reads a key or the network.
type Contributor struct {
	p *Project
}

// OpenContributor opens the repository around the working directory for
// a contributor.
func OpenContributor() (*Contributor, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	repo, err := workspace.FindRepo(wd)
	if err != nil {
		return nil, err
	}
	st, err := repo.LoadState()
	if err != nil {
		return nil, err
	}
	return &Contributor{p: &Project{Repo: repo, state: st}}, nil
}

// Encrypt seals value to an environment's pinned recipient (or to
// recipient when given) and returns the sealed value and the environment.
func (c *Contributor) Encrypt(envName, recipient, value string) (sealed, env string, err error) {
	if recipient == "" {
		name, pin, err := c.p.Env(envName)
		if err != nil {
			return "", "", err
		}
		env, recipient = name, pin.Recipient
		if recipient == "" {
			return "", "", refuse(fmt.Errorf("environment %s has no age recipient pinned in .capy/project.json", name), "no-recipient",
				"ask a member to run any capy command in this repository and commit .capy/project.json, or pass --recipient")
		}
	}
	sealed, err = SealTo(recipient, value)
	return sealed, env, err
}

// SealTo seals value to an age post-quantum recipient: `capy encrypt
// --recipient`, which needs no repository at all.
func SealTo(recipient, value string) (string, error) {
	sealed, err := keys.SealTo(recipient, value)
	switch {
	case errors.Is(err, keys.ErrRecipient):
		return "", refuse(err, "bad-recipient", "pass an environment's age1pq1… recipient, as .capy/project.json pins it")
	case errors.Is(err, keys.ErrSealedTooLarge):
		return "", refuse(err, "usage", "a value is at most 64 KiB")
	}
	return sealed, err
}

// SetPublic seals value to the environment's pinned recipient and writes
// it as name's value in the environment's file, in place (every other
// line kept as it is). A member's next sync adopts it.
func (c *Contributor) SetPublic(envName, name, value string) (env string, err error) {
	env, pin, err := c.p.Env(envName)
	if err != nil {
		return "", err
	}
	sealed, _, err := c.Encrypt(env, "", value)
	if err != nil {
		return "", err
	}
	file := c.p.Repo.EnvFile(pin)
	raw, err := file.ReadFile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%s: %w", pin.File, err)
	}
	if err := doc.Set(name, sealed, false); err != nil {
		return "", err
	}
	return env, file.WriteFile(doc.Bytes())
}

// ValuesAndArgs is Values for `capy run --decrypt-args`: it also opens
// every argument that is a whole sealed value (Cape's `cape run fn
// capy:…`) with the same key, and returns the arguments with plaintext in
// their place. An argument that does not open is refused by position.
func (p *Project) ValuesAndArgs(ctx context.Context, envName string, pull bool, keyFile string, args []string) ([]Variable, []string, error) {
	vars, kr, err := p.values(ctx, envName, pull, keyFile)
	if err != nil {
		return nil, nil, err
	}
	out := slices.Clone(args)
	var cipher *keys.EnvCipher
	for i, a := range args {
		if !wrap.IsSealed(a) {
			continue
		}
		if cipher == nil {
			_, pin, _ := p.Env(envName)
			epoch := p.localEpoch(pin)
			if ck, ok := kr.(*envsync.CIKeys); ok {
				epoch = ck.Epoch
			}
			if cipher, err = kr.Cipher(epoch); err != nil {
				return nil, nil, err
			}
		}
		v, err := cipher.OpenSealed(a)
		if err != nil {
			return nil, nil, fmt.Errorf("argument %d of the command: %w", i+1, err)
		}
		out[i] = v
	}
	return vars, out, nil
}
