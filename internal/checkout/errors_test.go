package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/capy-oss/capy/internal/envfile"
	"github.com/capy-oss/capy/internal/envsync"
	"github.com/capy-oss/capy/internal/keys"
	"github.com/capy-oss/capy/internal/wrap"
)

// TestKindOf: every error of the packages below that the CLI tells apart
// has its kind, also when wrapped; anything else is KindOther.
func TestKindOf(t *testing.T) {
	_, syntax := envfile.Parse([]byte("A=\"unterminated\n"))
	if syntax == nil {
		t.Fatal("the .env parser took an unterminated quote")
	}
	cases := []struct {
		err  error
		want Kind
	}{
		{&envsync.ConflictError{}, KindConflict},
		{keys.ErrKeyCheck, KindWrongKey},
		{keys.ErrInsecureFile, KindInsecureFile},
		{wrap.ErrOuterAnswer, KindOuterAnswer},
		{envsync.ErrReadOnly, KindReadOnly},
		{wrap.ErrBadSignature, KindTampered},
		{wrap.ErrRollback, KindTampered},
		{wrap.ErrForked, KindTampered},
		{wrap.ErrParentMismatch, KindTampered},
		{wrap.ErrEpochRollback, KindTampered},
		{wrap.ErrVersionMismatch, KindTampered},
		{envsync.ErrDuplicateName, KindTampered},
		{wrap.ErrWrongEpoch, KindTampered},
		{wrap.ErrNotRequested, KindTampered},
		{wrap.ErrBlobFormat, KindTampered},
		{wrap.ErrBlobDuplicateLine, KindTampered},
		{wrap.ErrBlobUnsorted, KindTampered},
		{envsync.ErrBadState, KindStateDamaged},
		{wrap.ErrSnippetName, KindSnippetMoved},
		{wrap.ErrSnippetRid, KindSnippetMoved},
		{wrap.ErrCodeMistyped, KindCodeMistyped},
		{wrap.ErrCodeFormat, KindBadCode},
		{wrap.ErrCodeKind, KindBadCode},
		{keys.ErrPhraseWord, KindBadPhrase},
		{keys.ErrPhraseChecksum, KindBadPhrase},
		{keys.ErrPhraseLength, KindBadPhrase},
		{syntax, KindEnvSyntax},
		{fs.ErrNotExist, KindOther},
		{errors.New("anything else"), KindOther},
		// The first kind in the order of the constants wins.
		{errors.Join(wrap.ErrForked, keys.ErrKeyCheck), KindWrongKey},
		{errors.Join(syntax, keys.ErrPhraseWord), KindBadPhrase},
	}
	for _, c := range cases {
		if got := KindOf(c.err); got != c.want {
			t.Errorf("KindOf(%v) = %d, want %d", c.err, got, c.want)
		}
		if got := KindOf(fmt.Errorf("context: %w", c.err)); got != c.want {
			t.Errorf("KindOf(wrapped %v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// TestRefusal: a refusal reads as the error it wraps and keeps it for
// errors.Is.
func TestRefusal(t *testing.T) {
	err := fmt.Errorf("outer: %w", refuse(fs.ErrNotExist, "not-found", "look elsewhere"))
	var r *Error
	if !errors.As(err, &r) || r.Code != "not-found" || r.Hint != "look elsewhere" || r.Error() != fs.ErrNotExist.Error() {
		t.Fatalf("refusal = %#v", r)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the refusal hides the error it wraps")
	}
}

// TestDotenvLine: docker's --env-file takes the rest of the line as the
// value, so a value is quoted only where it must be, and a line break is
// refused rather than mangled.
func TestDotenvLine(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{"plain", "A=plain\n"},
		{"has $HOME", "A='has $HOME'\n"},
	} {
		got, err := DotenvLine("A", c.value)
		if err != nil || string(got) != c.want {
			t.Errorf("DotenvLine(A, %q) = %q, %v; want %q", c.value, got, err, c.want)
		}
	}
	var r *Error
	if _, err := DotenvLine("A", "two\nlines"); !errors.As(err, &r) || r.Code != "unexportable" {
		t.Errorf("a line break: %v, want unexportable", err)
	}
}
