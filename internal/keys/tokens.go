package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/capy-oss/capy/internal/wrap"
)

// InnerWrapKey seals M for one member of one org on one device: the inner
// layer of key.enc.
type InnerWrapKey [Size]byte

// InviteToken is T, the secret half of a redeem code.
type InviteToken [Size]byte

// DeployToken is DT, the secret half of a deploy code.
type DeployToken [Size]byte

// String redacts the key.
func (InnerWrapKey) String() string { return redacted }

// String redacts the token.
func (InviteToken) String() string { return redacted }

// String redacts the token.
func (DeployToken) String() string { return redacted }

// GoString redacts the key.
func (InnerWrapKey) GoString() string { return redacted }

// GoString redacts the token.
func (InviteToken) GoString() string { return redacted }

// GoString redacts the token.
func (DeployToken) GoString() string { return redacted }

// InnerWrapKey derives HKDF(D, salt SHA-256(userID ":" orgID), "capy:inner-wrap").
// Mixing in the device secret D is what keeps the service, which knows both
// ids, from opening key.enc (DESIGN §9.1).
func (d *DeviceSecret) InnerWrapKey(userID, orgID string) InnerWrapKey {
	salt := sha256.Sum256([]byte(userID + ":" + orgID))
	return wrap.DeriveKey(d[:], salt[:], infoInnerWrap)
}

// SealMaster seals M as the inner layer of key.enc.
func (k *InnerWrapKey) SealMaster(m *MasterKey, orgID, userID string) ([]byte, error) {
	return sealKey((*[Size]byte)(k), m[:], aadKeyEnc+orgID+":"+userID)
}

// OpenMaster opens the inner layer of key.enc.
func (k *InnerWrapKey) OpenMaster(inner []byte, orgID, userID string) (MasterKey, error) {
	return openKey[MasterKey]((*[Size]byte)(k), inner, aadKeyEnc+orgID+":"+userID)
}

// NewInviteToken returns a fresh random T.
func NewInviteToken() (InviteToken, error) { return randomKey[InviteToken]() }

// NewDeployToken returns a fresh random DT.
func NewDeployToken() (DeployToken, error) { return randomKey[DeployToken]() }

// SealMaster seals M for the invitee: key HKDF(T, salt orgID ":" email,
// "capy:invite"), AAD "capy:invite:" orgID ":" email. Only a holder of T
// who is signed in as that canonical e-mail address can open it.
func (t *InviteToken) SealMaster(m *MasterKey, orgID, email string) ([]byte, error) {
	k := t.innerKey(orgID, email)
	return sealKey(&k, m[:], aadInvite+orgID+":"+email)
}

// OpenMaster opens an invite inner blob.
func (t *InviteToken) OpenMaster(inner []byte, orgID, email string) (MasterKey, error) {
	k := t.innerKey(orgID, email)
	return openKey[MasterKey](&k, inner, aadInvite+orgID+":"+email)
}

func (t *InviteToken) innerKey(orgID, email string) [Size]byte {
	return wrap.DeriveKey(t[:], []byte(orgID+":"+email), infoInvite)
}

// SealEnvKey seals EK for a CI runner: key HKDF(DT, salt envID,
// "capy:deploy"), AAD "capy:deploy:" envID ":" epoch.
func (t *DeployToken) SealEnvKey(ek *EnvKey, envID string, epoch uint32) ([]byte, error) {
	k := t.innerKey(envID)
	return sealKey(&k, ek[:], aadDeploy+envID+":"+epochText(epoch))
}

// OpenEnvKey opens a deploy inner blob.
func (t *DeployToken) OpenEnvKey(inner []byte, envID string, epoch uint32) (EnvKey, error) {
	k := t.innerKey(envID)
	return openKey[EnvKey](&k, inner, aadDeploy+envID+":"+epochText(epoch))
}

func (t *DeployToken) innerKey(envID string) [Size]byte {
	return wrap.DeriveKey(t[:], []byte(envID), infoDeploy)
}

// AuthKey derives HKDF(DT, salt envID, "capy:deploy-auth"): what a runner
// presents to the service to prove it holds DT without revealing DT.
func (t *DeployToken) AuthKey(envID string) [Size]byte {
	return wrap.DeriveKey(t[:], []byte(envID), infoDeployAuth)
}

// DeployVerifier is hex(SHA-256(auth key)), all the service stores.
func DeployVerifier(authKey *[Size]byte) string {
	sum := sha256.Sum256(authKey[:])
	return hex.EncodeToString(sum[:])
}

func sealKey(k *[Size]byte, key []byte, aad string) ([]byte, error) {
	box, err := wrap.Seal(k, key, []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return box, nil
}

func openKey[K ~[Size]byte](k *[Size]byte, box []byte, aad string) (K, error) {
	var out K
	pt, err := wrap.Open(k, box, []byte(aad))
	if err != nil {
		return out, err
	}
	if len(pt) != Size {
		return out, fmt.Errorf("sealed key has %d bytes, want %d", len(pt), Size)
	}
	copy(out[:], pt)
	return out, nil
}

func randomKey[K ~[Size]byte]() (K, error) {
	var k K
	if _, err := rand.Read(k[:]); err != nil {
		return k, fmt.Errorf("read random key: %w", err)
	}
	return k, nil
}
