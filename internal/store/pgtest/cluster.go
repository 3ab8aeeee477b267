package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a private throwaway PostgreSQL server for one test, for tests
// that stop and start the server under a running service (a database
// outage, a restart). It is always started from the local binaries, even
// when CAPY_TEST_DATABASE_URL is set: nobody else's server may be stopped.
// It needs no pgtest.Main.
//
// Like the package-wide server it listens only on a unix socket in its
// temporary directory and is stopped and removed when the test ends, also
// when the test binary dies (a watchdog process). Unlike it, it keeps
// synchronous_commit=on: a commit is acknowledged only once its WAL is
// written out, so Kill (a crash of PostgreSQL) loses no acknowledged
// commit, as in production. fsync stays off: that only matters if the
// machine crashes.
//
// Stop, Kill and Start must be called from the test's goroutine (they stop
// the test on failure).
type Cluster struct {
	t       testing.TB
	dir     string // socket directory and parent of data
	data    string // PGDATA
	logFile string
	url     string
	command func(name string, args ...string) *exec.Cmd

	mu      sync.Mutex
	running bool
}

// privateConf overrides clusterConf for a private cluster (later lines
// win): with synchronous_commit=off an immediate shutdown drops commits
// that were already acknowledged.
const privateConf = "synchronous_commit = on\n"

// clusterDB is the database StartCluster creates; URL points at it.
const clusterDB = "capy"

// StartCluster initialises and starts a private cluster with one empty
// database, "capy", owned by the superuser "capy". Without the PostgreSQL
// binaries the test is skipped with a loud message, or fails under CI=true.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, err := findBinaries(os.Getenv("PATH"), "/usr/lib/postgresql/*/bin")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pgtest: %v (CI=true, so a missing PostgreSQL is a failure, not a skip)", err)
		}
		banner("PostgreSQL NOT AVAILABLE: "+t.Name()+" is SKIPPED.", err.Error(),
			"Install PostgreSQL (initdb, pg_ctl). With CI=true this is a failure.")
		t.Skipf("pgtest: PostgreSQL not available, test skipped: %v", err)
	}
	files, err := initCluster(bin, "capy-pgc-", clusterConf+privateConf)
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, dir: files.dir, data: files.data, logFile: files.log, command: files.command}
	wd, err := files.startWatchdog()
	if err != nil {
		files.remove()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.command("pg_ctl", "stop", "-D", c.data, "-m", "immediate", "-s", "-w").Run()
		_ = wd.Process.Kill()
		_ = wd.Wait()
		if t.Failed() {
			if log, err := os.ReadFile(c.logFile); err == nil {
				t.Logf("pgtest: server log of %s:\n%s", c.dir, tail(string(log), 4000))
			}
		}
		files.remove()
	})
	c.Start()

	admin := fmt.Sprintf("postgres://capy@/postgres?host=%s&port=5432&sslmode=disable", url.QueryEscape(c.dir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to the new cluster: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+clusterDB+` TEMPLATE template0`); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	c.url = fmt.Sprintf("postgres://capy@/%s?host=%s&port=5432&sslmode=disable", clusterDB, url.QueryEscape(c.dir))
	return c
}

// URL is a postgres:// URL of the cluster's database (unix socket in the
// query's host parameter), the form capyd's --database takes.
func (c *Cluster) URL() string { return c.url }

// Running reports whether the server is up (as far as Start and Stop know).
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.running
}

// Start starts the server on its data directory and waits until it
// accepts connections. Starting a running cluster is a no-op.
func (c *Cluster) Start() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return
	}
	if out, err := c.command("pg_ctl", "start", "-D", c.data, "-l", c.logFile, "-w", "-t", "60", "-s").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(c.logFile)
		c.t.Fatalf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, tail(string(log), 4000))
	}
	c.running = true
}

// Stop shuts the server down the way an administrator does ("fast":
// sessions are terminated, open transactions roll back, a checkpoint is
// written) and waits until it is gone.
func (c *Cluster) Stop() { c.stop("fast") }

// Kill stops the server the way a crash does ("immediate": no checkpoint,
// crash recovery at the next Start) and waits until it is gone.
func (c *Cluster) Kill() { c.stop("immediate") }

func (c *Cluster) stop(mode string) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return
	}
	if out, err := c.command("pg_ctl", "stop", "-D", c.data, "-m", mode, "-w", "-t", "60", "-s").CombinedOutput(); err != nil {
		c.t.Fatalf("pgtest: pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	c.running = false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return strings.TrimRight(s, "\n")
}
