package capyd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/capy-oss/capy/internal/buildinfo"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/mail"
	"github.com/capy-oss/capy/internal/store"
	"github.com/capy-oss/capy/internal/store/storeopen"
)

// Server is the HTTP service capyd runs: internal/server's *Server.
type Server interface {
	// Handler serves the public API (/v1/…, /healthz, /readyz).
	Handler() http.Handler
	// OpsHandler serves /metrics, /healthz and /readyz.
	OpsHandler() http.Handler
	// SetDraining makes /readyz answer 503 from now on.
	SetDraining()
	// SetKeyring replaces the KEK keyring (SIGHUP).
	SetKeyring(*kekring.Ring)
}

// ServerParams is what capyd hands the server it builds: everything
// internal/server's Config and New take.
type ServerParams struct {
	PublicURL      string // canonical
	TrustedProxies []netip.Prefix
	LoginCodeTTL   time.Duration
	Logger         *slog.Logger
	Registry       *prometheus.Registry
	Store          store.Store
	Keyring        *kekring.Ring
	Mailer         mail.Sender
	// DisableRateLimits turns every rate limit off
	// (--unsafe-disable-rate-limits; load tests only).
	DisableRateLimits bool
	// Access is who may sign in and create organisations (the operator
	// controls: docs/server.md), as checked by Config: lower-case
	// domains, canonical addresses, OrgCreation anyone, allowed or none.
	Access AccessParams
}

// AccessParams are the operator controls, for server.Access.
type AccessParams struct {
	AllowEmailDomains []string
	AllowEmails       []string
	OrgCreation       string
	OrgCreators       []string
}

// NewServerFunc builds the server. cmd/capyd passes a function that calls
// internal/server.New; tests pass a fake. (The indirection keeps this
// package's run loop testable on its own.)
type NewServerFunc func(ServerParams) (Server, error)

// HTTP server limits. Pushes carry up to 9 MiB, so reads get two minutes.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 2 * time.Minute
	writeTimeout      = 2 * time.Minute
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	purgeInterval     = time.Hour
)

