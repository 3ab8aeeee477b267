package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// clusterFiles is a throwaway cluster on disk: a temporary directory that
// holds the unix socket, the data directory and the server log.
type clusterFiles struct {
	bin  string // initdb, pg_ctl, postgres
	dir  string
	data string // PGDATA
	log  string
	cred *syscall.Credential // the postgres user's, when running as root
}

// initCluster makes a temporary directory (named prefix…) and runs initdb
// in it, superuser "capy" trusted on the socket, then appends conf (with
// the directory for its %s) to postgresql.conf. As root everything runs as
// the "postgres" user, which then owns the directory: initdb refuses root.
// On error nothing is left behind.
func initCluster(bin, prefix, conf string) (*clusterFiles, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %v", err)
	}
	c := &clusterFiles{bin: bin, dir: dir, data: filepath.Join(dir, "data"), log: filepath.Join(dir, "server.log")}
	if err := c.init(conf); err != nil {
		c.remove()
		return nil, err
	}
	return c, nil
}

func (c *clusterFiles) init(conf string) error {
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pgtest: running as root needs a 'postgres' user for initdb: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(c.dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %v", err)
		}
	}
	if out, err := c.command("initdb", "-D", c.data, "-U", "capy", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	f, err := os.OpenFile(filepath.Join(c.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = fmt.Fprintf(f, conf, c.dir)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("pgtest: configure cluster: %v", err)
	}
	return nil
}

// command prepares a PostgreSQL binary run as the cluster's owner.
func (c *clusterFiles) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	return cmd
}

func (c *clusterFiles) remove() { os.RemoveAll(c.dir) }

// startWatchdog starts the process that stops the cluster and removes its
// directory if this test binary dies without running its cleanup (panic,
// timeout, SIGKILL): it polls for our pid. Kill it once the cluster is
// stopped the normal way.
func (c *clusterFiles) startWatchdog() (*exec.Cmd, error) {
	pid := strconv.Itoa(os.Getpid())
	wd := exec.Command("/bin/sh", "-c", `while kill -0 `+pid+` 2>/dev/null || [ -d /proc/`+pid+` ]; do sleep 1; done; `+
		`"$0" stop -D "$1" -m immediate -s >/dev/null 2>&1; rm -rf "$2"`, filepath.Join(c.bin, "pg_ctl"), c.data, c.dir)
	wd.Dir = os.TempDir()
	attr := &syscall.SysProcAttr{Setsid: true}
	if c.cred != nil {
		attr.Credential = c.cred
	}
	wd.SysProcAttr = attr
	if err := wd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: watchdog: %v", err)
	}
	return wd, nil
}
