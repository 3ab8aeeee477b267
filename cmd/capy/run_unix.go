//go:build unix

package main

import (
	"errors"
	"fmt"
	"syscall"
)

// startChild replaces capy with the command (execve), as a shell's exec
// does (docs/decisions.md #28). The process that held the keys and the
// decrypted values is gone once the command runs; signals reach the
// command itself, not a forwarder; and the command's status, a death by
// signal included, is the one capy's caller sees.
func startChild(path string, argv, env []string) error {
	// Where close-on-exec is set in a second step (darwin, BSDs), holding
	// ForkLock keeps a descriptor being opened from reaching the command,
	// as os/exec does.
	syscall.ForkLock.Lock()
	err := syscall.Exec(path, argv, env)
	syscall.ForkLock.Unlock()
	exit, hint := exitError, ""
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOEXEC):
		exit, hint = exitNotExecutable, notExecutableHint
	case errors.Is(err, syscall.ENOENT):
		exit = exitNotFound // a #! interpreter that is not there
	}
	return &cliError{code: "no-command", exit: exit, msg: fmt.Sprintf("start %s: %v", argv[0], err), hint: hint, err: err}
}
