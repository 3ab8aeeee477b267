// Command runrss runs one command and reports its wall time and peak RSS
// on file descriptor 3 as "<nanoseconds> <maxrss KiB> <exit status>". The
// benchmark harness (internal/bench) starts every timed command through it.
//
// Why a separate, tiny program: Go starts children with clone(CLONE_VM |
// CLONE_VFORK), so at exec Linux records the parent's peak RSS as the
// child's starting ru_maxrss. Timed directly from the harness (which holds
// load-test buffers and database drivers), every child would report at
// least the harness's peak. This program's own peak is a few MiB, which
// is then the floor of every reported RSS (the baseline `env A=1 true`
// row shows it).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: runrss CMD [ARGS…] (result on fd 3)")
		os.Exit(2)
	}
	out := os.NewFile(3, "result")
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	status := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, "runrss:", err)
		os.Exit(127)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	if out == nil {
		os.Exit(125)
	}
	fmt.Fprintf(out, "%d %d %d\n", elapsed.Nanoseconds(), rss, status)
	os.Exit(status)
}
