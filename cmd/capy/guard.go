package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/urfave/cli/v2"
)

// The leak guard and the example file (docs/cli.md §3.10): `capy scan`,
// `capy hook`, `capy example`. None needs an account, a key or the
// service; the rules are internal/envguard's, the files checkout's.

func guardCommands(u *ui, envFlag, jsonFlag cli.Flag) []*cli.Command {
	return []*cli.Command{
		{
			Name: "scan", Usage: "find plaintext values in .env files (those capy manages, or the files named); exit 1 naming file and line",
			ArgsUsage: "[FILE…]",
			Description: "Example: capy scan                    (the environments' files and their .local layers)\n" +
				"         capy scan .env.production .env.test\n" +
				"         capy scan --staged            (what the next commit holds: the pre-commit hook)\n" +
				"A value passes when it is empty, a capy: snippet, a sealed capy:age: value, or marked public\n" +
				"with a `# capy:allow` comment on its line. Values are never printed, --json neither.",
			Flags: []cli.Flag{jsonFlag,
				&cli.BoolFlag{Name: "staged", Usage: "scan the staged content of the staged .env files (git's index), not the work tree"}},
			Action: func(c *cli.Context) error { return cmdScan(u, c) },
		},
		{
			Name: "hook", Usage: "install or remove the git pre-commit hook that runs `capy scan --staged`",
			Subcommands: []*cli.Command{
				{Name: "install", Usage: "install the pre-commit hook in this git repository",
					Description: "Example: capy hook install\n" +
						"A pre-commit hook of another tool is refused; --force keeps it as pre-commit.before-capy\n" +
						"(capy hook uninstall puts it back).",
					Flags:  []cli.Flag{jsonFlag, &cli.BoolFlag{Name: "force", Usage: "replace another tool's pre-commit hook (kept as pre-commit.before-capy)"}},
					Action: func(c *cli.Context) error { return cmdHook(u, c, true) }},
				{Name: "uninstall", Usage: "remove capy's pre-commit hook (never another tool's)", Description: "Example: capy hook uninstall",
					Flags: []cli.Flag{jsonFlag}, Action: func(c *cli.Context) error { return cmdHook(u, c, false) }},
			},
		},
		{
			Name: "example", Usage: "write .env.example: the environment's names, comments and order, values left out",
			Description: "Example: capy example\n" +
				"         capy example --placeholder PORT=8080 --placeholder LOG_LEVEL=info\n" +
				"         capy example --check        (CI: exit 1 when the example lacks a name)\n" +
				"Needs no key: names are in the clear in the file. A placeholder is a public value: its line gets\n" +
				"`# capy:allow`, and a marked value already in the example is kept the next time.",
			Flags: []cli.Flag{envFlag, jsonFlag,
				&cli.StringFlag{Name: "file", Usage: "the example `FILE`, relative to the repository root (default: the environment's file + .example)"},
				&cli.StringSliceFlag{Name: "placeholder", Usage: "a public `NAME=VALUE` to show instead of an empty value; repeat for several"},
				&cli.BoolFlag{Name: "check", Usage: "write nothing; exit 1 when the example lacks a name of the environment"}},
			Action: func(c *cli.Context) error { return cmdExample(u, c) },
		},
	}
}

func cmdScan(u *ui, c *cli.Context) error {
	res, err := checkout.Scan(c.Context, checkout.ScanOptions{Paths: c.Args().Slice(), Staged: c.Bool("staged")})
	if err != nil {
		return err
	}
	if err := u.data(res, func(w io.Writer) {
		for _, f := range res.Findings {
			fmt.Fprintln(w, inert(describeFinding(f)))
		}
	}); err != nil {
		return err
	}
	if len(res.Findings) == 0 {
		if !u.json {
			u.done("no plaintext values in %d file(s)", len(res.Scanned))
		}
		return nil
	}
	if !u.json {
		u.fail(fmt.Sprintf("%d value(s) not encrypted in %s", len(res.Findings), strings.Join(findingFiles(res.Findings), ", ")),
			"encrypt them: run `capy` in the checkout (or `capy set --public NAME` without an account), or mark a public value with `# capy:allow` on its line; then `git add` the file again")
	}
	return exitCode(exitError)
}

