package wrap

import (
	"bytes"
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
	// ErrOuterAnswer means an outer blob the service handed back to a
	// client (a wrap, or a co-decrypt's re-wrap) cannot be the outer
	// wrap of the inner layer it was made for.
	ErrOuterAnswer = errors.New("the service's outer blob is not a wrap of this machine's inner layer")
)

// OuterSize is the exact length of the outer blob that wraps an inner
// blob of n bytes: header, then a sealed box of the inner blob.
func OuterSize(n int) int { return outerHeaderSize + SealOverhead + n }

// outerWindow is the length of the pieces of the inner layer that must
// not appear in its outer blob; see CheckOuterFor.
const outerWindow = 16

// CheckOuterFor checks, with no key, what a client can check of an outer
// blob the service says wraps inner, before it replaces key.enc with it:
// its exact length (OuterSize), its version byte and its sealed box's
// version byte, and that it does not carry inner, or any outerWindow
// consecutive bytes of it, in the clear.
//
// The last rule is the one that matters: a blob holding the inner layer
// as it is (the outer wrap left off, or a header and padding put around
// it) would let device.key and key.enc open M on the machine alone, with
// no service and no session. An honest outer blob is a header and
// AES-GCM output: the chance that one of the 16-byte runs of an inner
// layer (at least 15 of their bytes random) appears in it by accident is
// below 2^-100 for a key.enc, so the rule never refuses an honest answer.
// It cannot see an inner layer the service hid by some other reversible
// encoding: without the KEK no client can tell a sealed box from that.
func CheckOuterFor(outer, inner []byte) error {
	if len(inner) == 0 {
		return fmt.Errorf("%w: there is no inner layer to wrap", ErrOuterAnswer)
	}
	if want := OuterSize(len(inner)); len(outer) != want {
		return fmt.Errorf("%w: it has %d bytes, a wrap of this inner layer has %d", ErrOuterAnswer, len(outer), want)
	}
	if outer[0] != OuterVersion || outer[outerHeaderSize] != SealVersion {
		return fmt.Errorf("%w: unknown version", ErrOuterAnswer)
	}
	n := min(outerWindow, len(inner))
	for i := 0; i+n <= len(inner); i++ {
		if bytes.Contains(outer, inner[i:i+n]) {
			return fmt.Errorf("%w: it holds the inner layer in the clear (the outer wrap was left off)", ErrOuterAnswer)
		}
	}
	return nil
}

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
