package envsync

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/capy-oss/capy/internal/keys"
)

// MemberKeys derives every epoch's keys from the project key: a member can
// read and sign any epoch.
type MemberKeys struct {
	PK               keys.ProjectKey
	ProjectID, EnvID string
	// MoreAge lists the other age identities a member holds (every
	// environment and epoch of the project), for a sealed value that is
	// not for this environment's current epoch; see keys.EnvCipher.
	MoreAge func() []*keys.AgeIdentity
}

// Cipher derives EK and its subkeys for an epoch.
func (m *MemberKeys) Cipher(epoch uint32) (*keys.EnvCipher, error) {
	if epoch == 0 {
		return nil, errors.New("epoch 0 does not exist")
	}
	ek := m.PK.EnvKey(m.ProjectID, m.EnvID, epoch)
	c := ek.Cipher(m.EnvID, epoch)
	c.MoreAge = m.MoreAge
	return c, nil
}

// PublicKey derives the signing public key: members never trust a pin.
func (m *MemberKeys) PublicKey(epoch uint32) (ed25519.PublicKey, error) {
	return m.PK.SigningPublicKey(m.EnvID, epoch), nil
}

// Signer derives the signing key.
func (m *MemberKeys) Signer(epoch uint32) (ed25519.PrivateKey, error) {
	return m.PK.SigningKey(m.EnvID, epoch), nil
}

// ErrReadOnly means a CI key was asked to sign.
var ErrReadOnly = errors.New("an environment key can read but not write: sign in as a member to change values")

// CIKeys holds one epoch's EK and the pinned public key: read-only.
type CIKeys struct {
	EK     keys.EnvKey
	EnvID  string
	Epoch  uint32
	Pinned ed25519.PublicKey
}

func (c *CIKeys) check(epoch uint32) error {
	if epoch != c.Epoch {
		return fmt.Errorf("the environment is at epoch %d but this key is for epoch %d: mint a new deploy code", epoch, c.Epoch)
	}
	return nil
}

// Cipher returns the subkeys of the key's own epoch only.
func (c *CIKeys) Cipher(epoch uint32) (*keys.EnvCipher, error) {
	if err := c.check(epoch); err != nil {
		return nil, err
	}
	return c.EK.Cipher(c.EnvID, epoch), nil
}

// PublicKey returns the pinned key for the key's own epoch.
func (c *CIKeys) PublicKey(epoch uint32) (ed25519.PublicKey, error) {
	if err := c.check(epoch); err != nil {
		return nil, err
	}
	return c.Pinned, nil
}

// Signer always fails: holders of EK alone cannot write.
func (c *CIKeys) Signer(uint32) (ed25519.PrivateKey, error) { return nil, ErrReadOnly }
