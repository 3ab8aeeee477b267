package wrap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// SealVersion is the version byte that starts every sealed box and is
// authenticated as the first byte of its AAD.
const SealVersion = 0x01

// Sizes of the sealed box parts.
const (
	NonceSize = 12
	TagSize   = 16
	// SealOverhead is what Seal adds to the plaintext.
	SealOverhead = 1 + NonceSize + TagSize
)

// Errors from Open. They say what is wrong without echoing any input.
var (
	ErrSealedTooShort = errors.New("sealed box is too short")
	ErrSealedVersion  = errors.New("sealed box has an unknown version")
	ErrDecrypt        = errors.New("decryption failed: wrong key, wrong context, or tampered data")
)

// Seal encrypts plaintext under key with AES-256-GCM and a fresh random IV:
// 0x01 || iv || ciphertext || tag, with 0x01 || aad as the GCM AAD so the
// version byte is authenticated too.
func Seal(key *[KeySize]byte, plaintext, aad []byte) ([]byte, error) {
	return seal(rand.Reader, key, plaintext, aad)
}

func seal(rnd io.Reader, key *[KeySize]byte, plaintext, aad []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+NonceSize, SealOverhead+len(plaintext))
	out[0] = SealVersion
	if _, err := io.ReadFull(rnd, out[1:1+NonceSize]); err != nil {
		return nil, fmt.Errorf("read random iv: %w", err)
	}
	return aead.Seal(out, out[1:1+NonceSize], plaintext, versionedAAD(aad)), nil
}

// Open reverses Seal. It fails with ErrDecrypt for any wrong key, wrong
// aad or modified byte.
func Open(key *[KeySize]byte, box, aad []byte) ([]byte, error) {
	if len(box) < SealOverhead {
		return nil, ErrSealedTooShort
	}
	if box[0] != SealVersion {
		return nil, ErrSealedVersion
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, box[1:1+NonceSize], box[1+NonceSize:], versionedAAD(aad))
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func versionedAAD(aad []byte) []byte {
	v := make([]byte, 0, 1+len(aad))
	v = append(v, SealVersion)
	return append(v, aad...)
}

func newGCM(key *[KeySize]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return aead, nil
}
