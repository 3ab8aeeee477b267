package e2etest

import "syscall"

// procAttr makes the kernel kill a capyd when the test binary dies without
// its cleanup (a panic, a -timeout, SIGKILL), so none outlives it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
