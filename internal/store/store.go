// Package store defines capyd's storage: one interface whose methods are
// whole operations, each one database transaction, with its contract in
// its doc comment. Two implementations satisfy it — store/sqlite (the
// embedded default, pure Go) and store/postgres (pgx, for production and
// several replicas) — and one conformance suite (store/storetest) checks
// both against the same contracts.
//
// The service's security properties live here, inside the transactions, so
// they hold identically in both dialects and on every replica:
//
//   - Every operation that can lead to a decryption (co-decrypt, wrap,
//     redeem, deploy decrypt) checks the session or deploy verifier and the
//     membership inside its transaction, with the membership row locked
//     against a concurrent kick, and writes its audit row in the same
//     transaction. A nil error means the audit row is committed: the caller
//     may release key material only after that. There is no membership
//     cache.
//   - Role checks use the membership read inside the transaction.
//   - A rejected request changes nothing, with two documented exceptions:
//     a wrong login code counts an attempt, and a co-decrypt or deploy
//     decrypt refused to a revoked principal is itself audited (see
//     AuthorizeCoDecrypt and DeployDecrypt).
//   - Memberships are never deleted; a kick marks them revoked and revokes,
//     in the same transaction, the member's pending invites and deploy
//     tokens.
//   - The audit log is one hash chain per org (package auditchain) whose
//     head row is locked for update by every append, so concurrent writers
//     on any number of connections or replicas extend one unbroken chain.
//
// Secrets are never stored in plaintext: sessions by SHA-256 of the token,
// login codes by HMAC-SHA256 under a server-side pepper, deploy tokens by
// the verifier SHA-256(auth key) the client derived. Ids of users and
// sessions are issued by the store, ids of invites and deploys by the
// service (ident.NewID, before the call, because the outer wrap binds
// them), ids of orgs, projects and environments by clients; all are checked
// with ident.CheckID.
//
// All times are UTC, truncated to microseconds (both dialects store them
// exactly), and come from Config.Now so tests can move the clock.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store is capyd's storage. Implementations are safe for concurrent use.
//
// Unless a method says otherwise: tok is the TokenHash of the caller's
// session, checked (not expired, not revoked) inside the operation's
// transaction, which returns ErrUnauthenticated if it fails; org-scoped
// methods return ErrNotMember if the caller has no membership in the org
// (or the org does not exist) and ErrRevoked if it was revoked; input that
// fails validation returns ErrInvalid before anything is read.
type Store interface {
	io.Closer

	// ----- login codes, users, sessions -----

	// CreateLoginCode records a login code for a canonical e-mail address,
	// replacing any pending one for that address (and its attempt count).
	// Only HMAC-SHA256(pepper, email, code) is stored; the code expires
	// after ttl (Config.LoginCodeTTL when ttl ≤ 0). code must be at least 6
	// digits. Limiting how often codes are requested is the caller's job
	// (see RateLimit).
	CreateLoginCode(ctx context.Context, email, code string, ttl time.Duration) (LoginCode, error)

	// VerifyLoginCode checks code against the pending code for email. On
	// success the code is deleted and the user is returned, created on
	// first login. A wrong code counts an attempt (committed even though
	// the call fails) and returns ErrBadCode, except the attempt that
	// reaches Config.LoginCodeMaxAttempts, which returns ErrCodeLocked;
	// from then on every attempt — the right code included — returns
	// ErrCodeLocked. An expired code returns ErrExpired (checked first); no
	// pending code returns ErrBadCode. The right code of a user an
	// operator disabled is used up and returns ErrUserDisabled.
	VerifyLoginCode(ctx context.Context, email, code string) (User, error)

	// CreateSession stores a new session for an existing user under the
	// SHA-256 of its token, with a label for the machine. Idle and absolute
	// lifetimes come from Config. A user keeps at most MaxSessions
	// sessions: beyond that the least recently used ones are deleted.
	// ErrNotFound if the user does not exist, ErrUserDisabled if an
	// operator disabled them, ErrExists if the token hash is already in
	// use.
	CreateSession(ctx context.Context, userID string, tok TokenHash, label string) (Session, error)

	// LookupSession returns the live session for tok and records its use
	// (at most once per Config.SessionTouch). ErrUnauthenticated if there
	// is none; ErrSessionExpired (which also matches ErrUnauthenticated) if
	// its idle or absolute lifetime passed. Every authenticated method
	// distinguishes the two the same way.
	LookupSession(ctx context.Context, tok TokenHash) (Session, error)

	// ListSessions returns the caller's live sessions, newest first, with
	// Current set on the caller's own.
	ListSessions(ctx context.Context, tok TokenHash) ([]Session, error)

	// RevokeSession ends one of the caller's own sessions; id "" means the
	// calling session itself (logout). ErrNotFound if id is not a session
	// of the caller.
	RevokeSession(ctx context.Context, tok TokenHash, id string) error

	// RateLimit counts one hit against key in a fixed window and reports
	// whether it is within limit. Counters live in the database so that
	// replicas share them; meant for low-rate endpoints (login, redeem),
	// not for per-request limits on hot paths.
	RateLimit(ctx context.Context, key string, limit int64, window time.Duration) (RateDecision, error)

	// PurgeExpired deletes expired sessions, expired login codes and stale
	// rate-limit windows, and returns how many rows went. Nothing else is
	// ever deleted.
	PurgeExpired(ctx context.Context) (int64, error)

	// ----- orgs and memberships -----

	// CreateOrg creates an org with a client-generated id and key check;
	// the caller becomes its active owner, and the org's audit chain starts
	// with an org-create event. ErrExists if the id is taken.
	CreateOrg(ctx context.Context, tok TokenHash, o NewOrg) (Org, AuditHead, error)

	// GetOrg returns the org (with its key check) and the caller's active
	// membership.
	GetOrg(ctx context.Context, tok TokenHash, orgID string) (Org, Member, error)

	// AuthorizeOrg is LookupSession and GetOrg in one read transaction:
	// the session, the org and the caller's active membership. When the
	// session is valid but the membership check fails, the session is
	// returned with the error.
	AuthorizeOrg(ctx context.Context, tok TokenHash, orgID string) (Session, Org, Member, error)

	// ListOrgs returns the orgs in which the caller is an active member,
	// by creation time, then id.
	ListOrgs(ctx context.Context, tok TokenHash) ([]OrgMembership, error)

	// ListMembers returns every membership of the org, revoked ones
	// included, by JoinedAt, then user id; any active member may list.
	ListMembers(ctx context.Context, tok TokenHash, orgID string) ([]Member, error)

	// SetRole changes an active member's role. Only owners may; ErrForbidden
	// otherwise. Demoting the last active owner returns ErrLastOwner.
	// ErrNotFound if the target has no membership, ErrMemberNotActive if it
	// is revoked. Setting the current role again changes nothing and
	// writes no row (the returned AuditHead is then zero). Audited (role).
	SetRole(ctx context.Context, tok TokenHash, orgID, userID string, role Role) (Member, AuditHead, error)

	// Kick revokes a membership, in one transaction with: every open
	// invite of the org created by the member or addressed to their e-mail
	// revoked (reason kick), and (unless opts.KeepDeploys) every active
	// deploy token they minted revoked (reason kick; with KeepDeploys they
	// are listed as kept). Admins and owners may kick; only owners may kick
	// an owner (ErrForbidden); the last active owner cannot be kicked
	// (ErrLastOwner); ErrNotFound if the target has no membership. Kicking
	// a revoked member again repeats the cascade and writes a row.
	// Membership changes of one org are serialised (org row locked). A
	// co-decrypt that committed before the kick precedes it in the audit
	// chain; one that runs after it sees the revocation. Audited (kick).
	Kick(ctx context.Context, tok TokenHash, orgID, userID string, opts KickOptions) (KickResult, error)

	// SetOrgPolicy sets the org's policy (its offline grace). Admins and
	// owners may (ErrForbidden otherwise); a grace below 0, above
	// MaxOfflineGrace or not whole seconds is ErrInvalid. Setting the
	// policy the org already has changes nothing and writes no row (the
	// returned AuditHead is then zero). Audited (org-policy).
	SetOrgPolicy(ctx context.Context, tok TokenHash, orgID string, p OrgPolicy) (Org, AuditHead, error)

	// ----- the decryption gate -----

	// AuthorizeCoDecrypt is the gate of every unlock. In one transaction:
	// the session is checked and must belong to userID (the subject the
	// caller's key.enc was opened for; ErrForbidden otherwise), the
	// membership is read locked against concurrent kicks (FOR SHARE /
	// BEGIN IMMEDIATE), a co-decrypt audit row is appended, and the
	// transaction commits. Only a nil error allows the inner blob to leave.
	// A revoked member gets ErrRevoked and the refusal is audited
	// (ResultDenied, at most once per DeniedThrottle), which is the only
	// change a refusal makes;
	// non-members (ErrNotMember) leave no trace, so strangers cannot write
	// into an org's audit log.
	AuthorizeCoDecrypt(ctx context.Context, tok TokenHash, orgID, userID string) (Grant, error)

	// CoDecrypt is AuthorizeCoDecrypt for a caller not looked up before:
	// the subject is the session's user. admit, if not nil, runs inside the
	// transaction once the session and the active membership are checked,
	// with that user's id, before the audit row is appended; an error from
	// it refuses this request with that error and writes nothing for it
	// (it must be quick and must not use the store). Refusals are as in
	// AuthorizeCoDecrypt. The Grant's UserID names the session's user
	// whenever the session was live, also on a refusal (for logs). The
	// session's last use is recorded when due, after the transaction.
	CoDecrypt(ctx context.Context, tok TokenHash, orgID string, admit func(userID string) error) (Grant, error)

	// Wrap authorises wrapping the caller's M for their own device (purpose
	// key): the caller must be the active member userID, and every invite
	// of the org addressed to their e-mail that was redeemed and is still
	// pending is consumed. Works without an invite too (init, recover).
	// Audited (wrap, naming the consumed invites) before the outer blob
	// leaves.
	Wrap(ctx context.Context, tok TokenHash, orgID, userID string) (Grant, error)

	// ----- invites -----

	// CreateInvite stores an invite with its outer blob. Member invites:
	// admin or owner, the role may not exceed the creator's, ErrExists if
	// the e-mail is already an active member. Device invites: any active
	// member, addressed to their own e-mail (ErrForbidden otherwise), no
	// role. ErrAlreadyMember if a member invite's e-mail belongs to an
	// active member; a *LimitError if the org has MaxOpenInvites open
	// invites. ExpiresAt must be in the future. Audited (invite).
	CreateInvite(ctx context.Context, tok TokenHash, inv NewInvite) (Invite, AuditHead, error)

	// ListInvites returns the org's invites without blobs, newest first:
	// all of them to admins and owners, to members those they created.
	ListInvites(ctx context.Context, tok TokenHash, orgID string) ([]Invite, error)

	// RevokeInvite revokes an open invite of the org (reason manual). Its
	// creator or an admin or owner may; ErrNotFound if there is no such
	// invite in the org or the caller may not see it. Idempotent: an
	// invite that is already revoked, consumed or expired is returned as
	// it is, with no row and a zero AuditHead. Audited (invite-revoke).
	RevokeInvite(ctx context.Context, tok TokenHash, orgID, inviteID string) (Invite, AuditHead, error)

	// Redeem returns an invite's outer blob to the invitee. In this order:
	// the invite must exist (ErrNotFound); the session's e-mail must equal
	// the invite's (ErrForbidden otherwise, so nothing about the invite's
	// state is revealed); the invite must not be revoked (ErrRevoked),
	// consumed (ErrConsumed) or expired (ErrExpired); a device invite
	// requires an active membership (ErrNotMember, ErrRevoked). A member
	// invite makes the redeemer an active member with its role (a new
	// membership, or a revoked one reactivated; an active one is left as
	// it is). open, if not nil, then opens the invite's outer blob (see
	// OpenFunc: its refusal undoes all of it, and a re-wrap replaces the
	// stored blob). Repeatable until the invitee's next Wrap consumes the
	// invite. Audited (redeem).
	Redeem(ctx context.Context, tok TokenHash, inviteID string, open OpenFunc) (Redemption, error)

	// ----- projects and environments -----

	// CreateProject creates a project with a client-generated id; any
	// active member may. An *ExistsError (field "id" or "name") if the id
	// or the name within the org is taken; a *LimitError beyond
	// MaxProjects. Audited (project-create).
	CreateProject(ctx context.Context, tok TokenHash, p NewProject) (Project, error)

	// GetProject returns a project of the org; ErrNotFound if the org has
	// no such project.
	GetProject(ctx context.Context, tok TokenHash, orgID, projectID string) (Project, error)

	// ListProjects returns the org's projects by creation time, then id.
	ListProjects(ctx context.Context, tok TokenHash, orgID string) ([]Project, error)

	// CreateEnv creates an environment at epoch 1 with its signing public
	// key; any active member may. ErrNotFound if the org has no such
	// project; an *ExistsError (field "id" or "name") if the id or the
	// name within the project is taken; a *LimitError beyond MaxEnvs.
	// Audited (env-create).
	CreateEnv(ctx context.Context, tok TokenHash, e NewEnv) (Env, error)

	// GetEnv returns an environment (epoch, signing key, head).
	GetEnv(ctx context.Context, tok TokenHash, envID string) (Env, error)

	// ListEnvs returns a project's environments by creation time, then id;
	// ErrNotFound if the org has no such project.
	ListEnvs(ctx context.Context, tok TokenHash, orgID, projectID string) ([]Env, error)

	// ----- environment blobs -----

	// Push stores the next blob of an environment. Any active member may
	// push. Accepted only if v.Epoch is the environment's epoch, v.Version
	// is head+1 and v.ParentID is the head's id (FirstParent for the first
	// blob); a *ConflictError (ErrConflict) otherwise, epoch checked
	// first. v.ID must be hex(SHA-256(v.Blob)). The
	// environment row is locked for update, so of concurrent pushes on one
	// head exactly one wins. Audited (push); the new head's audit head is
	// returned for the client to keep.
	Push(ctx context.Context, tok TokenHash, envID string, v NewVersion) (Version, AuditHead, error)

	// GetHead returns the environment's head blob; ErrNotFound if none.
	GetHead(ctx context.Context, tok TokenHash, envID string) (Version, error)

	// GetEnvHead is GetEnv and GetHead in one read transaction: the
	// environment and its head blob (nil if nothing was pushed yet).
	GetEnvHead(ctx context.Context, tok TokenHash, envID string) (Env, *Version, error)

	// GetVersion returns one stored blob by version number; ErrNotFound if
	// there is no such version.
	GetVersion(ctx context.Context, tok TokenHash, envID string, version int64) (Version, error)

	// ListVersions returns the environment's versions, newest first,
	// without blobs.
	ListVersions(ctx context.Context, tok TokenHash, envID string) ([]Version, error)

	// RotateEnv moves an environment to the next epoch in one transaction:
	// r.Epoch must be epoch+1 and r.Head must satisfy the Push precondition
	// with r.Head.Epoch = r.Epoch (a *ConflictError otherwise, epoch
	// checked first); the new signing key and head are stored and every
	// active deploy token of the environment is revoked (reason rotate).
	// Admin or owner. Audited (env-rotate).
	RotateEnv(ctx context.Context, tok TokenHash, envID string, r Rotation) (RotateResult, error)

	// ----- deploy tokens -----

	// CreateDeploy stores a deploy token for one environment of the org
	// (ErrNotFound otherwise) and its current epoch (a *ConflictError if
	// d.Epoch is not the current epoch) with its verifier and outer blob.
	// Admin or owner. A *LimitError beyond MaxActiveDeploys active tokens
	// of the environment. ExpiresAt, if set, must be in the future.
	// Audited (deploy-mint).
	CreateDeploy(ctx context.Context, tok TokenHash, d NewDeploy) (Deploy, AuditHead, error)

	// ListDeploys returns the org's deploy tokens, newest first, revoked
	// ones included, without verifiers or blobs. Admin or owner.
	ListDeploys(ctx context.Context, tok TokenHash, orgID string) ([]Deploy, error)

	// RevokeDeploy revokes a deploy token of the org (reason manual).
	// Admin or owner. ErrNotFound if the org has no such token.
	// Idempotent: a token already revoked or expired is returned as it is,
	// with no row and a zero AuditHead. Audited (deploy-revoke).
	RevokeDeploy(ctx context.Context, tok TokenHash, orgID, deployID string) (Deploy, AuditHead, error)

	// DeployDecrypt is the gate of `capy ci`. It takes no session: verifier
	// is SHA-256 of the deploy auth key the runner presented, compared in
	// constant time with the stored one inside the transaction (an unknown
	// id is compared against a dummy, so both take the same work). An
	// unknown id or a wrong verifier returns ErrUnauthenticated and leaves
	// no trace. With the right verifier, a revoked token or one of an
	// older epoch returns ErrRevoked, an expired one ErrExpired, and the
	// refusal is audited (ResultDenied, at most once per DeniedThrottle;
	// the only change). Otherwise open, if not nil, opens the token's
	// outer blob (see OpenFunc: its refusal changes nothing, and a re-wrap
	// replaces the stored blob), the token's last use is recorded and a
	// deploy-decrypt row (actor = deploy id) is appended and committed
	// before the outer blob and the environment's head are returned.
	DeployDecrypt(ctx context.Context, deployID string, verifier []byte, open OpenFunc) (DeployGrant, error)

	// ----- audit -----

	// RecordEvent appends an event that happened on the caller's machine
	// (ClientEvent: a split of the recovery phrase, a recovery) to the
	// org's chain, with the caller as actor. The caller must be an active
	// member with at least ev.MinRole() (ErrForbidden); a malformed event
	// is ErrInvalid (a *FieldError) and writes nothing. Audited (the
	// event's action); returns the head after the row.
	RecordEvent(ctx context.Context, tok TokenHash, orgID string, ev ClientEvent) (AuditHead, error)

	// ListAudit returns up to limit events of the org's chain with seq >
	// afterSeq, in order, and the current head. Admins and owners may read.
	// limit ≤ 0 or > 1000 means 1000.
	ListAudit(ctx context.Context, tok TokenHash, orgID string, afterSeq int64, limit int) ([]AuditEvent, AuditHead, error)

	// VerifyAudit recomputes the org's whole chain for an admin or owner
	// and reports whether it verifies, how many rows it has and the first
	// bad seq. A broken chain is a result, not an error.
	VerifyAudit(ctx context.Context, tok TokenHash, orgID string) (AuditVerification, error)

	// VerifyChain recomputes the org's whole audit chain and checks it ends
	// at the stored head; ErrChainBroken (with the first bad seq in the
	// message) if it does not. It takes no session: it is an operator's
	// tool (and the server may expose it to members).
	VerifyChain(ctx context.Context, orgID string) (AuditHead, error)

	// ----- operator tools -----

	// OuterKeyUse counts the outer blobs kept in the store that may still
	// be opened, by the KEK id in their header (protocol.md §11: a version
	// byte, then the id as 4 bytes big-endian): invites neither revoked,
	// consumed nor expired (a redeemed invite may be redeemed again), and
	// deploy tokens neither revoked nor expired. Blobs that can never be
	// opened again do not need their KEK and are not counted; members'
	// key.enc blobs live on their machines and cannot be. One read
	// snapshot; ids in ascending order, only those with a blob. It takes
	// no session: it is an operator's tool (`capyd kek retire`).
	OuterKeyUse(ctx context.Context) ([]KEKUse, error)

	// The operator's methods below (`capyd admin`, `capyd restore-check`)
	// take no session either, and never read a value or a key: no blob,
	// verifier, token or code hash, signing key or key check is selected,
	// written or compared by any of them (sqlstore runs their statements
	// through a guard that refuses such a column; docs/server.md "capyd
	// admin"). E-mail addresses must be canonical (ErrInvalid otherwise).

	// ListAllOrgs returns every org (no key check) with its membership
	// counts and audit chain length, by creation time, then id. One read
	// snapshot.
	ListAllOrgs(ctx context.Context) ([]OrgSummary, error)

	// ListAllUsers returns every user with their memberships, disabled
	// state, stored sessions and last recorded use, by creation time, then
	// id. One read snapshot.
	ListAllUsers(ctx context.Context) ([]UserSummary, error)

	// DisableUser disables the user with this e-mail address everywhere,
	// in one transaction: the user is marked disabled, every session of
	// theirs is deleted (ordered with their requests in flight as a
	// RevokeSession is), and a user-disable row (actor ActorOperator,
	// target the user id) is appended in every org where their membership
	// is active. Memberships, invites and deploy tokens are left as they
	// are. From then on VerifyLoginCode and CreateSession refuse the user
	// with ErrUserDisabled, and no session of theirs is accepted.
	// Disabling a disabled user writes no row (Changed false) but still
	// deletes any session. ErrNotFound if no user has the address.
	DisableUser(ctx context.Context, email string) (UserChange, error)

	// EnableUser lets a disabled user sign in again, with a user-enable
	// row in every org where their membership is active. Enabling a user
	// who is not disabled changes nothing (Changed false). ErrNotFound if
	// no user has the address.
	EnableUser(ctx context.Context, email string) (UserChange, error)

	// EndUserSessions deletes every session of the user with this e-mail
	// address (ordered with their requests in flight as a RevokeSession
	// is) and returns how many there were. Sessions belong to no org, so
	// no audit row is written (as for a logout). ErrNotFound if no user
	// has the address.
	EndUserSessions(ctx context.Context, email string) (int64, error)

	// AuditStatus recomputes the org's whole audit chain as VerifyAudit
	// does, without a session: a broken chain is a result (Valid false,
	// FirstBadSeq), not an error. ErrNotFound if there is no such org.
	AuditStatus(ctx context.Context, orgID string) (AuditVerification, error)

	// Inventory reads the schema version and the row count of every capyd
	// table in one snapshot. It works on a database at any schema version
	// this binary knows the tables of, and on a store opened read-only.
	Inventory(ctx context.Context) (Inventory, error)

	// ----- one-time shares (docs/api.md §4.11) -----
	//
	// A share's id is ident.CheckShareID's shape. The service keeps only
	// a request's public key and a share's sealed blob (opaque here), and
	// forgets both on the last allowed view or at expiry, leaving a
	// tombstone (no key, no blob) for ShareTombstoneTTL.

	// CreateShareRequest stores a recipient's request: no session (the
	// recipient has no account; the caller rate-limits), nothing audited
	// (no org knows of it yet). It expires after ShareRequestTTL unless a
	// member answers it. ErrExists if the id is taken.
	CreateShareRequest(ctx context.Context, id string, publicKey []byte) (Share, error)

	// GetShareRequest returns a pending request with its public key to
	// any signed-in caller. ErrNotFound if there is no such request (or
	// the id is a link's); ErrConsumed if a member answered it already or
	// it was opened; ErrExpired if it expired.
	GetShareRequest(ctx context.Context, tok TokenHash, id string) (Share, error)

	// CreateShare stores a member's sealed share: an active member of
	// s.OrgID answers a pending request (ErrNotFound, ErrConsumed,
	// ErrExpired as GetShareRequest) or creates a link share (ErrExists if
	// the id is taken). ExpiresAt must be in the future and at most
	// ShareMaxTTL away. Audited (share-create).
	CreateShare(ctx context.Context, tok TokenHash, s NewShare) (Share, AuditHead, error)

	// OpenShare is the recipient's fetch; it takes no session. A pending
	// request is returned as it is (State SharePending, no blob). A ready
	// share is returned with its blob and one view is spent; the last view
	// sets its key and blob to NULL in the same transaction (State then
	// ShareOpened), and each view is audited (share-open, actor
	// ActorRecipient). A share past its expiry is expired there and then
	// (its key and blob set to NULL, share-expire audited if a member had
	// sealed it) and ErrExpired returned; a gone share returns ErrConsumed
	// (opened) or ErrExpired. ErrNotFound if there is no such share.
	OpenShare(ctx context.Context, id string) (Share, error)

	// SweepShares expires every share past its expiry (as OpenShare does,
	// audited when sealed), deletes unanswered requests and tombstones
	// ShareTombstoneTTL after they went, and returns how many rows it
	// changed or deleted.
	SweepShares(ctx context.Context) (int64, error)

	// ----- paged lists -----
	//
	// What the API lists, one page at a time (page.go): each reads the
	// page in the list's order from an index after the given key, at most
	// Limit+1 rows, under the same rights as the whole-list method it
	// pages. The whole-list methods above (ListMembers, ListVersions, …)
	// read every row and are for tools and tests; ListAudit pages by seq
	// already.

	// ListOrgsPage pages ListOrgs: by the org's creation time, then id.
	ListOrgsPage(ctx context.Context, tok TokenHash, p PageQuery) (Page[OrgMembership], error)

	// ListMembersPage pages ListMembers (by JoinedAt, then user id), keeping
	// the memberships that pass f.
	ListMembersPage(ctx context.Context, tok TokenHash, orgID string, f MemberFilter, p PageQuery) (Page[Member], error)

	// ListInvitesPage pages ListInvites (newest first: by creation time,
	// then id, both descending). With a non-zero openAt it keeps the
	// invites that are open at that time (Invite.Open).
	ListInvitesPage(ctx context.Context, tok TokenHash, orgID string, openAt time.Time, p PageQuery) (Page[Invite], error)

	// ListProjectsPage pages ListProjects: by creation time, then id.
	ListProjectsPage(ctx context.Context, tok TokenHash, orgID string, p PageQuery) (Page[Project], error)

	// ListEnvsPage pages ListEnvs: by creation time, then id.
	ListEnvsPage(ctx context.Context, tok TokenHash, orgID, projectID string, p PageQuery) (Page[Env], error)

	// ListVersionsPage pages ListVersions: newest first, the versions below
	// before (before ≤ 0: from the head), at most limit (1 … MaxPageLimit).
	ListVersionsPage(ctx context.Context, tok TokenHash, envID string, before int64, limit int) (Page[Version], error)

	// ListDeploysPage pages ListDeploys (newest first: by creation time,
	// then id, both descending), keeping the tokens that pass f.
	ListDeploysPage(ctx context.Context, tok TokenHash, orgID string, f DeployFilter, p PageQuery) (Page[Deploy], error)

	// ListSessionsPage pages ListSessions: newest first, by creation time,
	// then id, both descending.
	ListSessionsPage(ctx context.Context, tok TokenHash, p PageQuery) (Page[Session], error)

	// Ping checks that the database answers and that its schema is the one
	// this binary expects (ErrSchemaOutdated, ErrSchemaTooNew); a database
	// that does not answer is ErrUnavailable (or the context's error).
	Ping(ctx context.Context) error
}

