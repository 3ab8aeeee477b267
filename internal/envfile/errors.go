package envfile

import (
	"errors"
	"fmt"
)

// SyntaxError reports why Parse refused a file. Msg never contains any part
// of a value, so the error is safe to print and log.
type SyntaxError struct {
	Line int    // 1-based line on which the problem starts
	Msg  string // what is wrong, without value text

	kind errKind // which rule was broken; tests compare it with godotenv
	off  int     // byte offset of the problem in the input
}

// Error implements error as "line N: problem".
func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// errKind classifies syntax errors. The differential tests against godotenv
// accept a refusal of a file godotenv reads only for the deliberate kinds.
type errKind int

const (
	kindSyntax       errKind = iota // godotenv refuses these files too
	kindDuplicate                   // deliberate: a name defined twice
	kindName                        // deliberate: a name godotenv accepts but capy does not
	kindAfterQuote                  // deliberate: text after a closing quote
	kindUTF8                        // deliberate: invalid UTF-8 in a value
	kindLineBreak                   // deliberate: CR without LF, VT, FF, NEL, LS, PS outside quotes
	kindUnterminated                // godotenv refuses these files too
)

// ErrUnrepresentable is returned by Document.Set for a value that no .env
// syntax can express with the requested meaning (for example a value that
// starts with a space, contains a single quote and ends with a double quote).
var ErrUnrepresentable = errors.New("value cannot be written in .env syntax")
