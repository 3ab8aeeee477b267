package checkout

import (
	"errors"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// Error is a refusal of a use-case with its stable code (docs/cli.md §5)
// and the next step to suggest; cmd/capy maps the code to an exit status.
// Its message is the wrapped error's.
type Error struct {
	Code string
	Hint string
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(err error, code, hint string) error {
	return &Error{Code: code, Hint: hint, Err: err}
}

// Kind sorts the errors of the packages below (formats, keys, the merge,
// the .env parser) into what the CLI tells apart, so that cmd/capy maps
// them to codes and hints without importing any of those packages.
type Kind int

const (
	KindOther Kind = iota
	// KindConflict: the merge found conflicting changes; nothing changed.
	KindConflict
	// KindWrongKey: a key (phrase, invite) is not this organisation's.
	KindWrongKey
	// KindInsecureFile: a key file others could read.
	KindInsecureFile
	// KindOuterAnswer: the service's re-wrap of key.enc is not of this
	// machine's key.
	KindOuterAnswer
	// KindReadOnly: a runner's key cannot change values.
	KindReadOnly
	// KindTampered: the service's data fails verification (signature,
	// rollback, fork, epoch, a malformed blob).
	KindTampered
	// KindStateDamaged: state.json cannot be trusted.
	KindStateDamaged
	// KindSnippetMoved: a snippet was copied onto another variable.
	KindSnippetMoved
	// KindCodeMistyped: a redeem or deploy code with a typo.
	KindCodeMistyped
	// KindBadCode: not a code of the kind asked for.
	KindBadCode
	// KindBadPhrase: a recovery phrase that is not 24 valid words.
	KindBadPhrase
	// KindEnvSyntax: a .env line capy cannot read.
	KindEnvSyntax
)

// KindOf returns the kind of err. Where an error could be of two kinds,
// the first in the order of the constants wins, except KindEnvSyntax,
// which only an error of no other kind is.
func KindOf(err error) Kind {
	var conflict *envsync.ConflictError
	switch {
	case errors.As(err, &conflict):
		return KindConflict
	case errors.Is(err, keys.ErrKeyCheck):
		return KindWrongKey
	case errors.Is(err, keys.ErrInsecureFile):
		return KindInsecureFile
	case errors.Is(err, wrap.ErrOuterAnswer):
		return KindOuterAnswer
	case errors.Is(err, envsync.ErrReadOnly):
		return KindReadOnly
	case errors.Is(err, wrap.ErrBadSignature), errors.Is(err, wrap.ErrRollback), errors.Is(err, wrap.ErrForked),
		errors.Is(err, wrap.ErrParentMismatch), errors.Is(err, wrap.ErrEpochRollback), errors.Is(err, wrap.ErrVersionMismatch),
		errors.Is(err, envsync.ErrDuplicateName), errors.Is(err, wrap.ErrWrongEpoch), errors.Is(err, wrap.ErrNotRequested),
		// A served blob that fails the shape check (truncated, a line
		// repeated or out of order) is tampering too, not a local error.
		errors.Is(err, wrap.ErrBlobFormat), errors.Is(err, wrap.ErrBlobDuplicateLine), errors.Is(err, wrap.ErrBlobUnsorted):
		return KindTampered
	case errors.Is(err, envsync.ErrBadState):
		return KindStateDamaged
	case errors.Is(err, wrap.ErrSnippetName), errors.Is(err, wrap.ErrSnippetRid):
		return KindSnippetMoved
	case errors.Is(err, wrap.ErrCodeMistyped):
		return KindCodeMistyped
	case errors.Is(err, wrap.ErrCodeFormat), errors.Is(err, wrap.ErrCodeKind):
		return KindBadCode
	case errors.Is(err, keys.ErrPhraseWord), errors.Is(err, keys.ErrPhraseChecksum), errors.Is(err, keys.ErrPhraseLength):
		return KindBadPhrase
	}
	var se *envfile.SyntaxError
	if errors.As(err, &se) {
		return KindEnvSyntax
	}
	return KindOther
}
