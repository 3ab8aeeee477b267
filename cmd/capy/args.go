package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves a command's flags in front of its arguments, so that
// `capy kick bob@example.com --yes` works like `capy kick --yes
// bob@example.com` (urfave/cli v2 stops reading flags at the first
// argument). Everything after "--" is left exactly as it is: it belongs to
// the command `capy run` starts.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	cmds := app.Commands
	flags := app.Flags
	// Walk down the command path (global flags may come first).
	for len(rest) > 0 {
		tok := rest[0]
		if strings.HasPrefix(tok, "-") && tok != "-" {
			if tok == "--" {
				break
			}
			out = append(out, tok)
			rest = rest[1:]
			if takesValue(flags, tok) && len(rest) > 0 && !strings.Contains(tok, "=") {
				out = append(out, rest[0])
				rest = rest[1:]
			}
			continue
		}
		var next *cli.Command
		for _, c := range cmds {
			if c.HasName(tok) {
				next = c
			}
		}
		if next == nil {
			break
		}
		out = append(out, tok)
		rest = rest[1:]
		cmds, flags = next.Subcommands, append(append([]cli.Flag{}, app.Flags...), next.Flags...)
	}
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		if tok == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if strings.HasPrefix(tok, "-") && tok != "-" && knownFlag(flags, tok) {
			fl = append(fl, tok)
			if takesValue(flags, tok) && !strings.Contains(tok, "=") && i+1 < len(rest) {
				fl = append(fl, rest[i+1])
				i++
			}
			continue
		}
		pos = append(pos, tok)
	}
	out = append(out, fl...)
	if len(pos) > 0 && pos[0] != "--" {
		// Arguments that look like flags after reordering must not be read
		// as flags: put them behind "--" when any of them starts with '-'.
		for _, p := range pos {
			if strings.HasPrefix(p, "-") && p != "-" {
				out = append(out, "--")
				break
			}
		}
	}
	return append(out, pos...)
}

func flagName(tok string) string {
	name := strings.TrimLeft(tok, "-")
	if i := strings.IndexByte(name, '='); i >= 0 {
		name = name[:i]
	}
	return name
}

func findFlag(flags []cli.Flag, tok string) cli.Flag {
	name := flagName(tok)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func knownFlag(flags []cli.Flag, tok string) bool {
	if n := flagName(tok); n == "help" || n == "h" {
		return true
	}
	return findFlag(flags, tok) != nil
}

func takesValue(flags []cli.Flag, tok string) bool {
	f := findFlag(flags, tok)
	if f == nil {
		return false
	}
	if _, isBool := f.(*cli.BoolFlag); isBool {
		return false
	}
	// A generic flag whose value says it is boolean (--preserve-env) takes
	// a value only as --flag=VALUE.
	if g, ok := f.(*cli.GenericFlag); ok {
		if b, ok := g.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			return false
		}
	}
	return true
}

// setUsageErrors makes every command report bad flags as usage errors
// (exit 2) instead of urfave's help dump.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError("%v", err) }
		setUsageErrors(c.Subcommands)
	}
}

// commandName returns the name of the top-level command args (as
// reorderArgs leaves them) invoke, or "" for none.
func commandName(app *cli.App, args []string) string {
	for i := 1; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			return ""
		}
		if strings.HasPrefix(tok, "-") && tok != "-" {
			if takesValue(app.Flags, tok) && !strings.Contains(tok, "=") {
				i++ // the flag's value
			}
			continue
		}
		for _, c := range app.Commands {
			if c.HasName(tok) {
				return c.Name
			}
		}
		return ""
	}
	return ""
}
