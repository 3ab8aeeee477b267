package store

import "context"

// HookPoint names a place inside an operation's transaction where a test
// may pause it, to force an interleaving of concurrent operations.
type HookPoint string

// The hook points. Each is reached with the operation's locks held and its
// transaction still open.
const (
	// HookCoDecryptLocked: AuthorizeCoDecrypt has read and locked the
	// membership and is about to append its audit row.
	HookCoDecryptLocked HookPoint = "co-decrypt:membership-locked"
	// HookKickLocked: Kick has revoked the membership, invites and deploy
	// tokens and is about to append its audit row.
	HookKickLocked HookPoint = "kick:membership-locked"
	// HookPushLocked: Push has locked the environment row and checked the
	// precondition, and is about to store the blob.
	HookPushLocked HookPoint = "push:env-locked"
	// HookSessionChecked: a write operation that authenticates by session
	// (every one but the gate's) has read and locked the session row and
	// is about to do its work.
	HookSessionChecked HookPoint = "session:checked"
	// HookSessionRevoked: RevokeSession has deleted the session row and
	// is about to commit.
	HookSessionRevoked HookPoint = "session-revoke:deleted"
)

type hookKey struct{}

// WithHook returns a context under which an operation calls fn each time
// it reaches a HookPoint (possibly more than once if the transaction is
// retried). For the conformance suite; production code never sets it.
func WithHook(ctx context.Context, fn func(HookPoint)) context.Context {
	return context.WithValue(ctx, hookKey{}, fn)
}

// RunHook calls the hook of ctx, if any, at point p. Implementations call
// it at the documented points.
func RunHook(ctx context.Context, p HookPoint) {
	if fn, ok := ctx.Value(hookKey{}).(func(HookPoint)); ok && fn != nil {
		fn(p)
	}
}
