// Package bench is capy's whole-command and service benchmark harness
// (BENCHMARKS.md): it builds capy and capyd, starts capyd on loopback over
// SQLite and over a throwaway PostgreSQL cluster, sets up orgs with the
// real CLI, times `capy run` and `capy` sync as subprocesses (median of
// several runs after a warm-up, peak RSS from the rusage of each run),
// drives co-decrypt and head-blob GETs at fixed concurrency (the shipped
// capyd restarted with --unsafe-disable-rate-limits), times the
// peers (dotenvx, sops) on the same generated files, and prints one table
// with the targets marked met or missed.
//
// It is run by cmd/capybench (`make bench`), never by `go test`: nothing
// here is a test, and every loop is bounded by a request count and a
// duration. All traffic stays on loopback.
package bench
