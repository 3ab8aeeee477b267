package store

import "time"

// ShareKind says how a share's data key reaches the recipient.
type ShareKind string

const (
	// ShareRequest: the recipient's page registered an RSA public key;
	// the member's CLI wrapped the data key to it.
	ShareRequest ShareKind = "request"
	// ShareLink: the data key is only in the link's fragment.
	ShareLink ShareKind = "link"
)

// ShareState is where a share is in its life.
type ShareState string

const (
	SharePending ShareState = "pending" // a request no member has answered yet
	ShareReady   ShareState = "ready"   // sealed, views left
	ShareOpened  ShareState = "opened"  // the last view was taken: nothing is kept
	ShareExpired ShareState = "expired" // expired before that: nothing is kept
)

// Share lifetimes (docs/api.md §4.11).
const (
	// ShareRequestTTL is how long a recipient's request waits for a
	// member's answer.
	ShareRequestTTL = 24 * time.Hour
	// ShareDefaultTTL and ShareMaxTTL bound a sealed share's life.
	ShareDefaultTTL = 24 * time.Hour
	ShareMaxTTL     = 7 * 24 * time.Hour
	// ShareTombstoneTTL is how long a gone share's row (no key, no blob)
	// stays so that its page can say "already opened" or "expired".
	ShareTombstoneTTL = 7 * 24 * time.Hour
	// ShareMaxViews bounds a link share's views.
	ShareMaxViews = 100
)

// Audit actions of shares (docs/api.md §6). Their targets name the
// share's id and kind, never a value, a name or a key.
const (
	ActionShareCreate = "share-create"
	ActionShareOpen   = "share-open"
	ActionShareExpire = "share-expire"
)

// Actors of share rows no member writes: the recipient's browser (no
// account) and the service's expiry.
const (
	ActorRecipient = "recipient"
	ActorExpiry    = "expiry"
)

// Share is a share as the store keeps it. PublicKey is the request's
// page key while the share can still be opened; Blob is only returned by
// OpenShare, to the recipient.
type Share struct {
	ID        string
	Kind      ShareKind
	State     ShareState
	OrgID     string // "" until a member sealed it
	CreatedBy string // the member who sealed it
	PublicKey []byte
	Blob      []byte
	ViewsLeft int
	CreatedAt time.Time
	ExpiresAt time.Time
	FilledAt  time.Time
	GoneAt    time.Time
}

// NewShare is a member's sealed share: the answer to a request (Kind
// ShareRequest, ID the request's) or a new link share (Kind ShareLink,
// ID fresh from the client, which bound it into the blob).
type NewShare struct {
	ID        string
	OrgID     string
	Kind      ShareKind
	Blob      []byte
	Views     int // link shares: 1 … ShareMaxViews; requests: 1
	ExpiresAt time.Time
}
