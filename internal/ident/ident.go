// Package ident validates and canonicalises the identifiers that appear in
// derivations, paths and AAD strings: object ids, e-mail addresses and
// variable names. Client and server share it so both sides agree byte for
// byte on what an identifier is; a mismatch here would be a silent key
// mismatch elsewhere.
package ident

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Kind is the three-letter type prefix of an id.
type Kind string

// The kinds of object that carry ids.
const (
	Org     Kind = "org"
	Project Kind = "prj"
	Env     Kind = "env"
	User    Kind = "usr"
	Invite  Kind = "inv"
	Deploy  Kind = "dep"
	Session Kind = "ses"
)

// idRandomLen is the number of base32 characters after the prefix: 26
// characters carry 130 bits, above the 128 the design requires.
const idRandomLen = 26

// B32 is RFC 4648 base32 with the lowercase alphabet and no padding, the
// encoding of ids and rids.
var B32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// The accepted shapes are those of DESIGN §2.0, written as regular
// expressions:
//
//	id      ^[a-z]{3}_[a-z2-7]{26}$
//	e-mail  ^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$
//	name    ^[A-Za-z_][A-Za-z0-9_.]*$
//
// They are checked by the byte loops below instead (isID, isEmail,
// isName): CheckName runs for every snippet a command opens, and the
// regexp package's compilation at start-up and its matching cost every
// command time (docs/decisions.md). The tests keep the expressions as the
// reference: a table test and a differential fuzz target check that the
// loops accept exactly what they match.

// Errors returned by the validators; callers match them with errors.Is.
var (
	ErrBadID    = errors.New("malformed id")
	ErrBadEmail = errors.New("malformed e-mail address")
	ErrBadName  = errors.New("malformed variable name")
)

// MaxEmailLen and MaxNameLen bound e-mail addresses and variable names in bytes.
const (
	MaxEmailLen = 254
	MaxNameLen  = 256
)

// NewID returns a fresh random id of the given kind, such as
// "org_" followed by 26 base32 characters.
func NewID(k Kind) string {
	var b [17]byte // 136 bits; the encoding is cut to 26 characters (130 bits)
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ crashes
		// instead); keep the guard so a future change cannot yield a weak id.
		panic(fmt.Sprintf("ident: crypto/rand failed: %v", err))
	}
	return string(k) + "_" + B32.EncodeToString(b[:])[:idRandomLen]
}

// CheckID reports whether s is a well-formed id of kind k. Every id received
// from outside is checked before it is used in a path, AAD or derivation.
func CheckID(k Kind, s string) error {
	if !isID(s) || !strings.HasPrefix(s, string(k)+"_") {
		return fmt.Errorf("%w: want a %q id", ErrBadID, string(k))
	}
	return nil
}

// IsID reports whether s has the shape of any id (any three-letter prefix).
func IsID(s string) bool { return isID(s) }

// CanonicalEmail returns the canonical form of an e-mail address: ASCII
// spaces trimmed, A-Z lowercased, then checked against the accepted shape.
// Non-ASCII input is refused rather than normalised, because Unicode
// normalisation differs between implementations and the result feeds key
// derivations.
func CanonicalEmail(s string) (string, error) {
	s = strings.Trim(s, " ")
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", fmt.Errorf("%w: only ASCII addresses are accepted", ErrBadEmail)
		}
	}
	s = asciiLower(s)
	if len(s) > MaxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrBadEmail, MaxEmailLen)
	}
	if !isEmail(s) {
		return "", fmt.Errorf("%w: expected something like name@example.com", ErrBadEmail)
	}
	return s, nil
}

// CheckName reports whether s is an acceptable variable name.
func CheckName(s string) error {
	if len(s) == 0 || len(s) > MaxNameLen {
		return fmt.Errorf("%w: must be 1 to %d bytes", ErrBadName, MaxNameLen)
	}
	if !isName(s) {
		return fmt.Errorf("%w: use letters, digits, '_' and '.', not starting with a digit or '.'", ErrBadName)
	}
	return nil
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// isID matches ^[a-z]{3}_[a-z2-7]{26}$.
func isID(s string) bool {
	if len(s) != 3+1+idRandomLen || s[3] != '_' {
		return false
	}
	for i := 0; i < 3; i++ {
		if c := s[i]; c < 'a' || c > 'z' {
			return false
		}
	}
	for i := 4; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// isEmail matches ^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$:
// a non-empty local part, one '@', then at least two non-empty labels
// separated by single dots.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at < 1 {
		return false
	}
	for i := 0; i < at; i++ {
		if !isLocalByte(s[i]) {
			return false
		}
	}
	labels, n := 0, 0 // labels seen, length of the current label
	for i := at + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if n == 0 {
				return false
			}
			labels, n = labels+1, 0
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-':
			n++
		default:
			return false
		}
	}
	return n > 0 && labels >= 1
}

// isLocalByte reports whether c may appear in the local part of an
// address: [a-z0-9.!#$%&'*+/=?^_{|}~-].
func isLocalByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte(".!#$%&'*+/=?^_{|}~-", c) >= 0
}

// isName matches ^[A-Za-z_][A-Za-z0-9_.]*$.
func isName(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
