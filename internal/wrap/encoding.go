package wrap

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// B64 is base64url without padding, decoding strictly: non-canonical
// trailing bits are rejected. Its decoder still skips '\r' and '\n'
// anywhere in the input, so parsers decode with DecodeB64, which refuses
// them: every byte string then has exactly one text form.
var B64 = base64.RawURLEncoding.Strict()

// DecodeB64 decodes strict unpadded base64url and refuses CR and LF, which
// encoding/base64 would otherwise silently skip.
func DecodeB64(s string) ([]byte, error) {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return nil, base64.CorruptInputError(i)
	}
	return B64.DecodeString(s)
}

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
