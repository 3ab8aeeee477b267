package wrap

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// B64 is base64url without padding, decoding strictly: non-canonical
// trailing bits are rejected so every byte string has exactly one text form.
var B64 = base64.RawURLEncoding.Strict()

// KeySize is the size of every symmetric key in capy.
const KeySize = 32

// DeriveKey returns HKDF-SHA256(ikm, salt, info) truncated to 32 bytes.
// Every derived key in capy comes from this function.
func DeriveKey(ikm, salt []byte, info string) [KeySize]byte {
	var k [KeySize]byte
	copy(k[:], DeriveKeyN(ikm, salt, info, KeySize))
	return k
}

// DeriveKeyN returns n bytes of HKDF-SHA256(ikm, salt, info), 1 ≤ n ≤ 8160.
func DeriveKeyN(ikm, salt []byte, info string, n int) []byte {
	out, err := hkdf.Key(sha256.New, ikm, salt, info, n)
	if err != nil {
		// Only a length above 255*32 or a FIPS-mode restriction can fail;
		// callers use fixed small lengths, so failing loudly is safer than
		// returning a zero key.
		panic(fmt.Sprintf("wrap: hkdf: %v", err))
	}
	return out
}
