package capyd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/capy-oss/capy/internal/e2e/e2etest"
	"github.com/capy-oss/capy/internal/kekring"
	"github.com/capy-oss/capy/internal/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fakeServer stands in for internal/server: /healthz, /readyz (503 once
// draining), /slow (blocks until released) and /metrics on the ops side.
type fakeServer struct {
	params   ServerParams
	draining atomic.Bool
	drained  chan struct{} // closed by SetDraining
	entered  chan struct{}
	release  chan struct{}
	keyrings chan *kekring.Ring // what SetKeyring was given
}

func newFake() *fakeServer {
	return &fakeServer{drained: make(chan struct{}), entered: make(chan struct{}, 10), release: make(chan struct{}), keyrings: make(chan *kekring.Ring, 10)}
}

func (f *fakeServer) health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"status":"ok"}`) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if f.draining.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		io.WriteString(w, `{}`)
	})
}

func (f *fakeServer) Handler() http.Handler {
	mux := http.NewServeMux()
	f.health(mux)
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		f.entered <- struct{}{}
		<-f.release
		io.WriteString(w, "done")
	})
	return mux
}

func (f *fakeServer) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	f.health(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(f.params.Registry, promhttp.HandlerOpts{}))
	return mux
}

func (f *fakeServer) SetDraining() {
	if !f.draining.Swap(true) {
		close(f.drained)
	}
}

func (f *fakeServer) SetKeyring(kr *kekring.Ring) { f.keyrings <- kr }

// running is capyd serving in-process.
type running struct {
	fake        *fakeServer
	public, ops string
	dataDir     string
	sigs        chan os.Signal
	hups        chan os.Signal
	exit        chan struct{} // closed when run returned
	code        int
	stdout      *e2etest.LogBuffer
	stderr      *e2etest.LogBuffer
}

// startServe runs capyd (in-process, with the fake server) and waits for
// it to listen.
func startServe(t *testing.T, args ...string) *running {
	t.Helper()
	r := &running{fake: newFake(), sigs: make(chan os.Signal, 2), hups: make(chan os.Signal, 1), exit: make(chan struct{}),
		stdout: &e2etest.LogBuffer{}, stderr: &e2etest.LogBuffer{}, dataDir: filepath.Join(t.TempDir(), "data")}
	ready := make(chan [2]net.Addr, 1)
	e := &env{
		stdout: r.stdout, stderr: r.stderr, signals: r.sigs, reload: r.hups,
		newServer: func(p ServerParams) (Server, error) { r.fake.params = p; return r.fake, nil },
		onReady:   func(pub, ops net.Addr) { ready <- [2]net.Addr{pub, ops} },
	}
	base := []string{"capyd", "--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0", "--data-dir", r.dataDir}
	go func() { r.code = run(append(base, args...), e); close(r.exit) }()
	select {
	case a := <-ready:
		r.public = "http://" + a[0].String()
		if a[1] != nil {
			r.ops = "http://" + a[1].String()
		}
	case <-r.exit:
		t.Fatalf("capyd exited %d before listening:\n%s", r.code, r.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("capyd did not start:\n%s", r.stderr)
	}
	t.Cleanup(func() {
		select {
		case <-r.exit:
		default:
			r.sigs <- syscall.SIGTERM
			r.sigs <- syscall.SIGTERM
			<-r.exit
		}
	})
	return r
}

func (r *running) waitExit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-r.exit:
		return r.code
	case <-time.After(within):
		t.Fatalf("capyd did not exit within %v:\n%s", within, r.stderr)
		return -1
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHandsTheServerItsDependencies(t *testing.T) {
	r := startServe(t, "--trusted-proxy", "10.0.0.0/8")
	p := r.fake.params
	if p.PublicURL != r.public {
		t.Errorf("PublicURL = %q, want %q (the bound address)", p.PublicURL, r.public)
	}
	if len(p.TrustedProxies) != 1 || p.TrustedProxies[0].String() != "10.0.0.0/8" {
		t.Errorf("TrustedProxies = %v", p.TrustedProxies)
	}
	if p.Store == nil || p.Keyring == nil || p.Mailer == nil || p.Logger == nil || p.Registry == nil || p.LoginCodeTTL != 10*time.Minute {
		t.Errorf("params incomplete: %+v", p)
	}
	if code, _ := get(t, r.public+"/healthz"); code != 200 {
		t.Errorf("healthz %d", code)
	}
	// capyd adds the Go and process collectors to the server's registry.
	_, metrics := get(t, r.ops+"/metrics")
	for _, m := range []string{"go_goroutines", "process_open_fds"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	r.sigs <- syscall.SIGTERM
	if code := r.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
}

// SIGTERM: draining (readyz 503) at once, no new connections, in-flight
// requests finish, exit 0.
func TestServeDrainsInFlightRequests(t *testing.T) {
	r := startServe(t, "--drain-delay", "300ms")
	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(r.public + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- fmt.Sprint(resp.StatusCode, " ", string(b))
	}()
	<-r.fake.entered
	r.sigs <- syscall.SIGTERM
	select {
	case <-r.fake.drained:
	case <-time.After(5 * time.Second):
		t.Fatalf("the server was not told to drain within 5s of SIGTERM:\n%s", r.stderr)
	}
	if code, _ := get(t, r.ops+"/readyz"); code != 503 {
		t.Errorf("readyz while draining: %d", code)
	}
	// After the drain delay the public listener is closed, while the
	// in-flight request still runs.
	if err := waitRefused(strings.TrimPrefix(r.public, "http://"), 5*time.Second); err != nil {
		t.Error(err)
	}
	select {
	case <-r.exit:
		t.Fatalf("exited %d before the in-flight request finished", r.code)
	default:
	}
	close(r.fake.release)
	if got := <-slow; got != "200 done" {
		t.Errorf("in-flight request: %s", got)
	}
	if code := r.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
	if !strings.Contains(r.stderr.String(), `msg="capyd stopped"`) {
		t.Errorf("log:\n%s", r.stderr)
	}
}

func TestServeShutdownTimeoutCutsOff(t *testing.T) {
	r := startServe(t, "--shutdown-timeout", "200ms")
	go http.Get(r.public + "/slow")
	<-r.fake.entered
	start := time.Now()
	r.sigs <- syscall.SIGTERM
	code := r.waitExit(t, 5*time.Second)
	close(r.fake.release)
	if code != ExitError || time.Since(start) > 3*time.Second {
		t.Errorf("exit %d after %v", code, time.Since(start))
	}
	if !strings.Contains(r.stderr.String(), "did not finish in time") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestServeSecondSignalStopsNow(t *testing.T) {
	r := startServe(t)
	go http.Get(r.public + "/slow")
	<-r.fake.entered
	r.sigs <- syscall.SIGTERM
	r.sigs <- syscall.SIGINT
	code := r.waitExit(t, 5*time.Second)
	close(r.fake.release)
	if code != ExitError || !strings.Contains(r.stderr.String(), "second signal") {
		t.Errorf("exit %d:\n%s", code, r.stderr)
	}
}

func TestServeOpsListenerOff(t *testing.T) {
	r := startServe(t, "--ops-listen", "")
	if r.ops != "" {
		t.Errorf("ops listener at %s", r.ops)
	}
	r.sigs <- syscall.SIGTERM
	r.waitExit(t, 5*time.Second)
	if !strings.Contains(r.stderr.String(), "ops_addr=off") {
		t.Errorf("log:\n%s", r.stderr)
	}
}

func TestServeServerError(t *testing.T) {
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, signals: make(chan os.Signal),
		newServer: func(ServerParams) (Server, error) { return nil, errors.New("no good") }}
	code := run([]string{"capyd", "--listen", "127.0.0.1:0", "--ops-listen", "", "--data-dir", t.TempDir() + "/d"}, e)
	if code != ExitError || !strings.Contains(stderr.String(), "capyd: error: build the server: no good") {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &stderr, signals: make(chan os.Signal),
		newServer: func(ServerParams) (Server, error) { return newFake(), nil }}
	code := run([]string{"capyd", "--listen", ln.Addr().String(), "--data-dir", t.TempDir() + "/d"}, e)
	if code != ExitError || !strings.Contains(stderr.String(), "capyd: error: listen on "+ln.Addr().String()) {
		t.Errorf("exit %d:\n%s", code, stderr.String())
	}
}

// --unsafe-disable-rate-limits reaches the server and is announced by one
// WARN line; without it the server keeps its limits and nothing is said.
func TestServeUnsafeDisableRateLimits(t *testing.T) {
	const warning = `level=WARN msg="RATE LIMITS OFF (--unsafe-disable-rate-limits): for load tests only;`
	for _, tc := range []struct {
		env  string
		args []string
		want bool
	}{
		{"", nil, false},
		{"", []string{"--unsafe-disable-rate-limits"}, true},
		{"true", nil, true},
	} {
		t.Run(fmt.Sprintf("env=%q,args=%q", tc.env, tc.args), func(t *testing.T) {
			t.Setenv("CAPYD_UNSAFE_DISABLE_RATE_LIMITS", tc.env)
			r := startServe(t, tc.args...)
			if got := r.fake.params.DisableRateLimits; got != tc.want {
				t.Errorf("ServerParams.DisableRateLimits = %v, want %v", got, tc.want)
			}
			r.sigs <- syscall.SIGTERM
			if code := r.waitExit(t, 5*time.Second); code != 0 {
				t.Fatalf("exit %d:\n%s", code, r.stderr)
			}
			want := 0
			if tc.want {
				want = 1
			}
			if n := strings.Count(r.stderr.String(), warning); n != want {
				t.Errorf("%d warnings, want %d:\n%s", n, want, r.stderr)
			}
		})
	}
}

