package wrap

import (
	"crypto/ed25519"
	"errors"
	"fmt"
)

// Pull-side errors: what a client reports when the service serves a blob
// that is not the next honest state of the environment. Each is distinct so
// the message can say which guarantee the service broke.
var (
	ErrEpochRollback   = errors.New("service sent a blob from an older key epoch than this repository pins")
	ErrVersionMismatch = errors.New("blob manifest version differs from the version the service claims")
	ErrRollback        = errors.New("service sent an older version than this machine has already seen")
	ErrForked          = errors.New("service sent a different blob for a version this machine has already seen")
	ErrParentMismatch  = errors.New("blob does not descend from the version this machine last synced")
	ErrWrongEpoch      = errors.New("blob is from another key epoch than the key in use")
	ErrNotRequested    = errors.New("service sent another version than the one asked for")
)

// PullCheck is what a client knows when it pulls an environment's head:
// the identity and pinned state from .capy/project.json and the history it
// has seen from .capy/state.json. Zero versions mean "nothing recorded".
type PullCheck struct {
	ProjectID, EnvID string
	PublicKey        ed25519.PublicKey // derived from PK (members) or the pin (CI)
	PinnedEpoch      uint32            // epoch in project.json; the blob may not be older
	KeyEpoch         uint32            // epoch of the EK the caller will decrypt with; 0 = don't check
	ClaimedVersion   uint64            // version the service says this blob is
	SeenVersion      uint64            // newest version this machine has seen
	SeenID           string            // its id
	BaseVersion      uint64            // version of the last successful sync
	BaseID           string            // its id
	// RequestedVersion is set when the blob was fetched by number (a base
	// to merge against, a version to roll back to): the blob must be that
	// version, not whatever the service chose to send (its head, say, which
	// would turn every older local value into an apparent local edit).
	RequestedVersion uint64
	// RequestedID, when set, is the only blob accepted (the base_id that
	// state.json recorded for the requested version).
	RequestedID string
}

// VerifyPull runs every check DESIGN §2.4 asks of a pulled head: signature,
// epoch not below the pin, version as claimed, no rollback below what was
// seen, same id for a version seen before, and, when the head is base + 1
// (or seen + 1), parent = base (seen). A blob fetched by number must also be
// the one asked for. (Duplicate names can only be seen after decryption; the
// caller checks them.)
func VerifyPull(b *Blob, c PullCheck) error {
	if err := b.VerifySignature(c.PublicKey, c.ProjectID, c.EnvID); err != nil {
		return err
	}
	if b.Epoch < c.PinnedEpoch {
		return fmt.Errorf("%w (blob epoch %d, pinned %d)", ErrEpochRollback, b.Epoch, c.PinnedEpoch)
	}
	if c.KeyEpoch != 0 && b.Epoch != c.KeyEpoch {
		return fmt.Errorf("%w (blob epoch %d, key epoch %d)", ErrWrongEpoch, b.Epoch, c.KeyEpoch)
	}
	if b.Version != c.ClaimedVersion {
		return fmt.Errorf("%w (manifest %d, service %d)", ErrVersionMismatch, b.Version, c.ClaimedVersion)
	}
	id := b.ID()
	if c.RequestedVersion != 0 && b.Version != c.RequestedVersion {
		return fmt.Errorf("%w (asked for %d, got %d)", ErrNotRequested, c.RequestedVersion, b.Version)
	}
	if c.RequestedID != "" && id != c.RequestedID {
		return fmt.Errorf("%w (version %d)", ErrForked, b.Version)
	}
	if b.Version < c.SeenVersion {
		return fmt.Errorf("%w (got %d, seen %d)", ErrRollback, b.Version, c.SeenVersion)
	}
	if b.Version == c.SeenVersion && c.SeenID != "" && id != c.SeenID {
		return fmt.Errorf("%w (version %d)", ErrForked, b.Version)
	}
	if b.Version == c.BaseVersion && c.BaseID != "" && id != c.BaseID {
		return fmt.Errorf("%w (version %d)", ErrForked, b.Version)
	}
	if c.BaseVersion != 0 && b.Version == c.BaseVersion+1 && b.Parent != c.BaseID {
		return fmt.Errorf("%w (version %d)", ErrParentMismatch, b.Version)
	}
	// The same for the newest version seen (which a --pull read may have
	// moved past the base): its successor must descend from it.
	if c.SeenVersion != 0 && c.SeenID != "" && b.Version == c.SeenVersion+1 && b.Parent != c.SeenID {
		return fmt.Errorf("%w (version %d)", ErrParentMismatch, b.Version)
	}
	return nil
}

// CheckNext reports whether next may follow head as the next version of an
// environment: version = head + 1 and parent = head's id (or version 1 with
// no parent when there is no head). The service enforces this on push.
func CheckNext(head *Blob, next *Blob) bool {
	if head == nil {
		return next.Version == 1 && next.Parent == NoParent
	}
	return next.Version == head.Version+1 && next.Parent == head.ID()
}
