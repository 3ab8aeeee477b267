package wrap

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// OuterVersion is the first byte of an outer-wrapped blob.
const OuterVersion = 0x01

// outerHeaderSize is version byte + 32-bit key id.
const outerHeaderSize = 1 + 4

// Errors from the outer wrap.
var (
	ErrOuterFormat  = errors.New("outer blob is malformed")
	ErrOuterVersion = errors.New("outer blob has an unknown version")
)

// OuterKey derives the key the service uses for one org and purpose from a
// keyring KEK: HKDF-SHA256(KEK, salt = orgID, info = "capyd:outer:" purpose).
func OuterKey(kek *[KeySize]byte, orgID, purpose string) [KeySize]byte {
	return DeriveKey(kek[:], []byte(orgID), outerInfoPrefix+purpose)
}

func outerAAD(purpose, orgID, subject string) []byte {
	return []byte(purpose + ":" + orgID + ":" + subject)
}

// SealOuter adds the service's outer wrap around an inner blob:
// 0x01 || kid (u32be) || Seal(outerKey, inner, purpose ":" orgID ":" subject).
// The header is not in the AAD; it need not be: a changed kid selects
// another KEK, and a changed version byte is refused, so either fails.
func SealOuter(kek *[KeySize]byte, kid uint32, orgID, purpose, subject string, inner []byte) ([]byte, error) {
	return sealOuter(rand.Reader, kek, kid, orgID, purpose, subject, inner)
}

func sealOuter(rnd io.Reader, kek *[KeySize]byte, kid uint32, orgID, purpose, subject string, inner []byte) ([]byte, error) {
	k := OuterKey(kek, orgID, purpose)
	box, err := seal(rnd, &k, inner, outerAAD(purpose, orgID, subject))
	if err != nil {
		return nil, fmt.Errorf("seal outer: %w", err)
	}
	out := make([]byte, outerHeaderSize, outerHeaderSize+len(box))
	out[0] = OuterVersion
	binary.BigEndian.PutUint32(out[1:], kid)
	return append(out, box...), nil
}

// OuterKeyID returns the id of the KEK an outer blob was made under, so the
// service can pick the key (and notice an old one) before opening it.
func OuterKeyID(outer []byte) (uint32, error) {
	if len(outer) < outerHeaderSize+SealOverhead {
		return 0, ErrOuterFormat
	}
	if outer[0] != OuterVersion {
		return 0, ErrOuterVersion
	}
	return binary.BigEndian.Uint32(outer[1:5]), nil
}

// OpenOuter strips the outer wrap with the KEK the blob names (the caller
// looks it up with OuterKeyID). A blob made for another org, purpose or
// subject fails with ErrDecrypt.
func OpenOuter(kek *[KeySize]byte, orgID, purpose, subject string, outer []byte) ([]byte, error) {
	if _, err := OuterKeyID(outer); err != nil {
		return nil, err
	}
	k := OuterKey(kek, orgID, purpose)
	return Open(&k, outer[outerHeaderSize:], outerAAD(purpose, orgID, subject))
}
