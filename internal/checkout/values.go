package checkout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/workspace"
)

// Variable is one decrypted value in file order (envsync.Var, which the
// loader shares).
type Variable = envsync.Var

// Values decrypts an environment (get, run, export) from the local file
// or, with pull, from the service's verified head, with the key readKeys
// picks (keyFile: --key-file). Plaintext values in the file are used as
// they are, with a warning.
func (p *Project) Values(ctx context.Context, envName string, pull bool, keyFile string) ([]Variable, error) {
	vars, _, err := p.values(ctx, envName, pull, keyFile)
	return vars, err
}

// values is Values that also returns the key it read with.
func (p *Project) values(ctx context.Context, envName string, pull bool, keyFile string) ([]Variable, envsync.EnvKeys, error) {
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, nil, err
	}
	// Without --pull the values come from the files: read and parse them
	// while the keys are unlocked (a member's is a round trip), and open
	// them after.
	var parsed chan envsync.EnvFiles
	if !pull {
		parsed = make(chan envsync.EnvFiles, 1)
		file, local := p.Repo.EnvFile(pin), p.Repo.LocalFile(pin)
		go func() { parsed <- envsync.ParseEnv(file, local) }()
	}
	kr, _, remote, err := p.readKeys(ctx, pin, keyFile, pull)
	if err != nil {
		return nil, nil, err
	}
	if pull {
		if remote == nil {
			if a, err := p.Account(); err == nil {
				remote = p.remote(a, pin) // a session can fetch what the key file decrypts
			} else if _, remote, err = p.deployCode(ctx, pin); err != nil {
				return nil, nil, err // a runner that kept its key file
			}
		}
		if remote == nil {
			return nil, nil, refuse(errors.New("--pull needs a session or CAPY_DEPLOY_CODE"), "no-session", "run `capy login`, or drop --pull to use .env")
		}
		head, err := remote.Head(ctx)
		if err != nil {
			return nil, nil, err
		}
		env, err := p.checkedEnv(pin)
		if err != nil {
			return nil, nil, err
		}
		b, side, err := envsync.VerifyHead(head, kr, env)
		if err != nil {
			return nil, nil, err
		}
		if b == nil {
			p.ui.Warn("environment %s has no versions yet: no values", name)
		} else if err := p.recordSeen(pin, b); err != nil {
			return nil, nil, err
		}
		vars, err := p.pulledWithLayer(kr, pin, sideVars(side))
		if err != nil {
			return nil, nil, err
		}
		return vars, kr, nil
	}
	epoch := p.localEpoch(pin)
	if ck, ok := kr.(*envsync.CIKeys); ok {
		epoch = ck.Epoch
	}
	cipher, err := kr.Cipher(epoch)
	if err != nil {
		return nil, nil, err
	}
	// The loader (package load) reads with envsync.ReadEnv too.
	vars, lf, layer, err := (<-parsed).Open(cipher)
	if err != nil {
		return nil, nil, err
	}
	if !lf.Exists {
		return nil, nil, refuse(fmt.Errorf("%s does not exist", pin.File), "no-env-file", "run `capy` to pull environment "+name)
	}
	if len(lf.Plaintext) > 0 {
		p.ui.Warn("%s not encrypted yet (run `capy` to sync): %s", pin.File, strings.Join(lf.Plaintext, ", "))
	}
	if err := p.sealTyped(pin, cipher, layer); err != nil {
		return nil, nil, err
	}
	return vars, kr, nil
}

// pulledWithLayer overlays the service's values with the local file, which
// is sealed under the local file's epoch (the checkout's).
func (p *Project) pulledWithLayer(kr envsync.EnvKeys, pin workspace.EnvPin, vars []Variable) ([]Variable, error) {
	epoch := p.localEpoch(pin)
	if ck, ok := kr.(*envsync.CIKeys); ok {
		epoch = ck.Epoch
	}
	cipher, err := kr.Cipher(epoch)
	if err != nil {
		return nil, err
	}
	return p.layerValues(pin, cipher, vars)
}

// sideVars lists a version's values by name, a value after the names it
// refers to (envsync.ExpansionOrder), as a fresh checkout's file has them.
func sideVars(s envsync.Side) []Variable {
	names := make([]string, 0, len(s.Values))
	for n := range s.Values {
		names = append(names, n)
	}
	names = envsync.ExpansionOrder(names, s.Values)
	out := make([]Variable, len(names))
	for i, n := range names {
		out[i] = Variable{Name: n, Value: s.Values[n].Text, Literal: s.Values[n].Literal}
	}
	return out
}

// Expand resolves ${VAR} references the way godotenv does (never in
// literal values); lookup fills names the file does not define.
func Expand(vars []Variable, lookup func(string) (string, bool)) map[string]string {
	entries := make([]envfile.Entry, len(vars))
	for i, v := range vars {
		entries[i] = envfile.Entry{Name: v.Name, Value: v.Value, Literal: v.Literal}
	}
	return envfile.Expand(entries, lookup)
}

// Names lists the variable names in an environment's file, in file
// order, without a key or the network (`capy ls`).
func (p *Project) Names(envName string) ([]string, error) {
	_, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	raw, err := p.Repo.EnvFile(pin).ReadFile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return nil, err
	}
	return doc.Names(), nil
}

// DotenvLine is NAME=VALUE as `capy export` writes it, so that both
// godotenv and `docker --env-file` (which takes the rest of the line
// verbatim) read VALUE; a value docker cannot carry (a line break) is
// refused rather than mangled.
func DotenvLine(name, value string) ([]byte, error) {
	if strings.ContainsAny(value, "\n\r") {
		return nil, refuse(fmt.Errorf("%s has a line break, which dotenv files for docker cannot hold", name), "unexportable", "use --format json or shell")
	}
	doc, _ := envfile.Parse(nil)
	// Literal only where it matters: a literal value is single-quoted, and
	// docker --env-file would keep the quotes.
	if err := doc.Set(name, value, strings.Contains(value, "$")); err != nil {
		return nil, err
	}
	return doc.Bytes(), nil
}
