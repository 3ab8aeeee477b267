package mail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

func TestDevMailer(t *testing.T) {
	var logBuf bytes.Buffer
	path := filepath.Join(t.TempDir(), "mail.log")
	d := NewDev(slog.New(slog.NewTextHandler(&logBuf, nil)), path)
	m := LoginMessage("bob@example.com", "12345678", "https://capy.example.com", 10*time.Minute)
	if err := d.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mail.log mode %v %v", fi.Mode(), err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		t.Fatal("mail.log is empty")
	}
	var line devLine
	if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Code != "12345678" || line.To != "bob@example.com" {
		t.Fatalf("mail.log line %q: %v", sc.Text(), err)
	}
	if !strings.Contains(logBuf.String(), "DEVELOPMENT MAILER") {
		t.Fatalf("no loud warning in log: %s", logBuf.String())
	}
	if !strings.Contains(m.Body, "https://capy.example.com") || !strings.Contains(m.Subject, "capy.example.com") {
		t.Fatalf("mail does not name the service: %q / %q", m.Subject, m.Body)
	}
}

// A real SMTP server on loopback (emersion/go-smtp) receives the mail.
type backend struct {
	mu   sync.Mutex
	got  []string
	from []string
	rcpt []string
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{b: b}, nil }

type session struct{ b *backend }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.from = append(s.b.from, from)
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.rcpt = append(s.b.rcpt, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.got = append(s.b.got, string(data))
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

func startSMTP(t *testing.T) (*backend, string) {
	t.Helper()
	be := &backend{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return be, ln.Addr().String()
}

func TestSMTPMailer(t *testing.T) {
	be, addr := startSMTP(t)
	s, err := NewSMTP("smtp://" + addr + "?from=capyd@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m := LoginMessage("carol@example.com", "87654321", "https://capy.example.com", 10*time.Minute)
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	be.mu.Lock()
	defer be.mu.Unlock()
	if len(be.got) != 1 || !strings.Contains(be.got[0], "87654321") || be.rcpt[0] != "carol@example.com" || be.from[0] != "capyd@example.com" {
		t.Fatalf("server got %q from %v to %v", be.got, be.from, be.rcpt)
	}
	if !strings.Contains(be.got[0], "Subject: capy login code for capy.example.com") {
		t.Fatalf("subject missing: %q", be.got[0])
	}
}

func TestSMTPURL(t *testing.T) {
	for _, bad := range []string{"http://x?from=a@b.co", "smtp://?from=a@b.co", "smtp://mail.example.com", "smtp://mail.example.com?from=nope"} {
		if _, err := NewSMTP(bad); err == nil {
			t.Errorf("NewSMTP(%q) accepted", bad)
		}
	}
	s, err := NewSMTP("smtps://u:secretpw@mail.example.com?from=capy@example.com")
	if err != nil || !s.implicitTLS || s.addr != "mail.example.com:465" {
		t.Fatalf("smtps: %+v %v", s, err)
	}
	if strings.Contains(s.String(), "secretpw") {
		t.Fatal("String leaks the password")
	}
	s, _ = NewSMTP("smtp://mail.example.com?from=capy@example.com")
	if !s.requireTLS {
		t.Fatal("remote plain SMTP must require STARTTLS")
	}
	// A server that offers no STARTTLS is refused when TLS is required
	// (the loopback server stands in for a remote one).
	_, addr := startSMTP(t)
	s2, _ := NewSMTP("smtp://" + addr + "?from=capy@example.com")
	s2.requireTLS = true
	if err := s2.Send(context.Background(), LoginMessage("a@example.com", "1", "https://x.example", time.Minute)); err == nil ||
		!strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("plain SMTP without STARTTLS accepted: %v", err)
	}
}
