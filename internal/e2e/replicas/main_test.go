// Package replicas proves capyd's multi-replica and failure claims end to
// end (docs/server.md, "PostgreSQL and several replicas"; DESIGN §3):
// real capyd processes on loopback ports, built from this tree, sharing
// one private PostgreSQL cluster (pgtest.StartCluster) that the tests stop,
// crash and restart under them.
//
//   - TestKickAcrossReplicas: a kick through one replica is enforced by
//     the others on their very next request, and a kick racing with
//     co-decrypts on other replicas never lets one through that the audit
//     chain orders after it.
//   - TestSIGKILLReplica: a replica killed with SIGKILL while clients push
//     and co-decrypt through all replicas loses no accepted push and
//     leaves no partial version; clients fail over.
//   - TestDatabaseOutage: with PostgreSQL stopped (and, separately,
//     crashed) capyd answers 503 unavailable problems quickly, /readyz
//     fails, nothing is half-written, and service resumes without a capyd
//     restart.
//
// The package holds tests only. TestMain builds capyd once.
package replicas

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// capydBin is the capyd binary TestMain built.
var capydBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "capy-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	capydBin = filepath.Join(dir, "capyd")
	// No -race: the binaries are the system under test, not the test;
	// CGO_ENABLED=0 as `make build`.
	cmd := exec.Command("go", "build", "-tags", "urfave_cli_no_docs", "-o", capydBin, "github.com/capy-oss/capy/cmd/capyd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build capyd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}
