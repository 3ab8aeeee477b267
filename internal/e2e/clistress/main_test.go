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
// The capy and capyd binaries are built once (e2etest); every test starts
// its own capyd on a loopback port with a SQLite database in a temporary
// data directory.
package clistress

import (
	"testing"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }
