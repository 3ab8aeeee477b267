package ident

// The byte loops, for the differential tests against the regular
// expressions of DESIGN §2.0 (ident_test.go, fuzz_test.go).
var (
	MatchID    = isID
	MatchEmail = isEmail
	MatchName  = isName
)
