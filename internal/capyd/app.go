// Package capyd is the wiring of the capyd binary: its configuration
// (Config, one struct from which flags, environment variables, --help and
// the table in docs/server.md are generated), its subcommands (serve,
// migrate, kek rotate/list, version) and the serve loop (open and migrate
// the store, load the KEK and pepper, listen, serve, drain on SIGTERM).
//
// It builds the HTTP server through a NewServerFunc that cmd/capyd
// supplies, and never imports the client key hierarchy (internal/keys,
// sync, envfile, member, workspace).
package capyd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/capy-oss/capy/internal/store/storeopen"
)

// Exit statuses.
const (
	ExitOK    = 0
	ExitError = 1
	ExitUsage = 2 // bad flags, arguments or settings
)

// env is what a run depends on besides its arguments.
type env struct {
	stdout, stderr io.Writer
	newServer      NewServerFunc
	signals        <-chan os.Signal           // SIGINT, SIGTERM: stop
	reload         <-chan os.Signal           // SIGHUP: reload the keyring (nil: never)
	onReady        func(public, ops net.Addr) // tests
}

// Main runs capyd with args (args[0] is the program name) and returns the
// exit status. newServer builds the HTTP server.
func Main(args []string, stdout, stderr io.Writer, newServer NewServerFunc) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// SIGHUP reloads the keyring instead of ending the process (its
	// default), from the first moment: one sent during start-up waits for
	// the run loop.
	hups := make(chan os.Signal, 1)
	signal.Notify(hups, syscall.SIGHUP)
	defer signal.Stop(hups)
	return run(args, &env{stdout: stdout, stderr: stderr, newServer: newServer, signals: sigs, reload: hups})
}

func run(args []string, e *env) int {
	err := newApp(e).Run(args)
	if err == nil {
		return ExitOK
	}
	return report(e.stderr, err)
}

// report prints err as "capyd: error: …" with its hints and returns the
// exit status. Every error capyd shows a person goes through here.
func report(w io.Writer, err error) int {
	var ce *configError
	var rf *refusal
	var ue usageError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(w, "capyd: error: %s\n", ce.msg)
		for _, h := range ce.hints {
			fmt.Fprintf(w, "capyd: hint: %s\n", h)
		}
		return ExitUsage
	case errors.As(err, &rf):
		fmt.Fprintf(w, "capyd: error: %s\n", rf.msg)
		for _, h := range rf.hints {
			fmt.Fprintf(w, "capyd: hint: %s\n", h)
		}
		return ExitError
	case errors.As(err, &ue):
		fmt.Fprintf(w, "capyd: error: %s\ncapyd: hint: see 'capyd --help'\n", ue.err)
		return ExitUsage
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(w, "capyd: interrupted")
		return ExitError
	}
	fmt.Fprintf(w, "capyd: error: %v\n", err)
	return ExitError
}

// refusal is a command that refused because of the state of things (not
// its settings), with what to do about it; it exits 1.
type refusal struct {
	msg   string
	hints []string
}

func (r *refusal) Error() string { return r.msg }

// usageError is a command line urfave/cli could not parse.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

const appDescription = `capyd stores only ciphertext for capy clients, adds and strips the outer
wrap around key material, and checks membership on every request that can
lead to a decryption. Without a command it serves (same as 'capyd serve').

Every flag can also be set by the environment variable shown next to it.
Two settings are environment-only, because a flag shows in the process list:

   CAPYD_KEK      KEK keyring text ('capyd-kek 1 <id> <64 hex>' entries
                  separated by ';'); used instead of --kek-file
   CAPYD_PEPPER   login-code HMAC key in hex (at least 32 hex digits);
                  used instead of --pepper-file

Several replicas on one PostgreSQL database must share the same KEK and
pepper (the same CAPYD_KEK and CAPYD_PEPPER, or copies of the files).

Documentation: docs/server.md`

