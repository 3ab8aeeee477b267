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

	// ErrUserDisabled: an operator disabled the user (DisableUser); they
	// may not sign in.
	ErrUserDisabled = errors.New("user disabled by the operator")

	// ErrChainBroken: the stored audit chain does not verify.
	ErrChainBroken = errors.New("audit chain does not verify")

	// ErrUnavailable: the database is unreachable, busy past its timeout,
	// or shutting down; the request may be retried later.
	ErrUnavailable = errors.New("database unavailable")

	// ErrSessionExpired: the session exists but its idle or absolute
	// lifetime has passed. It matches ErrUnauthenticated too, so callers
	// that do not care about the difference need not check it.
	ErrSessionExpired = &wrapped{msg: "session expired", is: ErrUnauthenticated}
	// ErrMembershipRevoked: the caller's own membership of the org was
	// revoked (kicked). It matches ErrRevoked too; a plain ErrRevoked is
	// about an invite or a deploy token.
	ErrMembershipRevoked = &wrapped{msg: "membership revoked", is: ErrRevoked}
	// ErrMemberNotActive: the target membership exists but is revoked
	// (a role change for a kicked member).
	ErrMemberNotActive = errors.New("membership is not active")
	// ErrAlreadyMember: a member invite for an address whose membership in
	// the org is active. It matches ErrExists too.
	ErrAlreadyMember = &wrapped{msg: "already an active member", is: ErrExists}
	// ErrLimitReached: a count limit (open invites per org, active deploy
	// tokens per environment, projects per org, environments per project)
	// would be exceeded. Returned as a *LimitError carrying the limit.
	ErrLimitReached = errors.New("limit reached")

	// ErrSchemaTooNew: the database was migrated by a newer capyd than
	// this binary knows; it refuses to run on it.
	ErrSchemaTooNew = errors.New("database schema is newer than this capyd")
	// ErrSchemaOutdated: the database lacks migrations this binary needs;
	// run `capyd migrate` (or start with migrations enabled).
	ErrSchemaOutdated = errors.New("database schema is older than this capyd")
)

// wrapped is a sentinel error that also matches another sentinel.
type wrapped struct {
	msg string
	is  error
}

func (w *wrapped) Error() string        { return w.msg }
func (w *wrapped) Is(target error) bool { return target == w.is }

// ConflictReason says which precondition of a push, rotation or deploy
// mint failed.
type ConflictReason int

// The conflict reasons.
const (
	// ConflictVersion: the version is not head + 1 or the parent is not
	// the head's id.
	ConflictVersion ConflictReason = iota + 1
	// ConflictEpoch: the epoch is not the environment's current one (for a
	// rotation: not current + 1).
	ConflictEpoch
)

// ConflictError is the ErrConflict of Push, RotateEnv and CreateDeploy:
// it says which precondition failed and what the environment holds now,
// so the service can tell the client (docs/api.md version-conflict and
// epoch-mismatch).
type ConflictError struct {
	Reason      ConflictReason
	Epoch       int64  // the environment's current epoch
	HeadVersion int64  // 0 when there is no head
	HeadID      string // "" when there is no head
}

// Error describes the conflict for logs.
func (e *ConflictError) Error() string {
	if e.Reason == ConflictEpoch {
		return "conflict with the current state: epoch mismatch"
	}
	return "conflict with the current state: not based on the head"
}

// Is makes a *ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// LimitError is ErrLimitReached with the limit that was hit.
type LimitError struct {
	What  string // "open invites", "active deploy tokens", "projects", "environments"
	Limit int
}

// Error names the limit for logs.
func (e *LimitError) Error() string { return "limit reached: " + e.What }

// Is makes a *LimitError match ErrLimitReached.
func (e *LimitError) Is(target error) bool { return target == ErrLimitReached }

// ExistsError is ErrExists naming what is taken: "id" or "name".
type ExistsError struct {
	Field string
}

// Error names what is taken, for logs.
func (e *ExistsError) Error() string { return "already exists: " + e.Field }

// Is makes an *ExistsError match ErrExists.
func (e *ExistsError) Is(target error) bool { return target == ErrExists }
