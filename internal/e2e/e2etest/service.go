package e2etest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/server"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/postgres"
	"github.com/capy-oss/capy/internal/store/sqlite"
)

// ServiceOptions say how to set an in-process capyd up.
type ServiceOptions struct {
	// Database is a PostgreSQL URL (pgtest.NewDatabase); empty: SQLite
	// in the service's directory.
	Database string
	// Mailer delivers login codes; nil: the development mailer, writing
	// MailLog.
	Mailer mail.Sender
	// Wrap, if set, wraps capyd's handler (to record or change requests
	// before capyd sees them).
	Wrap func(http.Handler) http.Handler
	// RateLimits keeps capyd's rate limits on (they are off otherwise,
	// so that tests measure capy, not the buckets).
	RateLimits bool
}

// Service is capyd in-process: the real internal/server handler over a
// real store on a loopback listener, with its rate limits off (unless
// asked), its clock
// settable and its log (JSON) in a buffer.
type Service struct {
	URL     string // the loopback listener
	Store   store.Store
	DBPath  string // the SQLite file, or the PostgreSQL URL
	Keyring *kekring.Ring
	Clock   *Clock
	Log     *LogBuffer
	MailLog string // the development mailer's file (when Mailer was nil)

	close   func()
	handler http.Handler
	mu      sync.Mutex
	hs      *httptest.Server // nil while stopped (Stop)
}

// codePepper is the login-code pepper of every test service.
var codePepper = bytes.Repeat([]byte{7}, 32)

// NewService starts a Service with its files in dir (created 0700). Close
// stops it.
func NewService(dir string, o ServiceOptions) (*Service, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ctx := context.Background()
	s := &Service{Clock: &Clock{}, Log: &LogBuffer{}, MailLog: filepath.Join(dir, "mail.log")}
	cfg := store.Config{Now: s.Clock.Now, CodePepper: codePepper, AutoMigrate: true}
	var err error
	if o.Database == "" {
		s.DBPath = filepath.Join(dir, "capyd.db")
		s.Store, err = sqlite.Open(ctx, s.DBPath, cfg)
	} else {
		s.DBPath = o.Database
		s.Store, err = postgres.Open(ctx, s.DBPath, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("e2etest: open the store: %w", err)
	}
	if s.Keyring, err = kekring.Generate(); err != nil {
		s.Store.Close()
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(s.Log, nil))
	mailer := o.Mailer
	if mailer == nil {
		mailer = mail.NewDev(logger, s.MailLog)
	}
	srv, err := server.New(server.Config{PublicURL: "http://127.0.0.1", Logger: logger, DisableRateLimits: !o.RateLimits, Now: s.Clock.Now},
		s.Store, s.Keyring, mailer)
	if err != nil {
		s.Store.Close()
		return nil, fmt.Errorf("e2etest: server.New: %w", err)
	}
	h := srv.Handler()
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	s.handler = h
	s.hs = httptest.NewServer(h)
	s.URL = s.hs.URL
	var once sync.Once
	s.close = func() {
		once.Do(func() {
			s.Stop()
			s.Store.Close()
		})
	}
	return s, nil
}

// Stop closes the listener, keeping the store: connections to the URL are
// refused (a service that is down) until Start.
func (s *Service) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hs != nil {
		s.hs.Close()
		s.hs = nil
	}
}

// Start listens again on the URL's address after Stop, with the same
// store, keys and clock.
func (s *Service) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hs != nil {
		return nil
	}
	l, err := net.Listen("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		return fmt.Errorf("e2etest: listen again on %s: %w", s.URL, err)
	}
	hs := httptest.NewUnstartedServer(s.handler)
	hs.Listener.Close()
	hs.Listener = l
	hs.Start()
	s.hs = hs
	return nil
}

// Close stops the listener and closes the store; a second Close does
// nothing (a test may stop the service before its cleanup does).
func (s *Service) Close() { s.close() }

// StartService is NewService in a temporary directory of t's, stopped
// when the test ends.
func StartService(t testing.TB, o ServiceOptions) *Service {
	t.Helper()
	s, err := NewService(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