// OpenFunc opens an outer blob the service keeps in the store (an
// invite's or a deploy token's) inside the transaction of the operation
// that releases it: after every check of that operation, before its audit
// row, so that a blob that does not open leaves nothing behind. orgID is
// the blob's org (its AAD); blob is the stored outer blob. It returns the
// same inner blob wrapped under the newest KEK when the stored blob was
// made under an older one (nil when it is already under the newest), and
// the operation stores that in place of the old blob in the same
// transaction, so blobs move off old KEKs as they are used. An error
// refuses the operation: the transaction rolls back, and the error is
// returned as it is (not translated). It must be quick, must not use the
// store, and may run more than once when a transaction is retried.
type OpenFunc func(orgID string, blob []byte) (rewrapped []byte, err error)

// Config tunes a Store. The zero value of each field means its default;
// CodePepper has none and must be set.
type Config struct {
	// Now is the clock; default time.Now. Values are used in UTC,
	// truncated to microseconds.
	Now func() time.Time
	// SessionIdle ends a session this long after its last use (default 30
	// days); SessionAbsolute this long after login (default 90 days).
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	// SessionTouch is how stale a session's last-use time may get before
	// a use records it again (default 1 hour, docs/api.md §1.3): it bounds the writes a
	// busy session causes, at the price of that much idle-expiry precision.
	SessionTouch time.Duration
	// LoginCodeTTL is a login code's lifetime (default 10 minutes).
	LoginCodeTTL time.Duration
	// LoginCodeMaxAttempts wrong attempts lock a code (default 5).
	LoginCodeMaxAttempts int
	// CodePepper is the HMAC-SHA256 key under which login codes are
	// hashed; at least 16 bytes, kept outside the database (like the KEK),
	// so a database dump does not allow brute-forcing 6-digit codes.
	CodePepper []byte
	// AutoMigrate applies pending migrations when the store is opened.
	// Without it, Open refuses a database that is behind
	// (ErrSchemaOutdated). A database ahead of the binary is always
	// refused (ErrSchemaTooNew).
	AutoMigrate bool
}

