// Command capy is the capy developer CLI: it encrypts every value of a
// project's .env on this machine and syncs the ciphertext with capyd.
// This package is flags, prompts, output and exit codes; the work is in
// internal/checkout and internal/member (docs/architecture.md).
package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	// capy lives for milliseconds and allocates a few MiB. At the default
	// GOGC (a 4 MiB first goal) a sync that re-encrypts 1,000 values
	// collects once or twice for nothing; at 400 it does not collect at
	// all, and peak RSS stays 13.8 MiB. A GOGC in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	os.Exit(run(os.Args))
}

func run(args []string) int {
	u := newUI(hasFlag(args, "--json"))
	app := newApp(u)
	if len(args) > 0 && args[len(args)-1] == completionFlag {
		// Completion asks with the words typed so far, as they are, and
		// reads the answer from stdout (help and prose go to stderr).
		app.Writer = u.stdout
	} else {
		args = reorderArgs(app, args)
	}
	// One budget bounds the whole command (CAPY_TIMEOUT): a stalled
	// service must not hold capy for 30 s × 3 attempts per request.
	limit, err := parseTimeout(os.Getenv(timeoutVar))
	if err == nil {
		u.budget = startBudget(limit)
		defer u.budget.stop()
		err = runApp(u, app, args)
	}
	if ferr := u.flush(); err == nil {
		err = ferr
	}
	if err == nil {
		return exitOK
	}
	var ex exitCode
	if errors.As(err, &ex) {
		return int(ex)
	}
	ce := classify(err)
	if ce.code == "usage" {
		ce.hint = nameCommand(ce.hint, commandPath(app, args))
	}
	if u.json {
		u.data(map[string]string{"error": ce.code, "message": ce.msg, "hint": ce.hint}, nil)
	}
	u.fail(ce.msg, ce.hint)
	return ce.exit
}

// runApp runs the command under the budget's context.
func runApp(u *ui, app *cli.App, args []string) error {
	ctx := u.budget.context()
	// An interrupt cancels ctx, so that a command stops between steps and
	// says so. Not for `capy run`: it becomes its command within
	// milliseconds (or fails), writes nothing but atomic renames, and an
	// interrupt before that ends it at once, as it would end the command.
	// Watching SIGINT would also undo a caller's ignoring of it (Go's
	// handler, reset to the default by execve), making a background
	// `capy run -- worker &` killable by Ctrl-C; and starting the watcher
	// is about 0.2 ms of those milliseconds.
	if commandName(app, args) != "run" {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	return u.budget.explain(app.RunContext(ctx, args))
}

// exitCode lets `capy run` return its child's status without a message.
type exitCode int

func (e exitCode) Error() string { return "exit status" }

func hasFlag(args []string, flag string) bool {
	for _, a := range args[1:] {
		if a == "--" {
			return false
		}
		if a == flag || a == flag+"=true" {
			return true
		}
	}
	return false
}

func newApp(u *ui) *cli.App {
	envFlag := &cli.StringFlag{Name: "env", Aliases: []string{"e"}, Usage: "environment `NAME` (default: the current one, see `capy env`)"}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print data as JSON on stdout"}
	a := &cli.App{
		Name:  "capy",
		Usage: "keep .env secrets encrypted; sync them with your team through capyd",
		// --version is capy's own flag (below), so that it prints what
		// `capy version` prints, on stdout, with --json too.
		HideVersion:     true,
		Flags:           []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "version", Aliases: []string{"v"}, Usage: "print the version, as the version command does"}},
		HideHelpCommand: true,
		// capy completion bash|zsh|fish prints the scripts that use it.
		EnableBashCompletion: true,
		Description: "With no command, capy syncs the current environment: it pulls the newest values,\n" +
			"merges them with your .env, pushes what changed and rewrites .env as snippets.\n\n" +
			"Start: capy login, then capy init (or capy redeem CODE to join a team).",
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				return cmdVersion(u)
			}
			if c.Args().Len() > 0 {
				return unknownCommand(c.App, c.Args().First())
			}
			return cmdSync(u, c, envFlagValue(c), "", false)
		},
		ExitErrHandler: func(*cli.Context, error) {}, // errors are printed once, by run
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError("%v", err)
		},
		Writer:    u.stderr,
		ErrWriter: u.stderr,
	}
	a.Commands = commands(u, envFlag, jsonFlag)
	setUsageErrors(a.Commands)
	addJSONFlag(a.Commands, jsonFlag)
	return a
}

func envFlagValue(c *cli.Context) string {
	for _, l := range c.Lineage() {
		if l.IsSet("env") {
			return l.String("env")
		}
	}
	return ""
}
