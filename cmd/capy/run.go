package main

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// childEnv is the environment of `capy run`'s child: this process's
// environment without any CAPY_* variable (keys and codes must not leak
// into the app), plus the decrypted values.
func childEnv(base []string, values map[string]string) []string {
	out := make([]string, 0, len(base)+len(values))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CAPY_") {
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
	vars, _, err := p.loadValues(c.Context, envFlagValue(c), c.Bool("pull"), c.String("key-file"))
	if err != nil {
		return err
	}
	lookup := func(name string) (string, bool) {
		if strings.HasPrefix(name, "CAPY_") {
			return "", false
		}
		return os.LookupEnv(name)
	}
	values := expanded(vars, lookup)
	path, err := exec.LookPath(args[0])
	if err != nil {
		return withHint(err, "no-command", "check the command name and your PATH")
	}
	cmd := exec.Command(path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = childEnv(os.Environ(), values)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Forward signals to the child and let it decide; capy exits with the
	// child's status.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return withHint(err, "no-command", "")
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	// The audit head the unlock recorded was written while CMD ran. CMD's
	// status is capy's, so a failed write is a warning here.
	if ferr := p.home.Flush(); ferr != nil {
		u.warn("could not record the audit head this unlock was shown: %v", ferr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return exitCode(128 + int(ws.Signal()))
		}
		return exitCode(ee.ExitCode())
	}
	return err
}
