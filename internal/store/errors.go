package store

import "errors"

// Domain errors. Every error a Store returns either matches one of these
// with errors.Is, or wraps context.Canceled / context.DeadlineExceeded, or is
// an opaque internal error: no driver error (pgx, pgconn, sqlite) ever
// crosses the interface. Messages are for logs, not for clients.
var (
	// ErrNotFound: the addressed object does not exist (or is not visible
	// to the caller).
	ErrNotFound = errors.New("not found")
	// ErrExists: an object with this id or unique name already exists.
	ErrExists = errors.New("already exists")
	// ErrConflict: a precondition on the current state failed: a push or
	// rotate not based on the head, or an epoch that is not the current
	// (or next) one. The client should fetch and retry.
	ErrConflict = errors.New("conflict with the current state")
	// ErrInvalid: the input is malformed (bad id, e-mail, key size, …).
	ErrInvalid = errors.New("invalid input")

	// ErrUnauthenticated: no session for this token hash, or it expired
	// (idle or absolute) or was revoked; for DeployDecrypt, an unknown
	// deploy id or a wrong verifier.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrNotMember: the caller has no membership in the org.
	ErrNotMember = errors.New("not a member")
	// ErrRevoked: the caller's membership was revoked (kicked); for
	// invites and deploy tokens, the invite or token was revoked.
	ErrRevoked = errors.New("revoked")
	// ErrForbidden: the caller is a member but the role or the identity
	// does not allow the operation (e.g. an admin changing roles, a
	// redeem from another e-mail address).
	ErrForbidden = errors.New("forbidden")
	// ErrLastOwner: the operation would leave the org without an active
	// owner.
	ErrLastOwner = errors.New("the org must keep at least one owner")
	// ErrExpired: an invite or deploy token is past its expiry, or a login
	// code is past its lifetime.
	ErrExpired = errors.New("expired")
	// ErrConsumed: the invite was already consumed by its invitee's wrap.
	ErrConsumed = errors.New("already consumed")

	// ErrBadCode: the login code is wrong, or there is no pending code for
	// the address.
	ErrBadCode = errors.New("wrong or unknown login code")
	// ErrCodeLocked: too many wrong attempts; the code is dead even if the
	// next attempt is right. A new code must be requested.
	ErrCodeLocked = errors.New("login code locked after too many attempts")

	// ErrChainBroken: the stored audit chain does not verify.
	ErrChainBroken = errors.New("audit chain does not verify")

	// ErrUnavailable: the database is unreachable, busy past its timeout,
	// or shutting down; the request may be retried later.
	ErrUnavailable = errors.New("database unavailable")

	// ErrSchemaTooNew: the database was migrated by a newer capyd than
	// this binary knows; it refuses to run on it.
	ErrSchemaTooNew = errors.New("database schema is newer than this capyd")
	// ErrSchemaOutdated: the database lacks migrations this binary needs;
	// run `capyd migrate` (or start with migrations enabled).
	ErrSchemaOutdated = errors.New("database schema is older than this capyd")
)
