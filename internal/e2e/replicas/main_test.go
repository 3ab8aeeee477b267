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
// The package holds tests only; e2etest builds capyd once.
package replicas

import (
	"testing"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }
