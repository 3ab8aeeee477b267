package keys

// export is the identity in age's text form (AGE-SECRET-KEY-PQ-1…), for
// `age -d -i` in the interop test and the vector check. It lives in a
// test file so that no production build has a method that prints a
// secret key.
func (a *AgeIdentity) export() string { return a.id.String() }