func newApp(e *env) *cli.App {
	onUsage := func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	cmd := func(c *cli.Command) *cli.Command {
		c.OnUsageError = onUsage
		return c
	}
	serveAction := func(c *cli.Context) error {
		if c.Bool("version") {
			return printVersion(e.stdout, c.Bool("json"))
		}
		if c.Bool("json") {
			return usageError{errors.New("--json goes with --version (or 'capyd version --json'); the log format is --log-format json")}
		}
		if c.NArg() > 0 {
			return usageError{fmt.Errorf("unknown command %q", c.Args().First())}
		}
		cfg, err := configFor(c, "serve")
		if err != nil {
			return err
		}
		return serve(cfg, e)
	}
	return &cli.App{
		Name:           "capyd",
		Usage:          "the capy service",
		UsageText:      "capyd [flags]              serve (the default)\ncapyd serve [flags]\ncapyd migrate [flags]\ncapyd kek rotate|list|retire [flags]\ncapyd admin orgs|users|disable-user|enable-user|end-sessions|audit-status [flags]\ncapyd backup --to FILE [flags]\ncapyd restore-check [flags] [FILE]\ncapyd healthcheck [flags]\ncapyd version [--json]",
		Description:    appDescription,
		HideVersion:    true, // --version is versionFlags', printed by printVersion
		Writer:         e.stdout,
		ErrWriter:      e.stderr,
		Flags:          append(flags("serve"), versionFlags()...),
		Action:         serveAction,
		OnUsageError:   onUsage,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: append([]*cli.Command{
			cmd(&cli.Command{
				Name:        "serve",
				Usage:       "run the service (the default command)",
				Description: "Opens (and migrates) the database, loads the KEK and pepper, and serves the API\non --listen and metrics on --ops-listen until SIGINT or SIGTERM; then /readyz\nanswers 503, the listeners close, and in-flight requests get --shutdown-timeout.\nSIGHUP reloads the KEK file.",
				Flags:       flags("serve"),
				Action:      serveAction,
			}),
			cmd(&cli.Command{
				Name:        "migrate",
				Usage:       "apply pending database migrations and exit",
				Description: "Applies the pending migrations under the store's lock (PostgreSQL: an advisory\nlock, so replicas starting together migrate once). Safe to run again.",
				Flags:       flags("migrate"),
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return usageError{errors.New("migrate takes no arguments")}
					}
					cfg, err := configFor(c, "migrate")
					if err != nil {
						return err
					}
					return migrate(cfg, e)
				},
			}),
			cmd(&cli.Command{
				Name:  "kek",
				Usage: "manage the key-encryption keys of the outer wrap",
				Flags: flags("kek"),
				Subcommands: []*cli.Command{
					cmd(&cli.Command{
						Name:        "rotate",
						Usage:       "add a new primary KEK to the key file and print its id",
						Description: "New outer wraps use the new key once capyd reloads the file (SIGHUP) or restarts;\nblobs under older keys still open and are re-wrapped as they are used. Old keys\nare kept. With CAPYD_KEK set there is no file to change: this prints how to\nextend the variable.",
						Flags:       flags("kek"),
						Action: func(c *cli.Context) error {
							cfg, err := configFor(c, "kek")
							if err != nil {
								return err
							}
							kr, err := rotateKEK(cfg)
							if err != nil {
								return err
							}
							fmt.Fprintf(e.stderr, "capyd: new primary KEK %d added to %s; reload every replica (SIGHUP, or a restart) to use it, and back the file up\n", kr.Primary(), cfg.KEKFile)
							fmt.Fprintln(e.stdout, kr.Primary())
							return nil
						},
					}),
					cmd(&cli.Command{
						Name:      "retire",
						Usage:     "remove an old KEK from the key file once no stored blob needs it",
						ArgsUsage: "ID (after the flags)",
						Description: "Counts, in the database, the invites and deploy tokens whose outer blob is still\n" +
							"under KEK ID and may still be opened, and refuses while there are any (each moves\n" +
							"to the primary when used). The primary cannot be retired. Members' key.enc files\n" +
							"cannot be counted; see docs/server.md, \"Retiring a KEK\". Reload every replica\n" +
							"(SIGHUP) afterwards.",
						Flags: flags("kek"),
						Action: func(c *cli.Context) error {
							if c.NArg() > 1 && strings.HasPrefix(c.Args().Get(1), "-") {
								return usageError{errors.New("kek retire: flags go before the KEK id (capyd kek retire [flags] ID)")}
							}
							if c.NArg() != 1 {
								return usageError{errors.New("kek retire takes one KEK id")}
							}
							id, err := parseKEKID(c.Args().First())
							if err != nil {
								return err
							}
							cfg, err := configFor(c, "kek")
							if err != nil {
								return err
							}
							ctx, cancel := signalContext(e.signals)
							defer cancel()
							kr, err := retireKEK(ctx, cfg, id, e.stderr)
							if err != nil {
								return err
							}
							fmt.Fprintf(e.stderr, "capyd: KEK %d retired from %s; reload every replica (SIGHUP) so none keeps it, and back the file up\n", id, cfg.KEKFile)
							listKEKs(e.stdout, kr)
							return nil
						},
					}),
					cmd(&cli.Command{
						Name:        "list",
						Usage:       "print the KEK ids (never key material); the primary is marked",
						Flags:       flags("kek"),
						Description: "Prints one id a line, the primary as '<id> primary'.",
						Action: func(c *cli.Context) error {
							cfg, err := configFor(c, "kek")
							if err != nil {
								return err
							}
							kr, src, err := loadKEKsForList(cfg)
							if err != nil {
								return err
							}
							fmt.Fprintf(e.stderr, "capyd: KEKs from %s\n", src)
							listKEKs(e.stdout, kr)
							return nil
						},
					}),
				},
			}),
			cmd(healthcheckCommand(e)),
			cmd(versionCommand(e)),
		}, opsCommands(e, cmd)...),
	}
}

// configFor reads and completes the configuration of a command.
func configFor(c *cli.Context, cmd string) (Config, error) {
	cfg, err := loadConfig(c, cmd, os.Getenv)
	if err != nil {
		return cfg, err
	}
	return cfg.withDefaults(cmd)
}

// migrate is `capyd migrate`.
func migrate(cfg Config, e *env) error {
	ctx, cancel := signalContext(e.signals)
	defer cancel()
	kind, where := databaseDescription(cfg.Database)
	if kind == storeopen.SQLite && inside(cfg.DataDir, where) {
		if err := ensureDataDir(cfg.DataDir, nil); err != nil {
			return err
		}
	}
	res, err := storeopen.Migrate(ctx, cfg.Database)
	if err != nil {
		return storeError(ctx, "migrate", err)
	}
	if len(res.Applied) == 0 {
		fmt.Fprintf(e.stdout, "%s database %s is up to date (schema version %d)\n", kind, where, res.To)
		return nil
	}
	applied := make([]string, len(res.Applied))
	for i, v := range res.Applied {
		applied[i] = fmt.Sprint(v)
	}
	fmt.Fprintf(e.stdout, "%s database %s migrated from schema version %d to %d (applied %s)\n",
		kind, where, res.From, res.To, strings.Join(applied, ", "))
	return nil
}

// signalContext is cancelled by the first signal.
func signalContext(sigs <-chan os.Signal) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
