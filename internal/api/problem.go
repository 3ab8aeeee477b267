package api

// ProblemPrefix starts every problem type URI.
const ProblemPrefix = "urn:capy:problem:"

// Problem slugs (docs/api.md §5). Clients branch on these, never on text.
const (
	PMalformedJSON        = "malformed-json"
	PInvalidField         = "invalid-field"
	PBadBlob              = "bad-blob"
	PBadOuter             = "bad-outer"
	POuterKeyRetired      = "outer-key-retired"
	PUnauthenticated      = "unauthenticated"
	PSessionExpired       = "session-expired"
	PCodeInvalid          = "code-invalid"
	PCodeLocked           = "code-locked"
	PDeployDenied         = "deploy-denied"
	PNotAMember           = "not-a-member"
	PMembershipRevoked    = "membership-revoked"
	PForbidden            = "forbidden"
	PInviteEmailMismatch  = "invite-email-mismatch"
	PDeployRevoked        = "deploy-revoked"
	PDeployExpired        = "deploy-expired"
	PNotFound             = "not-found"
	PMethodNotAllowed     = "method-not-allowed"
	PAlreadyExists        = "already-exists"
	PAlreadyMember        = "already-member"
	PMemberNotActive      = "member-not-active"
	PLastOwner            = "last-owner"
	PVersionConflict      = "version-conflict"
	PEpochMismatch        = "epoch-mismatch"
	PLimitReached         = "limit-reached"
	PInviteRevoked        = "invite-revoked"
	PInviteConsumed       = "invite-consumed"
	PInviteExpired        = "invite-expired"
	PBodyTooLarge         = "body-too-large"
	PUnsupportedMediaType = "unsupported-media-type"
	PRateLimited          = "rate-limited"
	PInternal             = "internal"
	PUnavailable          = "unavailable"
)

// ProblemInfo is the fixed status and title of a problem type.
type ProblemInfo struct {
	Status int
	Title  string
}

// Problems maps every slug to its status and title.
var Problems = map[string]ProblemInfo{
	PMalformedJSON:        {400, "Malformed JSON"},
	PInvalidField:         {400, "Invalid field"},
	PBadBlob:              {400, "Malformed blob"},
	PBadOuter:             {400, "Outer blob not accepted"},
	POuterKeyRetired:      {400, "Outer key retired"},
	PUnauthenticated:      {401, "Not authenticated"},
	PSessionExpired:       {401, "Session expired"},
	PCodeInvalid:          {401, "Invalid code"},
	PCodeLocked:           {401, "Code locked"},
	PDeployDenied:         {401, "Deploy token not accepted"},
	PNotAMember:           {403, "Not a member"},
	PMembershipRevoked:    {403, "Membership revoked"},
	PForbidden:            {403, "Forbidden"},
	PInviteEmailMismatch:  {403, "Invite is for another e-mail"},
	PDeployRevoked:        {403, "Deploy token revoked"},
	PDeployExpired:        {403, "Deploy token expired"},
	PNotFound:             {404, "Not found"},
	PMethodNotAllowed:     {405, "Method not allowed"},
	PAlreadyExists:        {409, "Already exists"},
	PAlreadyMember:        {409, "Already a member"},
	PMemberNotActive:      {409, "Member not active"},
	PLastOwner:            {409, "Last owner"},
	PVersionConflict:      {409, "Version conflict"},
	PEpochMismatch:        {409, "Epoch mismatch"},
	PLimitReached:         {409, "Limit reached"},
	PInviteRevoked:        {410, "Invite revoked"},
	PInviteConsumed:       {410, "Invite already used"},
	PInviteExpired:        {410, "Invite expired"},
	PBodyTooLarge:         {413, "Body too large"},
	PUnsupportedMediaType: {415, "Unsupported media type"},
	PRateLimited:          {429, "Too many requests"},
	PInternal:             {500, "Internal error"},
	PUnavailable:          {503, "Service unavailable"},
}

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
}

// Slug returns the problem's slug ("" for a foreign type).
func (p *Problem) Slug() string {
	if len(p.Type) > len(ProblemPrefix) && p.Type[:len(ProblemPrefix)] == ProblemPrefix {
		return p.Type[len(ProblemPrefix):]
	}
	return ""
}

// Error makes a Problem usable as an error on the client side.
func (p *Problem) Error() string {
	if p.Detail != "" {
		return p.Title + ": " + p.Detail
	}
	return p.Title
}