// serve runs the service until a signal arrives (see Main) and shuts it
// down gracefully.
func serve(cfg Config, e *env) error {
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel, e.stderr)
	if err != nil {
		return err
	}
	// A signal during start-up (a migration waiting for its lock, say)
	// aborts it.
	startCtx, cancelStart := context.WithCancel(context.Background())
	defer cancelStart()
	stopEarly, earlyDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(earlyDone)
		select {
		case sig := <-e.signals:
			log.Info("signal during start-up; stopping", "signal", sig.String())
			cancelStart()
		case <-stopEarly:
		}
	}()
	endStartup := sync.OnceFunc(func() { close(stopEarly); <-earlyDone })
	defer endStartup()

	if err := prepareDataDir(cfg, log); err != nil {
		return err
	}
	kr, ksrc, err := loadKeyring(cfg, log)
	if err != nil {
		return err
	}
	pepper, err := loadPepper(cfg, log)
	if err != nil {
		return err
	}
	mailer, mailerKind, err := newMailer(cfg, e, log)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return &configError{msg: fmt.Sprintf("--tls-cert/--tls-key: %v", err),
				hints: []string{"both must be PEM files: the certificate chain and its private key"}}
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	dbKind, dbWhere := databaseDescription(cfg.Database)
	if cfg.AutoMigrate {
		res, err := storeopen.Migrate(startCtx, cfg.Database)
		if err != nil {
			return storeError(startCtx, "migrate", err)
		}
		if len(res.Applied) > 0 {
			log.Info("database migrated", "database", string(dbKind), "from", res.From, "to", res.To)
		}
	}
	st, err := storeopen.Open(startCtx, cfg.Database, store.Config{
		CodePepper:      pepper,
		SessionIdle:     cfg.SessionIdle,
		SessionAbsolute: cfg.SessionAbsolute,
	})
	if err != nil {
		return storeError(startCtx, "open", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()

	publicLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	defer publicLn.Close()
	var opsLn net.Listener
	if cfg.OpsListen != "" {
		if opsLn, err = net.Listen("tcp", cfg.OpsListen); err != nil {
			return fmt.Errorf("listen on %s (--ops-listen): %w", cfg.OpsListen, err)
		}
		defer opsLn.Close()
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		if publicURL, err = cfg.defaultPublicURL(publicLn.Addr()); err != nil {
			return err
		}
	}

	reg := prometheus.NewRegistry()
	srv, err := e.newServer(ServerParams{
		PublicURL:         publicURL,
		TrustedProxies:    cfg.TrustedProxies,
		LoginCodeTTL:      store.DefaultLoginCodeTTL,
		Logger:            log,
		Registry:          reg,
		Store:             st,
		Keyring:           kr,
		Mailer:            mailer,
		DisableRateLimits: cfg.UnsafeDisableRateLimits,
		Access: AccessParams{AllowEmailDomains: cfg.AllowEmailDomain, AllowEmails: cfg.AllowEmail,
			OrgCreation: cfg.OrgCreation, OrgCreators: cfg.OrgCreator},
	})
	if err != nil {
		return fmt.Errorf("build the server: %w", err)
	}
	// The Go and process collectors, unless the server registered them.
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("register metrics: %w", err)
		}
	}

	errorLog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	public := &http.Server{
		Handler:           srv.Handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          errorLog,
	}
	serveErr := make(chan error, 2)
	go func() {
		var err error
		if tlsConfig != nil {
			err = public.ServeTLS(publicLn, "", "")
		} else {
			err = public.Serve(publicLn)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr <- fmt.Errorf("public listener: %w", err)
		}
	}()
	var ops *http.Server
	if opsLn != nil {
		ops = &http.Server{
			Handler:           srv.OpsHandler(),
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readHeaderTimeout,
			WriteTimeout:      time.Minute,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          errorLog,
		}
		go func() {
			if err := ops.Serve(opsLn); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- fmt.Errorf("ops listener: %w", err)
			}
		}()
	}

	purgeCtx, stopPurge := context.WithCancel(context.Background())
	purgeDone := make(chan struct{})
	go func() { defer close(purgeDone); purgeLoop(purgeCtx, st, log) }()
	defer func() { stopPurge(); <-purgeDone }()

	opsAddr := "off"
	if opsLn != nil {
		opsAddr = opsLn.Addr().String()
	}
	endStartup() // signals are the run loop's from here on
	if startCtx.Err() != nil {
		return errInterrupted
	}
	attrs := []any{
		"addr", publicLn.Addr().String(),
		"ops_addr", opsAddr,
		"public_url", publicURL,
		"tls", tlsConfig != nil,
		"database", string(dbKind),
	}
	if dbKind == storeopen.SQLite {
		attrs = append(attrs, "db_path", dbWhere)
	} else {
		attrs = append(attrs, "db_host", dbWhere)
	}
	build := buildinfo.Read("capyd")
	attrs = append(attrs, "kek_id", kr.Primary(), "kek_source", ksrc.String(), "mailer", mailerKind,
		"version", build.Version, "commit", build.Commit, "go_version", build.GoVersion)
	log.Info("capyd started", attrs...)
	if tlsConfig == nil && !isLoopbackListen(publicLn.Addr()) {
		log.Warn("serving plain HTTP on a non-loopback address: a TLS-terminating proxy must be in front", "addr", publicLn.Addr().String())
	}
	if opsLn != nil && !isLoopbackListen(opsLn.Addr()) {
		log.Warn("the ops listener (/metrics) is not on loopback and has no authentication; keep it on a private network", "ops_addr", opsAddr)
	}
	log.Info("operator controls", "sign_in", cfg.signInRule(), "org_creation", cfg.OrgCreation)
	if cfg.SMTPURL != "" && len(cfg.AllowEmailDomain)+len(cfg.AllowEmail) == 0 {
		log.Warn("sign-in is open to every e-mail address: anyone who can read mail at an address may sign in" +
			" (and, unless --org-creation says otherwise, create organisations); limit it with --allow-email-domain / --allow-email" +
			" (docs/server.md, \"Operator controls\")")
	}
	if cfg.UnsafeDisableRateLimits {
		log.Warn("RATE LIMITS OFF (--unsafe-disable-rate-limits): for load tests only; login-code guessing and co-decrypt flooding are unbounded. Never run it like this where real people sign in")
	}
	if e.onReady != nil {
		e.onReady(publicLn.Addr(), opsAddrOf(opsLn))
	}

	var failed error
