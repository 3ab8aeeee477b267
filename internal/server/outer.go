package server

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// The outer wrap (DESIGN §2.6): opening blobs, and what a client is told
// when one does not open because its KEK is missing.
//
// A blob names its KEK by id. An id above this keyring's primary means
// this replica's keyring is behind the one that made the blob (a rotation
// not yet rolled out to it, or not yet reloaded): the key may still
// arrive, so the answer is 503 unavailable, to be retried. An id below the
// primary that the keyring lacks was retired or removed: outer-key-retired
// (400), with what to do for that kind of blob.

// retiredDetail is outer-key-retired's detail per purpose.
var retiredDetail = map[string]string{
	wrap.PurposeKey:    details[api.POuterKeyRetired],
	wrap.PurposeInvite: "the invite was made under a key the service no longer holds; ask for a new invite",
	wrap.PurposeDeploy: "the deploy token was made under a key the service no longer holds; ask an admin for a new deploy code",
}

// kekBehindDetail is unavailable's detail for a blob under a newer KEK.
const kekBehindDetail = "this replica of the service does not hold the key the blob was made under yet; retry shortly"

// missingKEK returns the problem for an unwrap error caused by a KEK this
// keyring lacks, or nil for any other error.
func missingKEK(purpose string, err error) *problemError {
	var uk *kekring.UnknownKeyError
	if !errors.As(err, &uk) {
		return nil
	}
	if uk.Newer() {
		return &problemError{slug: api.PUnavailable, detail: kekBehindDetail, cause: err}
	}
	return &problemError{slug: api.POuterKeyRetired, detail: retiredDetail[purpose], cause: err}
}

// unwrap opens an outer blob with the keyring and counts it by purpose and
// KEK id.
func (s *Server) unwrap(orgID, purpose, subject string, outer []byte) (inner, rewrapped []byte, err error) {
	inner, rewrapped, err = s.keks().Unwrap(orgID, purpose, subject, outer)
	if err == nil {
		kid, _ := wrap.OuterKeyID(outer)
		s.m.unwraps.WithLabelValues(purpose, strconv.FormatUint(uint64(kid), 10)).Inc()
	}
	return inner, rewrapped, err
}

// openStored returns the store.OpenFunc for an outer blob the service
// keeps (an invite's, a deploy token's): the store runs it inside the
// transaction that releases the blob, before that commits, so a blob that
// does not open leaves nothing behind. The inner blob goes to *inner; a
// blob under an older KEK comes back re-wrapped under the primary, which
// the store keeps in its place. A missing KEK is unavailable or
// outer-key-retired (missingKEK); the log names the KEK id either way
// (writeProblem logs an unavailable's cause, a retired one is logged
// here). Any other failure means the stored blob is damaged: internal.
func (s *Server) openStored(c *call, purpose, subject string, inner *[]byte) store.OpenFunc {
	return func(orgID string, blob []byte) ([]byte, error) {
		*inner = nil
		in, re, err := s.unwrap(orgID, purpose, subject, blob)
		if err != nil {
			if p := missingKEK(purpose, err); p != nil {
				if p.slug == api.POuterKeyRetired {
					// (unavailable is logged by writeProblem, with its cause)
					s.log.Warn("a stored outer blob is under a retired KEK", "request_id", requestID(c.ctx()),
						"purpose", purpose, "err", err)
				}
				return nil, p
			}
			return nil, fmt.Errorf("open the stored %s blob: %w", purpose, err)
		}
		*inner = in
		return re, nil
	}
}
