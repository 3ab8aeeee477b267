//go:build !linux

package replicas

import "syscall"

// procAttr: without Pdeathsig, a capyd outlives a test binary that dies
// without its cleanup (it then fails on its dead database).
func procAttr() *syscall.SysProcAttr { return nil }
