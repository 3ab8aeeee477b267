// Package importfmt reads what other tools leave behind into plain entries
// for `capy import`: a JSON or YAML object of names to values, and a
// dotenvx-encrypted .env with its .env.keys (decrypted here).
//
// It is pure: bytes in, entries out. Reading files, running sops and
// sealing the entries is internal/checkout's work; a parser here refuses
// bad input as a whole (an error and no entries), so that `capy import`
// writes nothing for it. Errors name the line or the name, never a value:
// the input is secrets.
package importfmt

import (
	"errors"
	"fmt"
)

// Entry is one imported value. Literal values are never expanded
// (${VAR} stays as written), as a single-quoted .env value.
type Entry struct {
	Name    string
	Value   string
	Literal bool
}

// ErrFormat marks input a parser refuses: the message says what is wrong
// and where.
var ErrFormat = errors.New("not importable")

// formatError is a refusal: its text is the message alone, and it is
// ErrFormat to errors.Is.
type formatError struct{ err error }

func (e *formatError) Error() string        { return e.err.Error() }
func (e *formatError) Unwrap() error        { return e.err }
func (e *formatError) Is(target error) bool { return target == ErrFormat }

// bad builds a refusal (%w wraps as fmt.Errorf does).
func bad(format string, a ...any) error {
	return &formatError{fmt.Errorf(format, a...)}
}
