package sync

import (
	"crypto/ed25519"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// ed25519FromEK is what a CI-key holder could try: a signing key derived
// from EK (the only key it has).
func ed25519FromEK(ek keys.EnvKey) ed25519.PrivateKey {
	seed := wrap.DeriveKey(ek[:], []byte("attacker"), "capy:env-sign:1")
	return ed25519.NewKeyFromSeed(seed[:])
}