// Defaults for Config.
const (
	DefaultSessionIdle          = 30 * 24 * time.Hour
	DefaultSessionAbsolute      = 90 * 24 * time.Hour
	DefaultSessionTouch         = time.Hour
	DefaultLoginCodeTTL         = 10 * time.Minute
	DefaultLoginCodeMaxAttempts = 5
	MinCodePepperLen            = 16
)

// WithDefaults returns c with every unset field set to its default, and
// checks what has no default.
func (c Config) WithDefaults() (Config, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.SessionAbsolute <= 0 {
		c.SessionAbsolute = DefaultSessionAbsolute
	}
	if c.SessionTouch <= 0 {
		c.SessionTouch = DefaultSessionTouch
	}
	if c.LoginCodeTTL <= 0 {
		c.LoginCodeTTL = DefaultLoginCodeTTL
	}
	if c.LoginCodeMaxAttempts <= 0 {
		c.LoginCodeMaxAttempts = DefaultLoginCodeMaxAttempts
	}
	if len(c.CodePepper) < MinCodePepperLen {
		return c, fmt.Errorf("store: the login-code pepper must be at least %d bytes", MinCodePepperLen)
	}
	if c.SessionIdle > c.SessionAbsolute {
		return c, errors.New("store: the session idle lifetime exceeds the absolute one")
	}
	return c, nil
}