// waitLog waits until capyd's log holds want n times in all.
func (r *running) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	if err := r.stderr.WaitCount(10*time.Second, want, n); err != nil {
		t.Fatal(err)
	}
}

// waitRefused waits (at most within) until nothing accepts TCP connections
// at addr. Each try that still connects closes its connection at once, so
// the server's shutdown does not wait for it.
func waitRefused(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still accepts connections %v after the drain began", addr, within)
		}
		<-tick.C
	}
}

// noKeyring fails if the server was handed a keyring.
func (r *running) noKeyring(t *testing.T, what string) {
	t.Helper()
	select {
	case kr := <-r.fake.keyrings:
		t.Fatalf("%s: the server got keyring %v", what, kr)
	default:
	}
}

// SIGHUP reloads the key file and hands the server the new keyring; a file
// that cannot be read or whose primary is older than the one in use is
// refused and the keyring in use stays. The process serves on throughout.
func TestServeSIGHUPReloadsKeyring(t *testing.T) {
	r := startServe(t)
	kekFile := filepath.Join(r.dataDir, "kek")
	kr1 := r.fake.params.Keyring
	if kr1.Primary() != 1 {
		t.Fatalf("started with %v", kr1)
	}
	kr2, err := rotateKEK(Config{KEKFile: kekFile})
	if err != nil {
		t.Fatal(err)
	}
	r.hups <- syscall.SIGHUP
	select {
	case kr := <-r.fake.keyrings:
		if kr.Primary() != 2 || !kr.Has(1) || kr.Encode() != kr2.Encode() {
			t.Fatalf("reloaded %v", kr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no reload after SIGHUP:\n%s", r.stderr)
	}
	r.waitLog(t, `msg="keyring reloaded" kek_file=`+kekFile+` kek_id=2 kek_ids=1,2`, 1)

	// A key file others can read: refused, KEK 2 stays.
	if err := os.Chmod(kekFile, 0o644); err != nil {
		t.Fatal(err)
	}
	r.hups <- syscall.SIGHUP
	r.waitLog(t, `msg="SIGHUP: keyring not reloaded; keeping the one in use"`, 1)
	r.noKeyring(t, "an insecure key file")
	if err := os.Chmod(kekFile, 0o600); err != nil {
		t.Fatal(err)
	}
	// An older key file put back: refused.
	if err := kekring.Save(kekFile, kr1); err != nil {
		t.Fatal(err)
	}
	r.hups <- syscall.SIGHUP
	r.waitLog(t, `file_kek_id=1 kek_id=2`, 1)
	r.noKeyring(t, "an older key file")
	// Back to the rotated file: taken.
	if err := kekring.Save(kekFile, kr2); err != nil {
		t.Fatal(err)
	}
	r.hups <- syscall.SIGHUP
	r.waitLog(t, `msg="keyring reloaded"`, 2)
	if kr := <-r.fake.keyrings; kr.Primary() != 2 {
		t.Fatalf("reloaded %v", kr)
	}
	for _, secret := range []string{hexKey(kr1), hexKey(kr2)} {
		if strings.Contains(r.stderr.String(), secret) {
			t.Fatal("key material in the log")
		}
	}
	if code, _ := get(t, r.public+"/healthz"); code != 200 {
		t.Errorf("healthz %d after the reloads", code)
	}
	r.sigs <- syscall.SIGTERM
	if code := r.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
}

// With CAPYD_KEK a running process cannot re-read the keyring: SIGHUP says
// so and changes nothing.
func TestServeSIGHUPWithEnvKEK(t *testing.T) {
	t.Setenv("CAPYD_KEK", "capyd-kek 1 4 "+strings.Repeat("ab", 32))
	r := startServe(t)
	r.hups <- syscall.SIGHUP
	r.waitLog(t, `msg="SIGHUP: the keyring comes from CAPYD_KEK, which a running process cannot re-read; restart capyd to change it" kek_id=4`, 1)
	r.noKeyring(t, "CAPYD_KEK")
	r.sigs <- syscall.SIGTERM
	if code := r.waitExit(t, 5*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.stderr)
	}
}

// hexKey is the key material of a keyring's newest line.
func hexKey(kr *kekring.Ring) string {
	lines := strings.Split(strings.TrimSpace(kr.Encode()), "\n")
	f := strings.Fields(lines[len(lines)-1])
	return f[len(f)-1]
}
