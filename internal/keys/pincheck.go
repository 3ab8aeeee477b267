package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/capy-oss/capy/internal/wrap"
)

// PinCheckTag is a MAC, under a key derived from PK, of an environment's
// pins at an epoch: the signing key and the age recipient project.json
// holds for it. A member's machine keeps the tags of pins it has derived
// and found right, so that the next unlock with the same pins compares
// one HMAC instead of deriving the Ed25519 key, the ML-KEM key pair and
// the Bech32 text again (about 0.3 ms of every `capy run`). Only a
// holder of PK can make a tag, so a pin swapped in project.json (or a tag
// copied from another environment, project or epoch) never matches one,
// and the full derivation runs and refuses it. The tags never leave the
// machine (docs/decisions.md #99).
func (p *ProjectKey) PinCheckTag(projectID, envID string, epoch uint32, signingKey, recipient string) [sha256.Size]byte {
	k := wrap.DeriveKey(p[:], []byte(projectID), infoPinCheck)
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(msgPinCheck))
	for _, field := range []string{envID, epochText(epoch), signingKey, recipient} {
		// Each field length-prefixed: project.json is outside input, and
		// no choice of fields may spell another's message.
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(field))))
		m.Write([]byte(field))
	}
	var tag [sha256.Size]byte
	m.Sum(tag[:0])
	return tag
}
