package checkout

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
