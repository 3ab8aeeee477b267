package checkout

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

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
