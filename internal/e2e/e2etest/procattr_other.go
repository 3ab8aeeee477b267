//go:build !linux

package e2etest

import "syscall"

// procAttr: without Pdeathsig, a capyd outlives a test binary that dies
// without its cleanup (its data directory is then gone under it).
func procAttr() *syscall.SysProcAttr { return nil }
