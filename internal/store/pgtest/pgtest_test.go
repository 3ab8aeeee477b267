package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

type runFunc func() int

func (f runFunc) Run() int { return f() }

func reset() {
	mu.Lock()
	current, unavailable, mainCalled = nil, nil, false
	mu.Unlock()
	startServer = start
}

// Without PostgreSQL: a failure under CI=true, a loud skip elsewhere.
func TestMissingPostgres(t *testing.T) {
	t.Cleanup(reset)
	startServer = func() (*server, error) { return nil, errNoBinaries }

	t.Setenv("CI", "true")
	ran := false
	if code := run(runFunc(func() int { ran = true; return 0 })); code != 1 || ran {
		t.Fatalf("CI=true: exit %d, tests ran: %v; want exit 1 without running", code, ran)
	}

	t.Setenv("CI", "")
	var skipped bool
	code := run(runFunc(func() int {
		t.Run("needs-postgres", func(t *testing.T) {
			defer func() { skipped = t.Skipped() }()
			NewDatabase(t)
		})
		return 0
	}))
	if code != 0 || !skipped {
		t.Fatalf("locally: exit %d, skipped %v; want the test skipped", code, skipped)
	}
}

// A broken installation is a failure even locally.
func TestBrokenPostgres(t *testing.T) {
	t.Cleanup(reset)
	t.Setenv("CI", "")
	startServer = func() (*server, error) { return nil, errors.New("initdb: boom") }
	if code := run(runFunc(func() int { return 0 })); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

func TestFindBinaries(t *testing.T) {
	if _, err := findBinaries(t.TempDir(), filepath.Join(t.TempDir(), "nothing", "*")); !errors.Is(err, errNoBinaries) {
		t.Fatalf("empty PATH: %v", err)
	}
	dir := t.TempDir()
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, b), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := findBinaries(dir, "/nonexistent/*")
	if err != nil || got != dir {
		t.Fatalf("findBinaries = %q, %v", got, err)
	}
}

func TestWithDatabase(t *testing.T) {
	u, err := withDatabase("postgres://u:p@h:5433/postgres?sslmode=disable", "capytest_x")
	if err != nil || u != "postgres://u:p@h:5433/capytest_x?sslmode=disable" {
		t.Fatalf("%q %v", u, err)
	}
	u, _ = withDatabase("host=/tmp dbname=postgres", "capytest_x")
	cfg, err := pgx.ParseConfig(u)
	if err != nil || cfg.Database != "capytest_x" {
		t.Fatalf("key=value: %q → %v %v", u, cfg, err)
	}
}

// The cluster goes away even when the test binary is killed outright: a
// child process starts one and is killed with SIGKILL; the watchdog must
// stop the server and remove its directory.
func TestClusterStopsWhenTheBinaryDies(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skip("uses an external server")
	}
	if _, err := findBinaries(os.Getenv("PATH"), "/usr/lib/postgresql/*/bin"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCluster$")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var dir, conn string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "CLUSTER "); ok {
			dir, conn, _ = strings.Cut(d, " ")
			break
		}
	}
	if dir == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("the helper did not start a cluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		t.Fatalf("cluster not reachable: %v", err)
	}
	c.Close(ctx)
	_ = cmd.Process.Kill() // SIGKILL: no deferred cleanup runs
	_ = cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, statErr := os.Stat(dir)
		if errors.Is(statErr, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists 20s after the test binary died", dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if c, err := pgx.Connect(ctx2, conn); err == nil {
		c.Close(ctx2)
		t.Fatal("the cluster still accepts connections")
	}
}

// TestHelperCluster is the child of TestClusterStopsWhenTheBinaryDies.
func TestHelperCluster(t *testing.T) {
	if os.Getenv("PGTEST_HELPER") != "1" {
		t.Skip("helper process only")
	}
	bin, err := findBinaries(os.Getenv("PATH"), "/usr/lib/postgresql/*/bin")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startCluster(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimPrefix(strings.Fields(srv.adminURL)[0], "host=")
	fmt.Printf("CLUSTER %s %s\n", dir, srv.adminURL)
	time.Sleep(time.Minute) // killed long before
}
