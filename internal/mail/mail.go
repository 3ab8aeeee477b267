// Package mail delivers login codes. With an SMTP URL configured it sends
// real mail; without one it uses the development mailer, which writes the
// code to the service log and to mail.log in the data directory, the one
// documented place a secret is written in plaintext, announced loudly.
package mail

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/smtp"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/capy-oss/capy/internal/ident"
)

// Message is a login-code mail. Code is kept apart from Body so the
// development mailer can log it in a structured field.
type Message struct {
	To      string
	Subject string
	Body    string
	Code    string
}

// Sender delivers a message or returns an error; it never logs Code.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// LoginMessage builds the mail that carries a login code. It names the
// service the code is for, so a code requested by a look-alike host is
// noticed (DESIGN §2.5).
func LoginMessage(to, code, serviceURL string, ttl time.Duration) Message {
	host := serviceURL
	if u, err := url.Parse(serviceURL); err == nil && u.Host != "" {
		host = u.Host
	}
	body := fmt.Sprintf("Your capy login code for %s is:\r\n\r\n    %s\r\n\r\n"+
		"It expires in %d minutes. If you did not ask to sign in to %s, ignore this mail:\r\n"+
		"nobody can use the code without also controlling your terminal session.\r\n",
		serviceURL, code, int(ttl.Minutes()), host)
	return Message{To: to, Subject: "capy login code for " + host, Body: body, Code: code}
}

// Dev is the development mailer: every code goes to the log (with a loud
// warning) and is appended as one JSON line to a 0600 file, for local use
// and tests. Never use it where real users sign in.
type Dev struct {
	log  *slog.Logger
	path string
	mu   sync.Mutex
}

// NewDev returns a development mailer appending to path (created 0600).
func NewDev(log *slog.Logger, path string) *Dev {
	return &Dev{log: log, path: path}
}

// devLine is one line of mail.log.
type devLine struct {
	Time    string `json:"time"`
	To      string `json:"to"`
	Subject string `json:"subject"`
	Code    string `json:"code"`
}

// Send logs and records the message.
func (d *Dev) Send(_ context.Context, m Message) error {
	d.log.Warn("DEVELOPMENT MAILER: login code written to the log and mail.log; configure --smtp-url for real use",
		"to", m.To, "code", m.Code, "mail_log", d.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open mail log: %w", err)
	}
	line, _ := json.Marshal(devLine{Time: time.Now().UTC().Format(time.RFC3339Nano), To: m.To, Subject: m.Subject, Code: m.Code})
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write mail log: %w", err)
	}
	return f.Close()
}

// SMTP sends mail through an SMTP server described by a URL:
//
//	smtp://user:pass@host:587?from=capy@example.com   (STARTTLS required)
//	smtps://user:pass@host:465?from=capy@example.com  (implicit TLS)
//
// Plain-text SMTP is accepted only to a loopback host (a local relay) or
// with ?tls=none, which the operator must spell out.
type SMTP struct {
	addr, host  string
	from        string
	user, pass  string
	implicitTLS bool
	requireTLS  bool
	tlsConfig   *tls.Config
	timeout     time.Duration
}

// ErrSMTPURL reports an unusable --smtp-url.
var ErrSMTPURL = errors.New("invalid SMTP URL")

// NewSMTP parses an SMTP URL.
func NewSMTP(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSMTPURL, err)
	}
	s := &SMTP{host: u.Hostname(), timeout: 15 * time.Second}
	port := u.Port()
	switch u.Scheme {
	case "smtp":
		if port == "" {
			port = "587"
		}
	case "smtps":
		s.implicitTLS = true
		if port == "" {
			port = "465"
		}
	default:
		return nil, fmt.Errorf("%w: scheme must be smtp or smtps", ErrSMTPURL)
	}
	if s.host == "" {
		return nil, fmt.Errorf("%w: no host", ErrSMTPURL)
	}
	s.addr = net.JoinHostPort(s.host, port)
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	q := u.Query()
	from, err := ident.CanonicalEmail(q.Get("from"))
	if err != nil {
		return nil, fmt.Errorf("%w: ?from= must be the sender address: %v", ErrSMTPURL, err)
	}
	s.from = from
	loopback := s.host == "localhost"
	if ip := net.ParseIP(s.host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	s.requireTLS = !loopback && q.Get("tls") != "none"
	s.tlsConfig = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	return s, nil
}

// String describes the mailer without its password.
func (s *SMTP) String() string { return "smtp " + s.addr + " from " + s.from }

// Send delivers m.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return errors.New("mail header contains a line break")
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("connect to SMTP server: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	if s.implicitTLS {
		conn = tls.Client(conn, s.tlsConfig)
	}
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("SMTP greeting: %w", err)
	}
	defer c.Close()
	if !s.implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig); err != nil {
				return fmt.Errorf("SMTP STARTTLS: %w", err)
			}
		} else if s.requireTLS {
			return errors.New("SMTP server does not offer STARTTLS; use smtps:// or add ?tls=none if you accept plain text")
		}
	}
	if s.user != "" {
		if err := c.Auth(smtp.PlainAuth("", s.user, s.pass, s.host)); err != nil {
			return fmt.Errorf("SMTP auth: %w", err)
		}
	}
	if err := c.Mail(s.from); err != nil {
		return fmt.Errorf("SMTP MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("SMTP RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA: %w", err)
	}
	msg := "From: " + s.from + "\r\nTo: " + m.To + "\r\nSubject: " + m.Subject +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + m.Body
	if _, err := w.Write([]byte(msg)); err != nil {
		return fmt.Errorf("SMTP write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP end of data: %w", err)
	}
	return c.Quit()
}
