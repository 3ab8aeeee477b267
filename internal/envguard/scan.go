package envguard

import (
	"strings"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/wrap"
)

// AllowMark marks a value as public on its line: an inline comment that is
// `capy:allow`, or starts with `capy:allow` and a space and a reason
// (`PORT=8080 # capy:allow not a secret`). The scan passes such a value.
const AllowMark = "capy:allow"

// Why a value is reported.
const (
	ReasonPlaintext      = "plaintext"         // a value in the clear
	ReasonBadSnippet     = "malformed-snippet" // starts with capy: but is no well-formed snippet
	ReasonBadSealedValue = "malformed-sealed"  // starts with capy:age: but is no well-formed sealed value
)

// Finding is a value the scan refuses: where it is, never what it is.
type Finding struct {
	Line   int    `json:"line"`   // 1-based line on which the entry starts
	Name   string `json:"name"`   // the variable's name (names are not secret)
	Reason string `json:"reason"` // one of the Reason constants
}

// Allowed reports whether an inline comment marks its value public.
func Allowed(comment string) bool {
	rest, ok := strings.CutPrefix(comment, AllowMark)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// Scan reads a .env file and returns, in file order, the values that are
// neither empty, nor a well-formed snippet (`capy:RID:…`) or sealed value
// (`capy:age:…`), nor marked with AllowMark. A file that does not parse is
// an error (an *envfile.SyntaxError naming the line, never a value): a
// guard must not pass what it cannot read.
//
// A well-formed snippet passes on its shape alone: without a key nobody can
// tell a snippet from random text of the same shape, and a value that
// happens to have it is no secret a person typed.
func Scan(data []byte) ([]Finding, error) {
	doc, err := envfile.Parse(data)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, e := range doc.Entries() {
		if reason := classify(e.Value); reason != "" && !Allowed(doc.Comment(e.Name)) {
			out = append(out, Finding{Line: e.Line, Name: e.Name, Reason: reason})
		}
	}
	return out, nil
}

// classify returns why value is reported, or "" when it passes.
func classify(value string) string {
	switch {
	case value == "":
		return ""
	case wrap.IsSealed(value):
		if _, err := wrap.ParseSealed(value); err != nil {
			return ReasonBadSealedValue
		}
		return ""
	case wrap.IsSnippet(value):
		if _, err := wrap.ParseSnippet(value); err != nil {
			return ReasonBadSnippet
		}
		return ""
	}
	return ReasonPlaintext
}
