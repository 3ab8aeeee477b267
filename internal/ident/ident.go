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
	"regexp"
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

var (
	idPattern    = regexp.MustCompile(`^[a-z]{3}_[a-z2-7]{26}$`)
	emailPattern = regexp.MustCompile(`^[a-z0-9.!#$%&'*+/=?^_{|}~-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$`)
	namePattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)
)

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
	if !idPattern.MatchString(s) || !strings.HasPrefix(s, string(k)+"_") {
		return fmt.Errorf("%w: want a %q id", ErrBadID, string(k))
	}
	return nil
}

// IsID reports whether s has the shape of any id (any three-letter prefix).
func IsID(s string) bool { return idPattern.MatchString(s) }

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
	if !emailPattern.MatchString(s) {
		return "", fmt.Errorf("%w: expected something like name@example.com", ErrBadEmail)
	}
	return s, nil
}

// CheckName reports whether s is an acceptable variable name.
func CheckName(s string) error {
	if len(s) == 0 || len(s) > MaxNameLen {
		return fmt.Errorf("%w: must be 1 to %d bytes", ErrBadName, MaxNameLen)
	}
	if !namePattern.MatchString(s) {
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
