package api

// The web console's session routes (docs/api.md §4.12).

// ConsoleLoginRequest is POST /v1/console/session: the login code of
// POST /v1/auth/start, checked as /v1/auth/verify checks it.
type ConsoleLoginRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
}

// ConsoleSessionResponse answers POST and GET /v1/console/session. The
// session's secret is in the HttpOnly cookie only; the CSRF token is what
// the console's script sends (header Capy-Csrf-Token) with every change.
type ConsoleSessionResponse struct {
	User      User    `json:"user"`
	Session   Session `json:"session"`
	CSRFToken string  `json:"csrf_token"`
}
