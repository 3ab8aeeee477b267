// Package clistress drives the real capy and capyd binaries as separate
// processes, under load and under crashes:
//
//   - TestConcurrentSync: 20 checkouts of one environment, each changing a
//     different variable, sync at the same moment; every change must land
//     in the head exactly once, in a linear chain of versions.
//   - TestCrashDuringSync: capy is killed with SIGKILL at random moments of
//     a sync, hundreds of times; the .env file must always be the old
//     document or the complete new one, and the next sync must converge.
//   - TestCrashDuringSet: the same for `capy set`.
//
// TestMain builds capy and capyd once (a plain build; only the test
// process runs under -race); every test starts its own capyd on a loopback
// port with a SQLite database in a temporary data directory.
package clistress

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Paths of the binaries TestMain built.
var capyBin, capydBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "clistress-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "clistress:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "clistress:", err)
		return 1
	}
	cmd := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/capy", "./cmd/capyd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "clistress: go build: %v\n%s", err, out)
		return 1
	}
	capyBin, capydBin = filepath.Join(dir, "capy"), filepath.Join(dir, "capyd")
	return m.Run()
}

// moduleRoot is the directory of the go.mod this package belongs to.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}
