package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/capy-oss/capy/internal/capyd"
	"github.com/capy-oss/capy/internal/e2e/e2etest"
)

// TestMain registers the real capyd main as the "capyd" command of the
// scripts: testscript runs it as a separate process (this test binary,
// re-executed under that name).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"capyd": func() { os.Exit(capyd.Main(os.Args, os.Stdout, os.Stderr, newServer)) },
	})
}

// TestScript runs testdata/*.txtar, one user story each, against the real
// binary. Besides testscript's builtins the scripts have:
//
//	capyd-start [args]       start capyd in the background and wait for its
//	                         "capyd started" line; sets $ADDR, $PORT, $URL,
//	                         $OPS (a URL) and $OPSADDR
//	capyd-signal [TERM|INT|HUP]  send a signal (default TERM) to it and
//	                         wait for its "shutting down" line (HUP: for
//	                         its next line about the keyring)
//	capyd-wait [-within d]   wait for it to exit (default within 10s); fails
//	                         unless it exits 0 (! capyd-wait: unless it
//	                         fails); its stderr becomes the script's stderr
//	capyd-stop [-within d]   capyd-signal TERM, then capyd-wait
//	http [-want status] [-token tok] [-ops] [-cacert file] METHOD PATH [BODY]
//	                         request $URL (or $OPS) PATH; the response body
//	                         becomes stdout; fails unless the status is
//	                         -want (default 200)
//	mailcode FILE EMAIL VAR  set $VAR to the newest code mailed to EMAIL in
//	                         the development mail.log FILE
//	jsonvar VAR KEY          set $VAR to the string KEY of the JSON object
//	                         in stdout
//	perm MODE PATH           the file's permission bits are MODE (octal)
//	gencert CERT KEY         write a self-signed certificate for 127.0.0.1
//
// Every script runs with CAPYD_LISTEN and CAPYD_OPS_LISTEN at
// 127.0.0.1:0, so scripts run in parallel.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(e *testscript.Env) error {
			e.Setenv("CAPYD_LISTEN", "127.0.0.1:0")
			e.Setenv("CAPYD_OPS_LISTEN", "127.0.0.1:0")
			// capyd here is this test binary (-race under make test): no
			// second of sleep at each exit (see cmd/capy's scripts).
			e.Setenv("GORACE", "atexit_sleep_ms=0")
			names := map[string]bool{}
			for _, kv := range e.Vars {
				if k, _, ok := strings.Cut(kv, "="); ok {
					names[k] = true
				}
			}
			for _, k := range capyd.EnvVars() {
				names[k] = true
			}
			e.Values[procKey{}] = &proc{envNames: names}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"capyd-start":  cmdStart,
			"capyd-signal": cmdSignal,
			"capyd-wait":   cmdWait,
			"capyd-stop":   cmdStop,
			"http":         cmdHTTP,
			"mailcode":     cmdMailcode,
			"jsonvar":      cmdJSONVar,
			"perm":         cmdPerm,
			"gencert":      cmdGencert,
		},
	})
}

type procKey struct{}

// proc is the capyd a script started.
type proc struct {
	envNames map[string]bool
	cmd      *exec.Cmd
	stderr   *e2etest.LogBuffer
	done     chan struct{}
	err      error         // from Wait, once done is closed
	scanned  chan struct{} // closed when all of stderr is in the buffer
}

func getProc(ts *testscript.TestScript) *proc { return ts.Value(procKey{}).(*proc) }

// startedLine matches the startup log line in text or JSON form.
var (
	textAddr = regexp.MustCompile(`msg="capyd started".* addr=(\S+) ops_addr=(\S+)`)
	jsonMsg  = `"msg":"capyd started"`
)

func cmdStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! capyd-start (use ! exec capyd …)")
	}
	p := getProc(ts)
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			ts.Fatalf("capyd is already running")
		}
	}
	var env []string
	for k := range p.envNames {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	cmd := exec.Command("capyd", args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(env, "PWD="+cmd.Dir)
	pr, pw := io.Pipe()
	p.stderr = &e2etest.LogBuffer{}
	cmd.Stderr = pw
	cmd.Stdout = p.stderr
	ts.Check(cmd.Start())
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	ts.Defer(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	addrs := make(chan [2]string, 1)
	scanDone := make(chan struct{})
	p.scanned = scanDone
	go func() {
		defer close(scanDone)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if found {
				continue
			}
			if m := textAddr.FindStringSubmatch(line); m != nil {
				addrs <- [2]string{m[1], m[2]}
				found = true
			} else if strings.Contains(line, jsonMsg) {
				var v struct{ Addr, OpsAddr string }
				var raw map[string]any
				if json.Unmarshal([]byte(line), &raw) == nil {
					v.Addr, _ = raw["addr"].(string)
					v.OpsAddr, _ = raw["ops_addr"].(string)
				}
				addrs <- [2]string{v.Addr, v.OpsAddr}
				found = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case a := <-addrs:
		ts.Setenv("ADDR", a[0])
		ts.Setenv("OPS", "http://"+a[1])
		ts.Setenv("OPSADDR", a[1])
		_, port, _ := net.SplitHostPort(a[0])
		ts.Setenv("PORT", port)
		scheme := "http"
		if slicesContains(args, "--tls-cert") {
			scheme = "https"
		}
		ts.Setenv("URL", scheme+"://"+a[0])
	case <-p.done:
		<-scanDone
		ts.Fatalf("capyd exited before it started (%v):\n%s", p.err, p.stderr)
	case <-time.After(30 * time.Second):
		ts.Fatalf("capyd did not start within 30s:\n%s", p.stderr)
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s || strings.HasPrefix(x, s+"=") {
			return true
		}
	}
	return false
}

func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	p := getProc(ts)
	if p.cmd == nil {
		ts.Fatalf("capyd is not running")
	}
	sig, seen := syscall.SIGTERM, "shutting down"
	if len(args) > 0 {
		switch args[0] {
		case "TERM":
		case "INT":
			sig = syscall.SIGINT
		case "HUP":
			sig = syscall.SIGHUP
		default:
			ts.Fatalf("usage: capyd-signal [TERM|INT|HUP]")
		}
	}
	// SIGHUP: wait for one more line about the keyring (reloaded or not).
	keyringLines := strings.Count(p.stderr.String(), "keyring")
	ts.Check(p.cmd.Process.Signal(sig))
	// Wait until capyd has seen it, so what the script checks next
	// happens during the shutdown (or after the reload).
	deadline := time.Now().Add(5 * time.Second)
	for sig == syscall.SIGHUP && strings.Count(p.stderr.String(), "keyring") <= keyringLines ||
		sig != syscall.SIGHUP && !strings.Contains(p.stderr.String(), seen) {
		select {
		case <-p.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			ts.Fatalf("capyd did not log the %s within 5s:\n%s", sig, p.stderr)
		}
	}
}

func cmdWait(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("capyd-wait", flag.ContinueOnError)
	within := fs.Duration("within", 10*time.Second, "")
	ts.Check(fs.Parse(args))
	p := getProc(ts)
	if p.cmd == nil {
		ts.Fatalf("capyd is not running")
	}
	start := time.Now()
	select {
	case <-p.done:
	case <-time.After(*within):
		ts.Fatalf("capyd did not exit within %v:\n%s", *within, p.stderr)
	}
	<-p.scanned
	fmt.Fprint(ts.Stderr(), p.stderr.String())
	ts.Logf("capyd exited after %v: %v", time.Since(start).Round(time.Millisecond), p.err)
	switch {
	case neg && p.err == nil:
		ts.Fatalf("capyd exited 0")
	case !neg && p.err != nil:
		ts.Fatalf("capyd: %v", p.err)
	}
}

func cmdStop(ts *testscript.TestScript, neg bool, args []string) {
	cmdSignal(ts, false, nil)
	cmdWait(ts, neg, args)
}

func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("http", flag.ContinueOnError)
	want := fs.Int("want", 200, "")
	token := fs.String("token", "", "")
	ops := fs.Bool("ops", false, "")
	cacert := fs.String("cacert", "", "")
	ts.Check(fs.Parse(args))
	if fs.NArg() < 2 || fs.NArg() > 3 {
		ts.Fatalf("usage: http [-want status] [-token tok] [-ops] [-cacert file] METHOD PATH [BODY]")
	}
	base := ts.Getenv("URL")
	if *ops {
		base = ts.Getenv("OPS")
	}
	var body io.Reader
	if fs.NArg() == 3 {
		body = strings.NewReader(fs.Arg(2))
	}
	req, err := http.NewRequest(fs.Arg(0), base+fs.Arg(1), body)
	ts.Check(err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if *token != "" {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	if *cacert != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ts.ReadFile(*cacert))) {
			ts.Fatalf("no certificate in %s", *cacert)
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	resp, err := client.Do(req)
	if neg {
		if err == nil {
			resp.Body.Close()
			ts.Fatalf("request succeeded with %s", resp.Status)
		}
		fmt.Fprintln(ts.Stderr(), err)
		return
	}
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), string(b))
	if resp.StatusCode != *want {
		ts.Fatalf("%s %s: status %d, want %d: %s", fs.Arg(0), fs.Arg(1), resp.StatusCode, *want, b)
	}
}

func cmdMailcode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: mailcode FILE EMAIL VAR")
	}
	code := ""
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		var m struct{ To, Code string }
		if json.Unmarshal([]byte(line), &m) == nil && m.To == args[1] {
			// As mailed ("1234 5678"); clients strip spaces and '-'.
			code = strings.NewReplacer(" ", "", "-", "").Replace(m.Code)
		}
	}
	if code == "" {
		ts.Fatalf("no code for %s in %s", args[1], args[0])
	}
	ts.Setenv(args[2], code)
}

func cmdJSONVar(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsonvar VAR KEY")
	}
	var m map[string]any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &m))
	s, ok := m[args[1]].(string)
	if !ok {
		ts.Fatalf("stdout has no string %q", args[1])
	}
	ts.Setenv(args[0], s)
}

func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm MODE PATH")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	fi, err := os.Lstat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := uint64(fi.Mode().Perm())
	if (got == want) == neg {
		ts.Fatalf("%s has mode %04o; want %s%04o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

func cmdGencert(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: gencert CERT KEY")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "capyd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ts.Check(err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600))
}
