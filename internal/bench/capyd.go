package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Binaries are the programs the harness builds.
type Binaries struct {
	Capy, Capyd string // as `make build` builds them
	RunRSS      string // the launcher that reports wall time and peak RSS
	// CapydPprof is cmd/capyd built with the capyd_pprof tag as well: the
	// same capyd plus net/http/pprof on CAPYBENCH_PPROF (loopback), for
	// -profile-dir only. "" when not asked for or when it did not build.
	CapydPprof string
	PprofError string // why it did not build
}

// Build compiles capy and capyd from the module at root into dir with the
// build tags of `make build` (CGO_ENABLED=0), the runrss launcher, and,
// with pprof, capyd-pprof.
func Build(root, dir, tags string, pprof bool) (*Binaries, error) {
	build := func(out, tags string, pkgs ...string) error {
		args := append([]string{"build", "-tags", tags, "-o", out}, pkgs...)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := build(dir+string(os.PathSeparator), tags, "./cmd/capy", "./cmd/capyd"); err != nil {
		return nil, err
	}
	b := &Binaries{Capy: filepath.Join(dir, "capy"), Capyd: filepath.Join(dir, "capyd"), RunRSS: filepath.Join(dir, "runrss")}
	if err := build(b.RunRSS, tags, "./internal/bench/cmd/runrss"); err != nil {
		return nil, err
	}
	if pprof {
		out := filepath.Join(dir, "capyd-pprof")
		// go build -tags takes a comma-separated list (a space would make
		// it read "a,b" as one tag).
		pprofTags := "capyd_pprof"
		if tags != "" {
			pprofTags = tags + ",capyd_pprof"
		}
		if err := build(out, pprofTags, "./cmd/capyd"); err != nil {
			b.PprofError = err.Error()
		} else {
			b.CapydPprof = out
		}
	}
	return b, nil
}

// Capyd is a running capyd.
type Capyd struct {
	URL      string
	DataDir  string
	Log      string // shared by the runs of one binary on one data directory
	logStart int64  // where this run's lines begin in Log
	cmd      *exec.Cmd
	done     chan error
}

// Pid is the process id.
func (c *Capyd) Pid() int { return c.cmd.Process.Pid }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// StartCapyd starts bin on a free loopback port with dataDir, on SQLite
// (database "") or the PostgreSQL at database, with the extra flags args
// and environment extraEnv, and waits for /healthz.
func StartCapyd(bin, dataDir, database, logLevel string, args []string, extraEnv ...string) (*Capyd, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	logPath := filepath.Join(filepath.Dir(dataDir), filepath.Base(dataDir)+"-"+filepath.Base(bin)+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	logStart, err := logf.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	argv := append([]string{"serve", "--data-dir", dataDir, "--listen", addr, "--ops-listen", "", "--log-level", logLevel}, args...)
	cmd := exec.Command(bin, argv...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Dir(dataDir)}
	if database != "" {
		cmd.Env = append(cmd.Env, "CAPYD_DATABASE="+database) // not in argv: ps shows argv
	}
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &Capyd{URL: "http://" + addr, DataDir: dataDir, Log: logPath, logStart: logStart, cmd: cmd, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited at start: %v\n%s", bin, err, tail(string(log), 3000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Stop()
	return nil, errors.New("capyd did not become healthy within 60 s")
}

// Stop sends SIGTERM and waits (SIGKILL after 30 s).
func (c *Capyd) Stop() {
	if c == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// WaitLog waits up to within for a line containing text in this run's
// log. (capyd answers /healthz before it logs its start-up lines.)
func (c *Capyd) WaitLog(text string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(c.Log)
		if err != nil {
			return err
		}
		if int64(len(b)) > c.logStart && strings.Contains(string(b[c.logStart:]), text) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("capyd did not log %q within %v (log: %s)", text, within, c.Log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mem returns capyd's VmRSS and VmHWM in KiB.
func (c *Capyd) Mem() (rss, hwm int64, err error) { return procMem(c.Pid()) }
