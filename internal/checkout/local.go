package checkout

import (
	"errors"
	"fmt"
	"strings"

	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/workspace"
)

// The personal layer: each environment's local file (.env.local by
// default, EnvPin.LocalFile) holds values for this machine only. It is
// encrypted like the environment's file (snippets under the environment
// key, so a copy of it is as safe as a copy of .env), overlays that file in
// run, get, export and status, and is never read by a sync: nothing in it
// can reach the service.

// errLayerChanged stops a rewrite of the local file that someone edited
// meanwhile: the next command seals it.
var errLayerChanged = errors.New("the local file changed while capy sealed it")

// readLayer reads and decrypts an environment's local file with c (nil
// when there is none).
func (p *Project) readLayer(pin workspace.EnvPin, c *keys.EnvCipher) (*envsync.LocalFile, error) {
	lf, err := envsync.ReadLocal(p.Repo.LocalFile(pin), c)
	if err != nil {
		return nil, err
	}
	if !lf.Exists {
		return nil, nil
	}
	return lf, nil
}

// sealLayer rewrites the local file so that every value in it is a
// snippet under to: the plaintext typed into it, and, when the
// environment's epoch moved (from is the old epoch's cipher), every value.
// The caller holds the checkout lock. A file edited while this runs is
// left for the next command.
func (p *Project) sealLayer(pin workspace.EnvPin, from, to *keys.EnvCipher) error {
	f := p.Repo.LocalFile(pin)
	lf, err := envsync.ReadLocal(f, from)
	if err != nil || !lf.Exists {
		return err
	}
	reseal := from.Epoch != to.Epoch
	if len(lf.Plaintext) == 0 && !reseal {
		return nil
	}
	doc := lf.Doc
	for _, e := range doc.Entries() {
		if lf.Side.Snippets[e.Name] != "" && !reseal {
			continue
		}
		v := lf.Side.Values[e.Name]
		snip, err := to.Seal(e.Name, v.Text, v.Literal)
		if err != nil {
			return err
		}
		if err := doc.Set(e.Name, snip, false); err != nil {
			return fmt.Errorf("%s: %s: %w", pin.LocalFile(), e.Name, err)
		}
	}
	err = f.WriteFileIf(doc.Bytes(), func() error {
		raw, err := f.ReadFile()
		if err != nil || string(raw) != string(lf.Raw) {
			return errLayerChanged
		}
		return nil
	})
	if errors.Is(err, errLayerChanged) {
		return nil
	}
	return err
}

// sealLayerLocked is sealLayer under the checkout lock, for the commands
// that read values without taking it (get, run, export).
func (p *Project) sealLayerLocked(pin workspace.EnvPin, c *keys.EnvCipher) error {
	release, err := p.lock()
	if err != nil {
		return err
	}
	defer release()
	return p.sealLayer(pin, c, c)
}

// layerValues reads the local file with c, seals what is still plaintext
// in it (under the lock), and overlays vars with it.
func (p *Project) layerValues(pin workspace.EnvPin, c *keys.EnvCipher, vars []Variable) ([]Variable, error) {
	layer, err := p.readLayer(pin, c)
	if err != nil {
		return nil, err
	}
	if err := p.sealTyped(pin, c, layer); err != nil {
		return nil, err
	}
	return envsync.Overlay(vars, layer), nil
}

// sealTyped seals the plaintext typed into the local file as read
// (layer, nil when there is none), under the lock, and says so.
func (p *Project) sealTyped(pin workspace.EnvPin, c *keys.EnvCipher, layer *envsync.LocalFile) error {
	if layer == nil || len(layer.Plaintext) == 0 {
		return nil
	}
	if err := p.sealLayerLocked(pin, c); err != nil {
		return fmt.Errorf("encrypt %s: %w", pin.LocalFile(), err)
	}
	p.ui.Say("encrypted %s in %s (kept on this machine, never pushed)", strings.Join(layer.Plaintext, ", "), pin.LocalFile())
	return nil
}
