package api

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// ProblemPrefix starts every problem type URI.
const ProblemPrefix = "urn:capy:problem:"

// ProblemType is a problem slug (docs/api.md §5): the part of a problem's
// type URI after ProblemPrefix. Clients branch on these, never on text.
// Only the constants below exist; Problems holds each one's status, and a
// test keeps the two in step, so no handler can answer a slug that would
// fall back to a 500.
type ProblemType string

// The problem types of docs/api.md §5.
const (
	PMalformedJSON         ProblemType = "malformed-json"
	PInvalidField          ProblemType = "invalid-field"
	PBadBlob               ProblemType = "bad-blob"
	PBadOuter              ProblemType = "bad-outer"
	POuterKeyRetired       ProblemType = "outer-key-retired"
	PUnauthenticated       ProblemType = "unauthenticated"
	PSessionExpired        ProblemType = "session-expired"
	PCodeInvalid           ProblemType = "code-invalid"
	PCodeLocked            ProblemType = "code-locked"
	PDeployDenied          ProblemType = "deploy-denied"
	PNotAMember            ProblemType = "not-a-member"
	PMembershipRevoked     ProblemType = "membership-revoked"
	PForbidden             ProblemType = "forbidden"
	PEmailNotAllowed       ProblemType = "email-not-allowed"
	PAccountDisabled       ProblemType = "account-disabled"
	POrgCreationNotAllowed ProblemType = "org-creation-not-allowed"
	PInviteEmailMismatch   ProblemType = "invite-email-mismatch"
	PDeployRevoked         ProblemType = "deploy-revoked"
	PDeployExpired         ProblemType = "deploy-expired"
	PNotFound              ProblemType = "not-found"
	PMethodNotAllowed      ProblemType = "method-not-allowed"
	PAlreadyExists         ProblemType = "already-exists"
	PAlreadyMember         ProblemType = "already-member"
	PMemberNotActive       ProblemType = "member-not-active"
	PLastOwner             ProblemType = "last-owner"
	PVersionConflict       ProblemType = "version-conflict"
	PEpochMismatch         ProblemType = "epoch-mismatch"
	PLimitReached          ProblemType = "limit-reached"
	PInviteRevoked         ProblemType = "invite-revoked"
	PInviteConsumed        ProblemType = "invite-consumed"
	PInviteExpired         ProblemType = "invite-expired"
	PShareAnswered         ProblemType = "share-answered"
	PShareOpened           ProblemType = "share-opened"
	PShareExpired          ProblemType = "share-expired"
	PBodyTooLarge          ProblemType = "body-too-large"
	PUnsupportedMediaType  ProblemType = "unsupported-media-type"
	PRateLimited           ProblemType = "rate-limited"
	PInternal              ProblemType = "internal"
	PUnavailable           ProblemType = "unavailable"
)

// ProblemInfo is the fixed status and title of a problem type.
type ProblemInfo struct {
	Status int
	Title  string
}

// Problems maps every slug to its status and title. It is built at
// first use: only capyd reads it, and every capy command would otherwise
// build it at start-up.
var Problems = sync.OnceValue(func() map[ProblemType]ProblemInfo {
	return map[ProblemType]ProblemInfo{
		PMalformedJSON:         {400, "Malformed JSON"},
		PInvalidField:          {400, "Invalid field"},
		PBadBlob:               {400, "Malformed blob"},
		PBadOuter:              {400, "Outer blob not accepted"},
		POuterKeyRetired:       {400, "Outer key retired"},
		PUnauthenticated:       {401, "Not authenticated"},
		PSessionExpired:        {401, "Session expired"},
		PCodeInvalid:           {401, "Invalid code"},
		PCodeLocked:            {401, "Code locked"},
		PDeployDenied:          {401, "Deploy token not accepted"},
		PNotAMember:            {403, "Not a member"},
		PMembershipRevoked:     {403, "Membership revoked"},
		PForbidden:             {403, "Forbidden"},
		PEmailNotAllowed:       {403, "E-mail address not allowed"},
		PAccountDisabled:       {403, "Account disabled"},
		POrgCreationNotAllowed: {403, "Creating organisations not allowed"},
		PInviteEmailMismatch:   {403, "Invite is for another e-mail"},
		PDeployRevoked:         {403, "Deploy token revoked"},
		PDeployExpired:         {403, "Deploy token expired"},
		PNotFound:              {404, "Not found"},
		PMethodNotAllowed:      {405, "Method not allowed"},
		PAlreadyExists:         {409, "Already exists"},
		PAlreadyMember:         {409, "Already a member"},
		PMemberNotActive:       {409, "Member not active"},
		PLastOwner:             {409, "Last owner"},
		PVersionConflict:       {409, "Version conflict"},
		PEpochMismatch:         {409, "Epoch mismatch"},
		PLimitReached:          {409, "Limit reached"},
		PInviteRevoked:         {410, "Invite revoked"},
		PInviteConsumed:        {410, "Invite already used"},
		PInviteExpired:         {410, "Invite expired"},
		PShareAnswered:         {409, "Share request already answered"},
		PShareOpened:           {410, "Share already opened"},
		PShareExpired:          {410, "Share expired"},
		PBodyTooLarge:          {413, "Body too large"},
		PUnsupportedMediaType:  {415, "Unsupported media type"},
		PRateLimited:           {429, "Too many requests"},
		PInternal:              {500, "Internal error"},
		PUnavailable:           {503, "Service unavailable"},
	}
})

// Problem is an RFC 9457 problem document with capy's extension members.
type Problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	Detail    string   `json:"detail,omitempty"`
	RequestID string   `json:"request_id"`
	Field     string   `json:"field,omitempty"`
	Head      *HeadRef `json:"head,omitempty"`
	Epoch     *uint32  `json:"epoch,omitempty"`
	Line      *int     `json:"line,omitempty"`
	Limit     *int64   `json:"limit,omitempty"`
	// RetryAfter is the answer's Retry-After header (whole seconds; 0
	// when absent or not a number of seconds). It is a header, not a
	// member of the document: the client fills it in.
	RetryAfter time.Duration `json:"-"`
}

// Slug returns the problem's slug ("" for a foreign type).
func (p *Problem) Slug() ProblemType {
	if len(p.Type) > len(ProblemPrefix) && p.Type[:len(ProblemPrefix)] == ProblemPrefix {
		return ProblemType(p.Type[len(ProblemPrefix):])
	}
	return ""
}

// Known reports whether t is one of the problem types of docs/api.md §5.
func (t ProblemType) Known() bool {
	_, ok := Problems()[t]
	return ok
}

// Error makes a Problem usable as an error on the client side: the title,
// the detail (alone when it already says what the title says), and when
// to retry if the service said so.
func (p *Problem) Error() string {
	msg := p.Title
	switch {
	case p.Detail == "":
	case strings.Contains(strings.ToLower(p.Detail), strings.ToLower(p.Title)):
		msg = p.Detail
	default:
		msg += ": " + p.Detail
	}
	if p.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry in %d s)", int64(p.RetryAfter/time.Second))
	}
	return msg
}
