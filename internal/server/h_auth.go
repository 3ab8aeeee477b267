package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/capy-oss/capy/internal/api"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/wrap"
)

// checkEmail requires the canonical form: the service refuses rather than
// canonicalises, because the bytes feed key derivations on the client.
func checkEmail(field, e string) error {
	c, err := ident.CanonicalEmail(e)
	if err != nil || c != e {
		return invalidField(field, "must be an e-mail address in canonical form")
	}
	return nil
}

// checkLabel is the label rule of docs/api.md §1.4: 1–64 bytes of UTF-8,
// no Cc, Cf, Zl or Zp characters, no leading or trailing white space.
func checkLabel(field, s string) error {
	bad := invalidField(field, "must be 1 to 64 bytes of text without control or formatting characters or surrounding space")
	if len(s) == 0 || len(s) > 64 || !utf8.ValidString(s) {
		return bad
	}
	for _, r := range s {
		if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) {
			return bad
		}
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return bad
	}
	return nil
}

// newCode draws an 8-digit login code uniformly from crypto/rand.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08d", n.Int64()), nil
}

// emailKey names an address in a database rate-limit key without writing
// the address itself.
func emailKey(prefix, email string) string {
	sum := sha256.Sum256([]byte("capyd rate key\n" + email))
	return prefix + hex.EncodeToString(sum[:16])
}

func (s *Server) authStart(c *call) error {
	var req api.AuthStartRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "email"); err != nil {
		return err
	}
	if err := checkEmail("email", req.Email); err != nil {
		return err
	}
	// Before the per-address limits: a refused address costs no write.
	if !s.cfg.Access.maySignIn(req.Email) {
		s.m.loginCodes.WithLabelValues("refused").Inc()
		return problem(api.PEmailNotAllowed, "")
	}
	if !s.cfg.DisableRateLimits {
		for _, b := range []struct {
			key    string
			limit  int64
			window time.Duration
		}{
			{emailKey("auth-start-email-hour:", req.Email), startPerHour, time.Hour},
			{emailKey("auth-start-email-day:", req.Email), startPerDay, 24 * time.Hour},
		} {
			d, err := s.st.RateLimit(c.ctx(), b.key, b.limit, b.window)
			if err != nil {
				return err
			}
			if !d.Allowed {
				s.m.rateLimited.WithLabelValues("auth-start-email").Inc()
				return &problemError{slug: api.PRateLimited, retry: retryAfter(d.ResetAt.Sub(s.now()))}
			}
		}
	}
	code, err := newCode()
	if err != nil {
		return err
	}
	lc, err := s.st.CreateLoginCode(c.ctx(), req.Email, code, s.cfg.LoginCodeTTL)
	if err != nil {
		return err
	}
	// The mail shows the code as "1234 5678" (docs/api.md §1.3); Code
	// keeps the plain digits for mailers that record it.
	msg := mail.LoginMessage(req.Email, code, s.cfg.PublicURL, s.cfg.LoginCodeTTL)
	msg.Body = strings.Replace(msg.Body, code, code[:4]+" "+code[4:], 1)
	if err := s.mailer.Send(c.ctx(), msg); err != nil {
		return &problemError{slug: api.PUnavailable, detail: "the mail relay did not accept the message; retry later", cause: err}
	}
	s.m.loginCodes.WithLabelValues("sent").Inc()
	return c.json(http.StatusAccepted, api.AuthStartResponse{ExpiresAt: ts(lc.ExpiresAt)})
}

// isCode reports whether s is exactly 8 ASCII digits.
func isCode(s string) bool {
	if len(s) != 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (s *Server) authVerify(c *call) error {
	var req api.AuthVerifyRequest
	present, err := c.decode(&req)
	if err != nil {
		return err
	}
	if err := require(present, "email", "code", "label"); err != nil {
		return err
	}
	if err := checkEmail("email", req.Email); err != nil {
		return err
	}
	if !isCode(req.Code) {
		return invalidField("code", "must be 8 digits")
	}
	if err := checkLabel("label", req.Label); err != nil {
		return err
	}
	u, err := s.checkLoginCode(c, req.Email, req.Code)
	if err != nil {
		return err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := tokenPrefix + wrap.B64.EncodeToString(raw)
	sess, err := s.st.CreateSession(c.ctx(), u.ID, store.HashToken(raw), req.Label)
	if err != nil {
		return err
	}
	if rec, ok := c.w.(*recorder); ok {
		rec.actor = u.ID
	}
	return c.json(http.StatusOK, api.AuthVerifyResponse{
		Token: token, User: apiUser(u.ID, u.Email, u.CreatedAt), Session: apiSession(sess, true),
	})
}

// checkLoginCode consumes a login code (the CLI's verify and the
// console's sign-in share it), counting the outcome.
func (s *Server) checkLoginCode(c *call, email, code string) (store.User, error) {
	// A code mailed before the operator narrowed the allow list no longer
	// signs in.
	if !s.cfg.Access.maySignIn(email) {
		s.m.loginCodes.WithLabelValues("refused").Inc()
		return store.User{}, problem(api.PEmailNotAllowed, "")
	}
	u, err := s.st.VerifyLoginCode(c.ctx(), email, code)
	switch {
	case errors.Is(err, store.ErrUserDisabled):
		s.m.loginCodes.WithLabelValues("refused").Inc()
		return store.User{}, err
	case errors.Is(err, store.ErrCodeLocked):
		s.m.loginCodes.WithLabelValues("locked").Inc()
		return store.User{}, err
	case errors.Is(err, store.ErrBadCode), errors.Is(err, store.ErrExpired):
		s.m.loginCodes.WithLabelValues("invalid").Inc()
		return store.User{}, problem(api.PCodeInvalid, "")
	case err != nil:
		return store.User{}, err
	}
	s.m.loginCodes.WithLabelValues("ok").Inc()
	return u, nil
}

func (s *Server) logout(c *call) error {
	if err := s.st.RevokeSession(c.ctx(), c.tok, ""); err != nil {
		return err
	}
	return c.noContent()
}

func (s *Server) me(c *call) error {
	mayCreate := s.cfg.Access.mayCreateOrg(c.sess.Email)
	return c.json(http.StatusOK, api.MeResponse{
		User:          apiUser(c.sess.UserID, c.sess.Email, c.sess.UserCreatedAt),
		Session:       apiSession(c.sess, true),
		MayCreateOrgs: &mayCreate,
	})
}

func (s *Server) listSessions(c *call) error {
	q := c.q
	p, err := parsePage(q, "sessions", 50, 200)
	if err != nil {
		return err
	}
	pq, err := p.timeQuery(ident.Session)
	if err != nil {
		return err
	}
	pg, err := s.st.ListSessionsPage(c.ctx(), c.tok, pq)
	if err != nil {
		return err
	}
	key := func(x store.Session) string { return timeKey(x.CreatedAt, x.ID) }
	return c.json(http.StatusOK, pageOf(p, pg, key, func(x store.Session) api.Session {
		return apiSession(x, x.Current)
	}))
}

func (s *Server) revokeSession(c *call) error {
	if err := s.st.RevokeSession(c.ctx(), c.tok, c.param("session")); err != nil {
		return err
	}
	return c.noContent()
}