// describeFinding is one line: file, line, name and why, never the value.
func describeFinding(f checkout.ScanFinding) string {
	where := f.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	switch f.Reason {
	case "plaintext":
		return fmt.Sprintf("%s: %s has a plaintext value", where, f.Name)
	case "malformed-snippet":
		return fmt.Sprintf("%s: %s starts with capy: but is not a well-formed snippet", where, f.Name)
	case "malformed-sealed":
		return fmt.Sprintf("%s: %s starts with capy:age: but is not a well-formed sealed value", where, f.Name)
	case checkout.ReasonUnreadable:
		return fmt.Sprintf("%s: cannot be read as a .env file (%s), so it cannot be checked", where, f.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", where, f.Name, f.Reason)
}

func findingFiles(fs []checkout.ScanFinding) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fs {
		if !seen[f.File] {
			seen[f.File] = true
			out = append(out, f.File)
		}
	}
	return out
}

func cmdHook(u *ui, c *cli.Context, install bool) error {
	if c.NArg() > 0 {
		return usageError("hook %s takes no arguments", c.Command.Name)
	}
	var res *checkout.HookResult
	var err error
	if install {
		res, err = checkout.InstallHook(c.Context, c.Bool("force"))
	} else {
		res, err = checkout.UninstallHook(c.Context)
	}
	if err != nil {
		return err
	}
	if u.json {
		return u.data(res, nil)
	}
	switch res.Action {
	case "installed", "updated":
		if res.Backup != "" {
			u.say("kept the earlier hook as %s (capy hook uninstall puts it back)", res.Backup)
		}
		u.done("%s the pre-commit hook %s: every commit runs `capy scan --staged`", res.Action, res.Path)
	case "removed":
		if res.Restored != "" {
			u.done("removed capy's pre-commit hook; put back the earlier one (%s)", res.Restored)
		} else {
			u.done("removed the pre-commit hook %s", res.Path)
		}
	case "absent":
		u.done("no pre-commit hook to remove (%s)", res.Path)
	}
	return nil
}

func cmdExample(u *ui, c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("example takes no arguments (the file is --file)")
	}
	opt := checkout.ExampleOptions{Env: envFlagValue(c), File: c.String("file")}
	for _, p := range c.StringSlice("placeholder") {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return usageError("--placeholder takes NAME=VALUE, not %q", p)
		}
		if opt.Placeholders == nil {
			opt.Placeholders = map[string]string{}
		}
		opt.Placeholders[name] = value
	}
	if c.Bool("check") {
		if len(opt.Placeholders) > 0 {
			return usageError("--check writes nothing, so it takes no --placeholder")
		}
		res, err := checkout.CheckExample(opt)
		if err != nil {
			return err
		}
		if err := u.data(res, nil); err != nil {
			return err
		}
		if len(res.Stale) > 0 && !u.json {
			u.warn("%s has name(s) %s no longer has: %s", res.File, res.From, strings.Join(res.Stale, ", "))
		}
		if len(res.Missing) > 0 {
			if !u.json {
				u.fail(fmt.Sprintf("%s lacks %s (from %s)", res.File, strings.Join(res.Missing, ", "), res.From),
					"run `capy example` and commit "+res.File)
			}
			return exitCode(exitError)
		}
		if !u.json {
			u.done("%s has every name of %s (%d)", res.File, res.From, res.Names)
		}
		return nil
	}
	res, err := checkout.Example(opt)
	if err != nil {
		return err
	}
	if u.json {
		return u.data(res, nil)
	}
	if res.Changed {
		u.done("wrote %s: %d name(s) of %s, values left out; commit it", res.File, res.Names, res.Environment)
	} else {
		u.done("%s is up to date (%d name(s) of %s)", res.File, res.Names, res.Environment)
	}
	return nil
}
