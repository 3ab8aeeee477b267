package recovery

import (
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/privfile"
	"github.com/capy-oss/capy/internal/slip39"
)

// What the CLI needs of the layers below, so that cmd/capy holds no key
// or share code of its own (internal/arch TestCLIHoldsNoCrypto).

// Scheme and Group describe a split (slip39's types).
type (
	Scheme          = slip39.Scheme
	Group           = slip39.Group
	IncompleteError = slip39.IncompleteError
)

// MaxShareCount bounds the shares of a group and the groups of a scheme.
const MaxShareCount = slip39.MaxShareCount

// The share errors the CLI tells apart (slip39's sentinels).
var (
	ErrIncomplete  = slip39.ErrIncomplete
	ErrDigest      = slip39.ErrDigest
	ErrLength      = slip39.ErrLength
	ErrUnknownWord = slip39.ErrUnknownWord
	ErrChecksum    = slip39.ErrChecksum
	ErrPadding     = slip39.ErrPadding
	ErrParameters  = slip39.ErrParameters
	ErrOtherSet    = slip39.ErrOtherSet
	ErrDuplicate   = slip39.ErrDuplicate
	ErrNotNeeded   = slip39.ErrNotNeeded
	ErrPassphrase  = slip39.ErrPassphrase
)

// ParsePhrase reads a recovery phrase as typed (keys.ParsePhrase: any case
// and spacing; a wrong word, length or checksum is named).
func ParsePhrase(typed string) (string, error) { return keys.ParsePhrase(typed) }

// WriteShareFile creates the 0600 file of one share at path, whole or not
// at all; created is false when a file was already there (it is left as
// it was).
func WriteShareFile(path string, kit *Kit, s Share) (created bool, err error) {
	_, created, err = privfile.CreateOnce(path, []byte(FileText(kit, s)), 0o600, 1<<16)
	return created, err
}
