package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is the PostgreSQL capyd runs on during the benchmark.
type Postgres struct {
	URL   string // the benchmark database
	Fsync bool   // false only for a throwaway cluster started with -pg-fsync=false
	Desc  string // what it is, for the report
	stop  func()
}

// Stop stops a throwaway cluster (and drops the database on an external
// server).
func (p *Postgres) Stop() {
	if p != nil && p.stop != nil {
		p.stop()
	}
}

// StartPostgres returns a fresh database: on the server at external (a
// role with CREATEDB), else on a throwaway cluster from the local binaries
// (initdb, pg_ctl; as root they run as the "postgres" user), listening
// only on a unix socket in a temporary directory. The cluster keeps
// PostgreSQL's durable defaults (fsync=on, synchronous_commit=on,
// full_page_writes=on) unless fsync is false.
func StartPostgres(external string, fsync bool) (*Postgres, error) {
	if external != "" {
		return externalDB(external)
	}
	bin, err := pgBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "capybench-pg-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs a 'postgres' user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Dir = dir
		c.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		if cred != nil {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		}
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "capy", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-instructions").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf("\nlisten_addresses = ''\nunix_socket_directories = '%s'\nport = 5432\nmax_connections = 200\nlogging_collector = off\n", dir)
	if !fsync {
		conf += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
	}
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logFile := filepath.Join(dir, "server.log")
	if out, err := command("pg_ctl", "start", "-D", data, "-l", logFile, "-w", "-t", "60", "-s").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(logFile)
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	stop := func() {
		_ = command("pg_ctl", "stop", "-D", data, "-m", "fast", "-s", "-w").Run()
		os.RemoveAll(dir)
	}
	admin := fmt.Sprintf("postgres://capy@/postgres?host=%s&port=5432&sslmode=disable", url.QueryEscape(dir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		stop()
		return nil, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE capybench"); err != nil {
		stop()
		return nil, err
	}
	var version string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&version)
	desc := fmt.Sprintf("PostgreSQL %s, throwaway cluster on a unix socket, fsync=on synchronous_commit=on (defaults)", version)
	if !fsync {
		desc = fmt.Sprintf("PostgreSQL %s, throwaway cluster, fsync=OFF synchronous_commit=off (not durable: comparison only)", version)
	}
	return &Postgres{
		URL:   fmt.Sprintf("postgres://capy@/capybench?host=%s&port=5432&sslmode=disable", url.QueryEscape(dir)),
		Fsync: fsync, Desc: desc, stop: stop,
	}, nil
}

func externalDB(admin string) (*Postgres, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("capybench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return nil, err
	}
	var version string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&version)
	u, err := url.Parse(admin)
	if err != nil || !strings.HasPrefix(admin, "postgres") {
		return nil, errors.New("the external PostgreSQL must be given as a postgres:// URL")
	}
	u.Path = "/" + name
	return &Postgres{URL: u.String(), Fsync: true, Desc: "PostgreSQL " + version + " (external server; its own durability settings)",
		stop: func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if c, err := pgx.Connect(ctx, admin); err == nil {
				_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
				c.Close(ctx)
			}
		}}, nil
}

// pgBinaries finds initdb, pg_ctl and postgres on PATH or in the newest
// /usr/lib/postgresql/*/bin.
func pgBinaries() (string, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(r))
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(found, func(i, j int) bool {
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[i])))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(found[j])))
		return a > b
	})
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
	return "", errors.New("no PostgreSQL binaries (initdb, pg_ctl, postgres) on PATH or in /usr/lib/postgresql/*/bin; set CAPY_TEST_DATABASE_URL or install postgresql")
}
