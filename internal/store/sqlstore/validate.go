package sqlstore

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/auditchain"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/store"
)

// sessionKind is the id prefix of sessions. Session ids are internal to
// the service (they name a session in listings), so ident has no Kind for
// them; they have the same shape as every other id.
const sessionKind ident.Kind = "ses"

// Limits on free-text fields.
const (
	maxLabelLen   = 200
	maxOrgNameLen = 200
	maxKeyLen     = 200
	maxCodeLen    = 32
	minCodeLen    = 6
)

var (
	// Project and environment names appear in project.json and on the
	// command line: short, no spaces.
	objectName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	keyCheckRe = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

func checkID(k ident.Kind, id string) error {
	if err := ident.CheckID(k, id); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// checkEmail requires the canonical form: the store does not canonicalise
// silently, the caller must have done it.
func checkEmail(e string) error {
	c, err := ident.CanonicalEmail(e)
	if err != nil {
		return invalid("%v", err)
	}
	if c != e {
		return invalid("e-mail address is not in canonical form")
	}
	return nil
}

// checkText accepts valid UTF-8 without control characters, up to max bytes
// (and at least one byte if required).
func checkText(what, s string, max int, required bool) error {
	if required && s == "" {
		return invalid("%s is empty", what)
	}
	if len(s) > max {
		return invalid("%s is longer than %d bytes", what, max)
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not valid UTF-8", what)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return invalid("%s contains a control character", what)
		}
	}
	return nil
}

func checkObjectName(what, s string) error {
	if !objectName.MatchString(s) {
		return invalid("%s must be 1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or digit", what)
	}
	return nil
}

func checkCode(code string) error {
	if len(code) < minCodeLen || len(code) > maxCodeLen {
		return invalid("login code must be %d to %d digits", minCodeLen, maxCodeLen)
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return invalid("login code must be digits")
		}
	}
	return nil
}

func checkRole(r store.Role) error {
	if !r.Valid() {
		return invalid("unknown role %q", r)
	}
	return nil
}

// checkNewVersion checks the shape of a blob and the manifest fields the
// service read from it; whether it fits the head is checked under lock.
func checkNewVersion(v store.NewVersion) error {
	if v.Version < 1 || v.Epoch < 1 {
		return invalid("version and epoch start at 1")
	}
	if len(v.Blob) == 0 {
		return invalid("empty blob")
	}
	sum := sha256.Sum256(v.Blob)
	if v.ID != hex.EncodeToString(sum[:]) {
		return invalid("blob id is not the SHA-256 of the blob")
	}
	if v.ParentID != store.FirstParent && !auditchain.ValidHash(v.ParentID) {
		return invalid("parent id must be %q or a hex SHA-256", store.FirstParent)
	}
	if (v.Version == 1) != (v.ParentID == store.FirstParent) {
		return invalid("version 1, and only version 1, has parent %q", store.FirstParent)
	}
	return nil
}

const signingKeyLen = 32 // Ed25519 public key

func checkSigningKey(k []byte) error {
	if len(k) != signingKeyLen {
		return invalid("signing key must be a %d-byte Ed25519 public key", signingKeyLen)
	}
	return nil
}
