// Package envguard holds what guards a repository's .env files without any
// key: the leak scan (capy scan and its pre-commit hook) finds values that
// are not capy snippets or sealed values, and the .env.example template
// lists an environment's names with their values left out. Both read only
// what a .env file shows in the clear, its names, comments and the shape
// of its values, so they need no service, no account and no key.
//
// Pure: bytes in, findings or bytes out. Nothing here reports a value.
package envguard
