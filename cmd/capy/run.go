package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/capy-oss/capy/internal/checkout"
	"github.com/capy-oss/capy/internal/ident"
	"github.com/urfave/cli/v2"
)

// childEnv is the environment of the command `capy run` becomes: this
// process's environment without any CAPY_* variable (keys and codes must
// not leak into the app) and with one entry per name (the last, as
// os/exec would keep: execve passes duplicates on), plus the decrypted
// values.
// preserveEnv is --preserve-env[=NAME,…]: bare, every name already set in
// capy's environment keeps its value; with names, only those. It is a
// boolean flag to the flag parser (IsBoolFlag), so that the bare form does
// not take the next argument as its value.
type preserveEnv struct {
	all   bool
	names map[string]bool
}

func (p *preserveEnv) IsBoolFlag() bool { return true }

func (p *preserveEnv) String() string {
	if p == nil || p.all {
		return ""
	}
	names := make([]string, 0, len(p.names))
	for n := range p.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

func (p *preserveEnv) Set(s string) error {
	switch s {
	case "true":
		p.all = true
		return nil
	case "false":
		return nil
	}
	if p.names == nil {
		p.names = map[string]bool{}
	}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || strings.ContainsAny(n, "= ") {
			return fmt.Errorf("--preserve-env takes variable names separated by commas, not %q", s)
		}
		p.names[n] = true
	}
	return nil
}

// preserveFlag returns the run's --preserve-env (nil when not given).
func preserveFlag(c *cli.Context) *preserveEnv {
	if !c.IsSet("preserve-env") {
		return nil
	}
	p, _ := c.Generic("preserve-env").(*preserveEnv)
	return p
}

// preserved drops from vars the names --preserve-env keeps from the
// caller's environment (those set there): the caller's value wins, and a
// ${NAME} in another value reads it too.
func preserved(vars []checkout.Variable, p *preserveEnv, lookup func(string) (string, bool)) []checkout.Variable {
	if p == nil || !p.all && len(p.names) == 0 {
		return vars
	}
	out := vars[:0:0]
	for _, v := range vars {
		if p.all || p.names[v.Name] {
			if _, set := lookup(v.Name); set && !strings.HasPrefix(v.Name, "CAPY_") {
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

func childEnv(base []string, values map[string]string) []string {
	last := make(map[string]int, len(base))
	for i, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		last[name] = i
	}
	out := make([]string, 0, len(base)+len(values))
	for i, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CAPY_") || last[name] != i {
			continue
		}
		if _, override := values[name]; override {
			continue
		}
		out = append(out, kv)
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, n+"="+values[n])
	}
	return out
}

// checkExecNames refuses values under names that make the command (or a
// program it starts) load or run code of the setter's choosing, unless
// this run admits them: writing such a value would otherwise be code
// execution on every teammate's machine and runner (docs/decisions.md).
// Only the caller can admit a name (a flag, or CAPY_ALLOW_NAMES for CI),
// never the repository or the service.
func checkExecNames(values map[string]string, allowFlag []string, allowEnv string) error {
	refused := ident.RefusedExecNames(values, append(append([]string(nil), allowFlag...), strings.Split(allowEnv, ",")...)...)
	if len(refused) == 0 {
		return nil
	}
	return &cliError{code: "unsafe-name", exit: exitForbidden,
		msg: fmt.Sprintf("the environment sets %s, which can make the command run code chosen by whoever wrote the value; not started",
			strings.Join(refused, ", ")),
		hint: "if your team means it, admit each name with --allow-name NAME (or CAPY_ALLOW_NAMES=NAME,… in CI)"}
}

// beforeExec, when set (by the tests, to scan for plaintext as they do
// after every other command), runs after the audit-head write is joined
// and before the command starts.
var beforeExec func()

func cmdRun(u *ui, c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return usageError("run needs a command: capy run -- CMD [ARGS…]")
	}
	p, err := openProject(u)
	if err != nil {
		return err
	}
	var vars []checkout.Variable
	if c.Bool("decrypt-args") {
		var opened []string
		vars, opened, err = p.ValuesAndArgs(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"), args[1:])
		args = append(args[:1:1], opened...)
	} else {
		vars, err = p.Values(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
	}
	if err != nil {
		return err
	}
	lookup := func(name string) (string, bool) {
		if strings.HasPrefix(name, "CAPY_") {
			return "", false
		}
		return os.LookupEnv(name)
	}
	vars = preserved(vars, preserveFlag(c), os.LookupEnv)
	values := checkout.Expand(vars, lookup)
	if err := checkExecNames(values, c.StringSlice("allow-name"), os.Getenv("CAPY_ALLOW_NAMES")); err != nil {
		return err
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		// As shells do: 127 for a command that is not there, 126 for
		// one that is there but may not be run.
		exit, hint := exitNotFound, "check the command name and your PATH"
		if errors.Is(err, fs.ErrPermission) {
			exit, hint = exitNotExecutable, notExecutableHint
		}
		return &cliError{code: "no-command", exit: exit, msg: err.Error(), hint: hint, err: err}
	}
	// The audit head the unlock was shown is written before the command
	// starts: on Unix nothing of capy runs after. A failure only weakens
	// fork detection (docs/decisions.md #20, #21), so the command runs.
	if err := u.flush(); err != nil {
		u.warn("could not record the audit head this unlock was shown: %v", err)
	}
	if beforeExec != nil {
		beforeExec()
	}
	// CAPY_TIMEOUT bounds capy's own work, not the command's: nothing of
	// the budget may end or signal it (on Unix the exec ends the budget's
	// timer with the rest of capy; on Windows capy waits for the child).
	u.budget.stop()
	return startChild(path, args, childEnv(os.Environ(), values))
}
