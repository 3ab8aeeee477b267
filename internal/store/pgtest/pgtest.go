// Package pgtest gives a test package a real PostgreSQL: one server per
// test binary, started in TestMain and stopped at the end (also when the
// binary dies), and one fresh database per test.
//
// Where the server comes from:
//
//   - CAPY_TEST_DATABASE_URL, if set: an existing server, reached with that
//     URL (or key=value DSN). Its role needs CREATEDB; each test gets a
//     database named capytest_… that is dropped after it.
//   - Otherwise a throwaway cluster from the local PostgreSQL binaries
//     (initdb and pg_ctl on PATH, else the newest /usr/lib/postgresql/*/bin):
//     initdb into a temporary directory, listening only on a unix socket in
//     that directory. As root the binaries run as the "postgres" user
//     (initdb refuses root). For speed the cluster runs with fsync=off and
//     small buffers: it is thrown away, and nothing else may run that way.
//
// With CI=true a missing PostgreSQL fails the test binary; elsewhere the
// tests that need it are skipped with a loud message.
//
// Use:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) { url := pgtest.NewDatabase(t); … }
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the variable that points the tests at an existing server.
const EnvURL = "CAPY_TEST_DATABASE_URL"

// server is the PostgreSQL the test binary uses.
type server struct {
	adminURL string        // superuser (or CREATEDB role) connection to the maintenance database
	admin    *pgxpool.Pool // for CREATE / DROP DATABASE
	stop     func()        // stops and removes a throwaway cluster; no-op for an external one
}

var (
	mu          sync.Mutex
	current     *server
	unavailable error // set when PostgreSQL is missing and tests are to be skipped
	mainCalled  bool
)

// Main starts PostgreSQL (or connects to CAPY_TEST_DATABASE_URL), runs the
// tests, stops it and exits. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

// Run is Main without the exit, for a TestMain that composes it with
// another wrapper (testscript.RunMain): it starts PostgreSQL, calls
// m.Run(), stops PostgreSQL and returns m.Run's result.
func Run(m interface{ Run() int }) int { return run(m) }

// runner is what run needs of *testing.M.
type runner interface{ Run() int }

func run(m runner) int {
	mu.Lock()
	mainCalled = true
	mu.Unlock()
	srv, err := startServer()
	switch {
	case errors.Is(err, errNoBinaries) && os.Getenv("CI") != "true":
		banner("PostgreSQL NOT AVAILABLE: every PostgreSQL test in this package is SKIPPED.",
			err.Error(),
			"Install PostgreSQL (initdb, pg_ctl) or set "+EnvURL+".",
			"With CI=true this is a failure.")
		mu.Lock()
		unavailable = err
		mu.Unlock()
	case err != nil:
		fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		if errors.Is(err, errNoBinaries) {
			fmt.Fprintln(os.Stderr, "pgtest: CI=true, so a missing PostgreSQL is a failure, not a skip")
		}
		return 1
	default:
		mu.Lock()
		current = srv
		mu.Unlock()
		defer srv.stop()
	}
	return m.Run()
}

func banner(lines ...string) {
	bar := strings.Repeat("!", 78)
	fmt.Fprintln(os.Stderr, bar)
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "!!! "+l)
	}
	fmt.Fprintln(os.Stderr, bar)
}

// NewDatabase creates an empty database for this test and returns a
// connection string for it; the database is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	mu.Lock()
	srv, skip, called := current, unavailable, mainCalled
	mu.Unlock()
	if !called {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain")
	}
	if srv == nil {
		t.Skipf("pgtest: PostgreSQL not available, test skipped: %v", skip)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "capytest_" + randomHex(8)
	if _, err := srv.admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0`); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := srv.admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(srv.adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// withDatabase returns conn with its database replaced by name.
func withDatabase(conn, name string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("pgtest: bad %s: %v", EnvURL, err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return conn + " dbname=" + name, nil // key=value: a later key wins
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errNoBinaries = errors.New("no PostgreSQL binaries (initdb, pg_ctl) found")

// startServer is start, replaceable by this package's tests.
var startServer = start

func start() (*server, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return connect(u, func() {})
	}
	bin, err := findBinaries(os.Getenv("PATH"), "/usr/lib/postgresql/*/bin")
	if err != nil {
		return nil, err
	}
	return startCluster(bin)
}

func connect(adminURL string, stop func()) (*server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(adminURL)
	if err != nil {
		stop()
		return nil, fmt.Errorf("pgtest: bad connection string: %v", err)
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		stop()
		return nil, fmt.Errorf("pgtest: cannot reach PostgreSQL: %v", err)
	}
	return &server{adminURL: adminURL, admin: pool, stop: func() { pool.Close(); stop() }}, nil
}

// findBinaries returns the directory holding initdb, pg_ctl and postgres.
// It looks on path first, then in the directories matching glob.
func findBinaries(path, glob string) (string, error) {
	var dirs []string
	if p, err := lookPath("initdb", path); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	found, _ := filepath.Glob(glob)
	sort.Slice(found, func(i, j int) bool { return pgMajor(found[i]) > pgMajor(found[j]) })
	dirs = append(dirs, found...)
	for _, d := range dirs {
		ok := true
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, b)); err != nil || st.IsDir() {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	return "", errNoBinaries
}

// lookPath is exec.LookPath over the given PATH value.
func lookPath(name, path string) (string, error) {
	for _, d := range filepath.SplitList(path) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// cluster settings for a throwaway test server; never for real data.
const clusterConf = `
listen_addresses = ''
unix_socket_directories = '%s'
port = 5432
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 200
max_wal_size = 1GB
logging_collector = off
`

func startCluster(bin string) (*server, error) {
	c, err := initCluster(bin, "capy-pg-", clusterConf)
	if err != nil {
		return nil, err
	}
	if out, err := c.command("pg_ctl", "start", "-D", c.data, "-l", c.log, "-w", "-t", "60", "-s").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(c.log)
		c.remove()
		return nil, fmt.Errorf("pgtest: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	stopCluster := func() {
		_ = c.command("pg_ctl", "stop", "-D", c.data, "-m", "immediate", "-s", "-w").Run()
		c.remove()
	}
	wd, err := c.startWatchdog()
	if err != nil {
		stopCluster()
		return nil, err
	}
	stop := func() {
		stopCluster()
		_ = wd.Process.Kill()
		_ = wd.Wait()
	}
	conn := fmt.Sprintf("host=%s port=5432 user=capy dbname=postgres sslmode=disable", c.dir)
	return connect(conn, stop)
}

// Conn opens a plain connection to url, for tests that need to look at the
// database directly.
func Conn(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
