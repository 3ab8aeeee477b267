package wrap

import (
	"errors"
	"strings"
)

// SealedPrefix starts a sealed value: a value anyone holding project.json
// can encrypt to an environment's age recipient and only its members and
// CI runners can open (docs/protocol.md §14). After `capy:` comes "age:",
// which a snippet's rid cannot be: a rid is exactly five base32
// characters followed by ':'.
const SealedPrefix = "capy:age:"

// MaxSealedLen caps the text of one sealed value (prefix included), like
// MaxSnippetLen caps a snippet's, so a hostile .env cannot make a reader
// allocate much. A 64 KiB value sealed to a hybrid recipient is about
// 90 KiB of text.
const MaxSealedLen = MaxSnippetLen

// ageHeader is how every age v1 file begins.
const ageHeader = "age-encryption.org/v1\n"

// ErrSealedFormat means a value starts like a sealed value but is not one:
// truncated, oversized, not base64url or not an age file.
var ErrSealedFormat = errors.New("not a well-formed sealed value (capy:age: followed by base64url of an age file, at most 96 KiB)")

// IsSealed reports whether a value has the sealed-value prefix. It does not
// validate the rest; ParseSealed does.
func IsSealed(value string) bool { return strings.HasPrefix(value, SealedPrefix) }

// ParseSealed checks a sealed value's shape and returns the age file it
// carries. It does not decrypt.
func ParseSealed(text string) ([]byte, error) {
	if len(text) > MaxSealedLen || !IsSealed(text) {
		return nil, ErrSealedFormat
	}
	file, err := DecodeB64(text[len(SealedPrefix):])
	if err != nil || !strings.HasPrefix(string(file), ageHeader) {
		return nil, ErrSealedFormat
	}
	return file, nil
}

// FormatSealed is the inverse of ParseSealed.
func FormatSealed(ageFile []byte) string {
	return SealedPrefix + B64.EncodeToString(ageFile)
}