run:
	for {
		select {
		case sig := <-e.signals:
			log.Info("shutting down", "signal", sig.String(), "drain_delay", cfg.DrainDelay.String(), "timeout", cfg.ShutdownTimeout.String())
			break run
		case failed = <-serveErr:
			log.Error("listener failed; shutting down", "err", failed)
			break run
		case <-e.reload:
			kr = reloadKeyring(cfg, kr, srv, log)
		}
	}
	srv.SetDraining()

	forced := make(chan struct{})
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainDelay+cfg.ShutdownTimeout)
	defer cancel()
	go func() {
		select {
		case sig := <-e.signals:
			log.Warn("second signal: stopping now", "signal", sig.String())
			close(forced)
			cancel()
		case <-shutdownCtx.Done():
		}
	}()
	if failed == nil && cfg.DrainDelay > 0 {
		select {
		case <-time.After(cfg.DrainDelay):
		case <-shutdownCtx.Done():
		}
	}
	if err := public.Shutdown(shutdownCtx); err != nil {
		public.Close()
		if failed == nil {
			failed = errors.New("in-flight requests did not finish in time and were cut off")
		}
		select {
		case <-forced:
			failed = errInterrupted
		default:
		}
		log.Warn("shutdown: cut off in-flight requests", "err", err)
	}
	if ops != nil {
		opsCtx, opsCancel := context.WithTimeout(context.Background(), time.Second)
		if err := ops.Shutdown(opsCtx); err != nil {
			ops.Close()
		}
		opsCancel()
	}
	stopPurge()
	<-purgeDone
	if failed != nil {
		return failed
	}
	log.Info("capyd stopped")
	return nil
}

// reloadKeyring is SIGHUP: it reads the key file again and hands the
// server the new keyring, so a rotation (or a retirement) reaches a
// running replica without a restart. A file that cannot be read, or whose
// primary is older than the one in use (an old backup put back, say), is
// refused: the current keyring stays, and the log says why. CAPYD_KEK
// cannot be re-read by a running process. Returns the keyring in use.
func reloadKeyring(cfg Config, cur *kekring.Ring, srv Server, log *slog.Logger) *kekring.Ring {
	if cfg.KEK != "" {
		log.Warn("SIGHUP: the keyring comes from CAPYD_KEK, which a running process cannot re-read; restart capyd to change it",
			"kek_id", cur.Primary())
		return cur
	}
	kr, err := kekring.Load(cfg.KEKFile)
	if err != nil {
		log.Error("SIGHUP: keyring not reloaded; keeping the one in use", "kek_file", cfg.KEKFile, "kek_id", cur.Primary(), "err", err)
		return cur
	}
	if kr.Primary() < cur.Primary() {
		log.Error("SIGHUP: keyring not reloaded: the key file's primary KEK is older than the one in use; keeping the one in use",
			"kek_file", cfg.KEKFile, "file_kek_id", kr.Primary(), "kek_id", cur.Primary())
		return cur
	}
	srv.SetKeyring(kr)
	log.Info("keyring reloaded", "kek_file", cfg.KEKFile, "kek_id", kr.Primary(), "kek_ids", kekIDs(kr))
	return kr
}

// kekIDs lists a keyring's ids for the log: "1,2,3".
func kekIDs(kr *kekring.Ring) string {
	ids := kr.IDs()
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}

