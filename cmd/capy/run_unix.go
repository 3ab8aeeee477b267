//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// startChild replaces capy with the command (execve), as a shell's exec
// does (docs/decisions.md #28). The process that held the keys and the
// decrypted values is gone once the command runs; every signal reaches
// the command itself, not a forwarder; and the command's status, a death
// by signal included, is the one capy's caller sees. The audit head the
// unlock was shown is written first, since nothing of capy runs after.
func startChild(u *ui, path string, argv, env []string) error {
	if err := u.flush(); err != nil {
		u.warn("could not record the audit head this unlock was shown: %v", err)
	}
	err := syscall.Exec(path, argv, env)
	return withHint(fmt.Errorf("start %s: %w", argv[0], err), "no-command", "check that the file is executable")
}
