package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/store"
)

// problemError is an error that is already a problem document: the one
// thing a handler returns when it knows what to answer. Everything the
// funnel (problemFor) does not recognise becomes 500 internal.
type problemError struct {
	slug   api.ProblemType
	detail string // fixed text only: never internal error text or user data
	field  string
	head   *api.HeadRef
	epoch  *uint32
	line   *int
	limit  *int64
	retry  int // Retry-After seconds, for 429
	cause  error
	logged bool // the cause is in the log already (a recovered panic)
}

func (p *problemError) Error() string {
	if p.cause != nil {
		return string(p.slug) + ": " + p.cause.Error()
	}
	return string(p.slug)
}

func (p *problemError) Unwrap() error { return p.cause }

// problem returns a problem of type slug with a fixed detail.
func problem(slug api.ProblemType, detail string) *problemError {
	return &problemError{slug: slug, detail: detail}
}

// details are the default detail sentences per problem type.
var details = map[api.ProblemType]string{
	api.PMalformedJSON:         "the body is not one valid JSON object",
	api.PInvalidField:          "a field is missing, unknown or invalid",
	api.PBadBlob:               "the blob text fails the shape check",
	api.PBadOuter:              "the outer blob does not open for this org, purpose and caller",
	api.POuterKeyRetired:       "the outer blob was made under a key the service no longer holds; recover with the phrase or a device invite",
	api.PUnauthenticated:       "a valid session token is required",
	api.PSessionExpired:        "the session has expired; log in again",
	api.PCodeInvalid:           "the code is wrong or has expired",
	api.PCodeLocked:            "too many wrong tries; request a new code",
	api.PDeployDenied:          "the deploy token or its key is not accepted",
	api.PNotAMember:            "you are not a member of this org",
	api.PMembershipRevoked:     "your membership of this org was revoked",
	api.PForbidden:             "your role does not allow this",
	api.PEmailNotAllowed:       detailEmailNotAllowed,
	api.PAccountDisabled:       "the operator of this service has disabled this account",
	api.POrgCreationNotAllowed: detailOrgCreationAllowed,
	api.PInviteEmailMismatch:   "this invite is for another e-mail address",
	api.PDeployRevoked:         "the deploy token was revoked or its environment moved to a newer epoch",
	api.PDeployExpired:         "the deploy token has expired",
	api.PNotFound:              "no such resource",
	api.PMethodNotAllowed:      "the resource does not support this method",
	api.PAlreadyExists:         "the id or name is already taken",
	api.PAlreadyMember:         "the address belongs to an active member",
	api.PMemberNotActive:       "the membership is not active",
	api.PLastOwner:             "the org must keep at least one active owner",
	api.PVersionConflict:       "the environment has a newer head; pull, merge and push again",
	api.PEpochMismatch:         "the epoch is not the environment's current one",
	api.PLimitReached:          "a count limit was reached",
	api.PInviteRevoked:         "the invite was revoked",
	api.PInviteConsumed:        "the invite was already used",
	api.PShareAnswered:         "a member already answered this share request; ask the recipient for a new code",
	api.PShareOpened:           "this share was already opened; it is gone from the service",
	api.PShareExpired:          "this share expired; it is gone from the service",
	api.PInviteExpired:         "the invite has expired",
	api.PBodyTooLarge:          "the body is larger than this route accepts",
	api.PUnsupportedMediaType:  "the body must be application/json without a content encoding",
	api.PRateLimited:           "the budget for these requests is used up",
	api.PInternal:              "an unexpected error occurred; the service log has details under the request id",
	api.PUnavailable:           "the service is unavailable; retry later",
}

