package envsync

import (
	"crypto/ed25519"
	"os"

	"github.com/capy-oss/capy/internal/envfile"

	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// ed25519FromEK is what a CI-key holder could try: a signing key derived
// from EK (the only key it has).
func ed25519FromEK(ek keys.EnvKey) ed25519.PrivateKey {
	seed := wrap.DeriveKey(ek[:], []byte("attacker"), "capy:env-sign:1")
	return ed25519.NewKeyFromSeed(seed[:])
}

// plainFile is a File at a path, without the checkout checks of
// workspace.File (the tests own the directory).
type plainFile string

func (f plainFile) ReadFile() ([]byte, error) { return os.ReadFile(string(f)) }
func (f plainFile) WriteFileIf(data []byte, check func() error) error {
	return envfile.WriteFileAtomicIf(string(f), data, check)
}
func (f plainFile) String() string { return string(f) }
