package ident

import (
	"crypto/rand"
	"fmt"
)

// ShareIDLen is the length of a share's id (a share request's or a link
// share's): 10 base32 characters, 50 bits. A share id is not a secret
// (a request code carries it in the clear, a link in its path): guessing
// one lets a stranger at most spend a share's views, never read it, and
// the routes that take one are rate-limited per IP (docs/decisions.md
// #72).
const ShareIDLen = 10

// NewShareID returns a fresh random share id.
func NewShareID() string {
	var b [7]byte // 56 bits; the encoding is cut to 10 characters (50 bits)
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("ident: crypto/rand failed: %v", err))
	}
	return B32.EncodeToString(b[:])[:ShareIDLen]
}

// CheckShareID reports whether s is a well-formed share id: exactly
// ShareIDLen characters of the lowercase base32 alphabet.
func CheckShareID(s string) error {
	if !IsB32(s, ShareIDLen) {
		return fmt.Errorf("%w: want a share id (%d characters a-z, 2-7)", ErrBadID, ShareIDLen)
	}
	return nil
}

// IsB32 reports whether s is exactly n characters of B32's alphabet.
func IsB32(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}
