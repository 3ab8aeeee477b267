package main

import (
	"fmt"
	"slices"
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
		if flagHasName(f, name) {
			return f
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

// commandPath is the command and subcommands args name ("env create"),
// or "" when they name none.
func commandPath(app *cli.App, args []string) string {
	var path []string
	cmds, flags := app.Commands, app.Flags
	for i := 1; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			break
		}
		if strings.HasPrefix(tok, "-") && tok != "-" {
			if takesValue(flags, tok) && !strings.Contains(tok, "=") {
				i++ // the flag's value
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
		path = append(path, next.Name)
		cmds, flags = next.Subcommands, append(append([]cli.Flag{}, app.Flags...), next.Flags...)
	}
	return strings.Join(path, " ")
}

// nameCommand puts the command into a usage hint's "see `capy COMMAND
// --help`", so that the hint is one the user can paste.
func nameCommand(hint, path string) string {
	if path == "" {
		return strings.ReplaceAll(hint, "`capy COMMAND --help`", "`capy --help`")
	}
	return strings.ReplaceAll(hint, "`capy COMMAND --help`", "`capy "+path+" --help`")
}

// addJSONFlag gives every command --json, so that `capy set --json`
// works as `capy --json set` does (run reads it from anywhere before
// "--"); commands that print no data print nothing more.
func addJSONFlag(cmds []*cli.Command, jsonFlag cli.Flag) {
	for _, c := range cmds {
		has := false
		for _, f := range c.Flags {
			if f == jsonFlag || flagHasName(f, "json") {
				has = true
			}
		}
		if !has {
			c.Flags = append(c.Flags, jsonFlag)
		}
		addJSONFlag(c.Subcommands, jsonFlag)
	}
}

// flagHasName reports whether name is one of a flag's names. urfave/cli's
// Names() runs a regular expression over each name and allocates, and
// addJSONFlag and findFlag ask flags of every command at each start, so
// the common kinds are read directly (about 0.1 ms of every capy command).
func flagHasName(f cli.Flag, name string) bool {
	var first string
	var aliases []string
	switch f := f.(type) {
	case *cli.BoolFlag:
		first, aliases = f.Name, f.Aliases
	case *cli.StringFlag:
		first, aliases = f.Name, f.Aliases
	case *cli.IntFlag:
		first, aliases = f.Name, f.Aliases
	case *cli.DurationFlag:
		first, aliases = f.Name, f.Aliases
	case *cli.StringSliceFlag:
		first, aliases = f.Name, f.Aliases
	default:
		return slices.Contains(f.Names(), name)
	}
	return first == name || slices.Contains(aliases, name)
}

// unknownCommand is the usage error for a mistyped command, with the
// nearest command names when one is close (an edit distance of at most
// a third of the word, and at least 1).
func unknownCommand(app *cli.App, word string) error {
	var near []string
	best := len(word)/3 + 1
	for _, c := range app.Commands {
		if c.Hidden {
			continue
		}
		for _, n := range c.Names() {
			d := editDistance(word, n)
			switch {
			case d < best:
				best, near = d, []string{c.Name}
			case d == best && (len(near) == 0 || near[len(near)-1] != c.Name):
				near = append(near, c.Name)
			}
		}
	}
	if len(near) == 0 {
		return usageError("unknown command %q", word)
	}
	return &cliError{code: "usage", exit: exitUsage, msg: fmt.Sprintf("unknown command %q", word),
		hint: "did you mean `capy " + strings.Join(near, "` or `capy ") + "`? (see `capy --help`)"}
}

// editDistance is the Levenshtein distance of a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