// errInterrupted ends a run cut short by a signal.
var errInterrupted = errors.New("interrupted")

// prepareDataDir creates the data directory when something capyd keeps by
// default lives in it: the SQLite file, the key file, the pepper file or
// the development mail.log.
func prepareDataDir(cfg Config, log *slog.Logger) error {
	kind, path := storeopen.Parse(cfg.Database)
	needed := (kind == storeopen.SQLite && inside(cfg.DataDir, path)) ||
		(cfg.KEK == "" && inside(cfg.DataDir, cfg.KEKFile)) ||
		(cfg.Pepper == "" && inside(cfg.DataDir, cfg.PepperFile)) ||
		cfg.SMTPURL == ""
	if !needed {
		return nil
	}
	return ensureDataDir(cfg.DataDir, log)
}

// newMailer returns the SMTP mailer, or the development mailer with a
// loud warning.
func newMailer(cfg Config, e *env, log *slog.Logger) (mail.Sender, string, error) {
	if cfg.SMTPURL != "" {
		if _, err := url.Parse(cfg.SMTPURL); err != nil {
			// url's error quotes the URL, password and all.
			return nil, "", &configError{msg: "--smtp-url (CAPYD_SMTP_URL) is not a URL"}
		}
		s, err := mail.NewSMTP(cfg.SMTPURL)
		if err != nil {
			return nil, "", &configError{msg: "--smtp-url (CAPYD_SMTP_URL): " + err.Error(),
				hints: []string{"smtp://user:pass@host:587?from=capy@example.com (STARTTLS) or smtps://user:pass@host:465?from=…"}}
		}
		return s, s.String(), nil
	}
	path := filepath.Join(cfg.DataDir, "mail.log")
	if cfg.LogFormat == "text" {
		fmt.Fprint(e.stderr, devMailerBanner(path))
	}
	log.Warn("DEVELOPMENT MAILER: login codes are written to this log and to mail.log; anyone who reads them can sign in as anyone. Set --smtp-url for real use",
		"mail_log", path)
	return mail.NewDev(log, path), "development (" + path + ")", nil
}

func devMailerBanner(path string) string {
	bar := strings.Repeat("!", 78)
	return bar + "\n" +
		"!!! DEVELOPMENT MAILER: no --smtp-url, so login codes are NOT mailed.\n" +
		"!!! They are written to this log and to " + path + ".\n" +
		"!!! Anyone who can read either can sign in as any user. Never run it like this\n" +
		"!!! where real people sign in: set --smtp-url (docs/server.md, \"Mail\").\n" +
		bar + "\n"
}

// storeError explains a failure to open or migrate the database.
func storeError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return errInterrupted
	}
	switch {
	case errors.Is(err, store.ErrSchemaOutdated):
		return &configError{msg: err.Error(), hints: []string{"run `capyd migrate` (or start with --auto-migrate=true)"}}
	case errors.Is(err, store.ErrSchemaTooNew):
		return &configError{msg: err.Error(), hints: []string{"a newer capyd migrated this database; run that version (or newer)"}}
	}
	return fmt.Errorf("database %s: %w", op, err)
}

// purgeLoop deletes expired sessions, login codes and rate-limit windows,
// and expires one-time shares (their key and blob forgotten, audited),
// now and then every purgeInterval, until ctx ends. A share past its
// expiry is also expired by the first fetch that finds it, so the
// interval bounds only how long an unfetched one's blob outlives it.
func purgeLoop(ctx context.Context, st store.Store, log *slog.Logger) {
	t := time.NewTicker(purgeInterval)
	defer t.Stop()
	for {
		n, err := st.PurgeExpired(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("purging expired rows", "err", err)
		case n > 0:
			log.Debug("purged expired rows", "rows", n)
		}
		switch n, err := st.SweepShares(ctx); {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("expiring shares", "err", err)
		case n > 0:
			log.Debug("expired shares", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func isLoopbackListen(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}

func opsAddrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}
