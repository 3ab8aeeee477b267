// Package e2etest is the one harness of capy's end-to-end tests: the real
// capy and capyd binaries built once per test process, a real capyd on a
// loopback port (as a process, or as the server handler in-process over a
// real store), its log captured in a buffer a test can wait on, the
// development mailer's login codes, and a settable clock.
//
// It is imported by tests only (no package's row in internal/arch's import
// table lists it). PostgreSQL comes from internal/store/pgtest: a package
// whose tests use pgtest.NewDatabase starts with MainPostgres.
//
// Use:
//
//	func TestMain(m *testing.M) { e2etest.Main(m) }
//
//	func TestX(t *testing.T) {
//		d := e2etest.StartCapyd(t, e2etest.CapydOptions{})
//		cmd := exec.Command(e2etest.CapyBin(t), "login", "--service", d.URL, …)
//	}
package e2etest
