package checkout

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/importfmt"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
)

// Set seals value under name into the environment's file and then syncs
// (unless sync is false: the next sync pushes it). The result is nil
// without a sync.
func (p *Project) Set(ctx context.Context, envName, name, value string, literal, sync bool) (*SyncResult, error) {
	return p.edit(ctx, envName, sync, func(doc *envfile.Document, cipher *keys.EnvCipher) error {
		s, err := cipher.Seal(name, value, literal)
		if err != nil {
			return err
		}
		return doc.Set(name, s, false)
	})
}

// Unset removes a variable from the environment's file and then syncs.
func (p *Project) Unset(ctx context.Context, envName, name string, sync bool) (*SyncResult, error) {
	return p.edit(ctx, envName, sync, func(doc *envfile.Document, _ *keys.EnvCipher) error {
		if !doc.Delete(name) {
			return refuse(fmt.Errorf("%s is not set in this environment", name), "not-set", "see `capy ls`")
		}
		return nil
	})
}

// Plaintext is a plaintext .env file to import.
type Plaintext struct {
	doc *envfile.Document
}

// ParsePlaintext parses plaintext .env text (read from what: a file
// name, or "stdin") for Import.
func ParsePlaintext(raw []byte, what string) (*Plaintext, error) {
	if len(raw) > workspace.MaxEnvFile {
		return nil, fmt.Errorf("%s: %w", what, workspace.ErrTooLarge)
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &Plaintext{doc: doc}, nil
}

// ParsePlaintextJSON parses a JSON object of names to string values (what
// `capy export --format json` prints) for Import: importfmt.JSON's rules.
func ParsePlaintextJSON(raw []byte, what string) (*Plaintext, error) {
	if len(raw) > workspace.MaxEnvFile {
		return nil, fmt.Errorf("%s: %w", what, workspace.ErrTooLarge)
	}
	es, err := importfmt.JSON(raw)
	if err != nil {
		return nil, badImport(what, err, `give one JSON object of names to string values, e.g. {"API_TOKEN": "…"}`)
	}
	return plaintextOf(what, es)
}

// Import seals every value of src into the environment's file and then
// syncs; it returns how many values it sealed.
func (p *Project) Import(ctx context.Context, envName string, src *Plaintext, sync bool) (int, *SyncResult, error) {
	n := 0
	res, err := p.edit(ctx, envName, sync, func(doc *envfile.Document, cipher *keys.EnvCipher) error {
		for _, e := range src.doc.Entries() {
			s, err := cipher.Seal(e.Name, e.Value, e.Literal)
			if err != nil {
				return err
			}
			if err := doc.Set(e.Name, s, false); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, res, err
}

// edit changes the local file (encrypting new values) under the checkout
// lock and guard, then syncs unless sync is false.
func (p *Project) edit(ctx context.Context, envName string, sync bool, change func(doc *envfile.Document, cipher *keys.EnvCipher) error) (*SyncResult, error) {
	// Held through the sync below: the file is read, edited and synced
	// without another capy in between.
	release, err := p.lock()
	if err != nil {
		return nil, err
	}
	defer release()
	name, pin, err := p.Env(envName)
	if err != nil {
		return nil, err
	}
	// Before the unlock (which may repair a pin in project.json): a
	// refused edit writes nothing.
	g, err := p.guardEnv(pin, false)
	if err != nil {
		return nil, err
	}
	kr, a, err := p.memberKeys(ctx, pin)
	if err != nil {
		return nil, err
	}
	cipher, err := kr.Cipher(p.localEpoch(pin))
	if err != nil {
		return nil, err
	}
	file := p.Repo.EnvFile(pin)
	raw, err := file.ReadFile()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	doc, err := envfile.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pin.File, err)
	}
	before := map[string]string{}
	for _, e := range doc.Entries() {
		before[e.Name] = e.Value
	}
	if err := change(doc, cipher); err != nil {
		return nil, err
	}
	// The names this command set or removed: the sync below must not
	// take them for what a file changed outside capy did.
	own := map[string]bool{}
	for _, e := range doc.Entries() {
		if v, ok := before[e.Name]; !ok || v != e.Value {
			own[e.Name] = true
		}
		delete(before, e.Name)
	}
	for n := range before {
		own[n] = true
	}
	out := doc.Bytes()
	if err := file.WriteFile(out); err != nil {
		return nil, err
	}
	if !g.changed {
		// capy's own edit of a file capy wrote: the sync below need not
		// ask about it. (An edit on top of a file changed outside capy
		// leaves the record alone, so the sync still checks that file.)
		if err := g.wrote(out); err != nil {
			return nil, err
		}
	}
	if !sync {
		return nil, nil
	}
	g.askFirstPush = true
	return p.sync(ctx, g, p.remote(a, pin), kr, name, pin, envsync.Options{OwnEdits: own})
}