// problemFor is the error funnel: the one place that turns any error a
// handler returns — its own problems, strict-decoding errors, store
// errors — into a problem document. Store errors that need a route's
// context (ErrRevoked, ErrExpired, ErrUnauthenticated on the deploy
// route) are translated by the handler before they get here.
func problemFor(err error) *problemError {
	var p *problemError
	if errors.As(err, &p) {
		return p
	}
	var de *decodeError
	if errors.As(err, &de) {
		return &problemError{slug: de.slug, detail: de.detail, field: de.field}
	}
	var ce *store.ConflictError
	if errors.As(err, &ce) {
		if ce.Reason == store.ConflictEpoch {
			e := uint32(ce.Epoch)
			return &problemError{slug: api.PEpochMismatch, epoch: &e, cause: err}
		}
		p := &problemError{slug: api.PVersionConflict, cause: err}
		if ce.HeadVersion > 0 {
			p.head = &api.HeadRef{Version: uint64(ce.HeadVersion), ID: ce.HeadID}
		}
		return p
	}
	var le *store.LimitError
	if errors.As(err, &le) {
		l := int64(le.Limit)
		return &problemError{slug: api.PLimitReached, detail: "the limit of " + le.What + " is reached", limit: &l, cause: err}
	}
	var ee *store.ExistsError
	if errors.As(err, &ee) {
		return &problemError{slug: api.PAlreadyExists, field: ee.Field, cause: err}
	}
	var slug api.ProblemType
	switch {
	case errors.Is(err, store.ErrSessionExpired):
		slug = api.PSessionExpired
	case errors.Is(err, store.ErrUnauthenticated):
		slug = api.PUnauthenticated
	case errors.Is(err, store.ErrNotMember):
		slug = api.PNotAMember
	case errors.Is(err, store.ErrMembershipRevoked):
		slug = api.PMembershipRevoked
	case errors.Is(err, store.ErrForbidden):
		slug = api.PForbidden
	case errors.Is(err, store.ErrNotFound):
		slug = api.PNotFound
	case errors.Is(err, store.ErrAlreadyMember):
		slug = api.PAlreadyMember
	case errors.Is(err, store.ErrExists):
		return &problemError{slug: api.PAlreadyExists, field: "id", cause: err}
	case errors.Is(err, store.ErrMemberNotActive):
		slug = api.PMemberNotActive
	case errors.Is(err, store.ErrLastOwner):
		slug = api.PLastOwner
	case errors.Is(err, store.ErrBadCode):
		slug = api.PCodeInvalid
	case errors.Is(err, store.ErrCodeLocked):
		slug = api.PCodeLocked
	case errors.Is(err, store.ErrUserDisabled):
		slug = api.PAccountDisabled
	case errors.Is(err, store.ErrConsumed):
		slug = api.PInviteConsumed
	case errors.Is(err, store.ErrInvalid):
		// The service checks every field before the store sees it, so
		// this is a rule the service does not know about: the client's
		// input is still what is at fault.
		slug = api.PInvalidField
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled), errors.Is(err, store.ErrSchemaOutdated), errors.Is(err, store.ErrSchemaTooNew):
		slug = api.PUnavailable
	default:
		slug = api.PInternal
	}
	return &problemError{slug: slug, cause: err}
}

// writeProblem writes err as a problem document.
// Internal errors are logged with the request id; their text never
// reaches the client.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	info, ok := api.Problems()[p.slug]
	if !ok {
		p = &problemError{slug: api.PInternal, cause: err}
		info = api.Problems()[api.PInternal]
	}
	rid := requestID(r.Context())
	switch {
	case p.logged: // serveRecovering wrote the line, with the stack
	case p.slug == api.PInternal:
		s.log.Error("internal error", "request_id", rid, "err", err)
	case p.slug == api.PUnavailable && p.cause != nil:
		s.log.Warn("service unavailable", "request_id", rid, "err", p.cause)
	}
	detail := p.detail
	if detail == "" {
		detail = details[p.slug]
	}
	doc := api.Problem{
		Type: api.ProblemPrefix + string(p.slug), Title: info.Title, Status: info.Status, Detail: detail,
		RequestID: rid, Field: p.field, Epoch: p.epoch, Line: p.line, Limit: p.limit,
	}
	var body []byte
	if p.slug == api.PVersionConflict {
		// head is always present for a version conflict, null when the
		// environment has none.
		m := map[string]any{}
		b, _ := json.Marshal(doc)
		_ = json.Unmarshal(b, &m)
		m["head"] = p.head
		body, _ = json.Marshal(m)
	} else if p.slug == api.PBadBlob {
		m := map[string]any{}
		b, _ := json.Marshal(doc)
		_ = json.Unmarshal(b, &m)
		m["line"] = p.line
		body, _ = json.Marshal(m)
	} else {
		body, _ = json.Marshal(doc)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	switch info.Status {
	case http.StatusUnauthorized:
		if p.slug != api.PDeployDenied {
			h.Set("WWW-Authenticate", `Bearer realm="capy"`)
		}
	case http.StatusTooManyRequests:
		h.Set("Retry-After", strconv.Itoa(max(p.retry, 1)))
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(info.Status)
	_, _ = w.Write(body)
	if rec, ok := w.(*recorder); ok {
		rec.problem = p.slug
	}
}
