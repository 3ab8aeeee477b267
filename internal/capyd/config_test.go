package capyd

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// loadArgs parses args like the capyd app would and returns the
// configuration the named command would run with.
func loadArgs(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var cfg Config
	var err error
	capture := func(cmd string) cli.ActionFunc {
		return func(c *cli.Context) error {
			cfg, err = configFor(c, cmd)
			return nil
		}
	}
	app := &cli.App{
		Name: "capyd", Flags: flags("serve"), Action: capture("serve"),
		Commands: []*cli.Command{
			{Name: "serve", Flags: flags("serve"), Action: capture("serve")},
			{Name: "migrate", Flags: flags("migrate"), Action: capture("migrate")},
			{Name: "kek", Flags: flags("kek"), Subcommands: []*cli.Command{
				{Name: "list", Flags: flags("kek"), Action: capture("kek")},
			}},
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
	if runErr := app.Run(append([]string{"capyd"}, args...)); runErr != nil {
		t.Fatalf("parse %v: %v", args, runErr)
	}
	return cfg, err
}

func TestDefaults(t *testing.T) {
	for _, k := range EnvVars() {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg, err := loadArgs(t)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Listen": "127.0.0.1:8787", "OpsListen": "127.0.0.1:8788", "DataDir": "./capyd-data",
		"Database": "capyd-data/capyd.db", "KEKFile": "capyd-data/kek", "PepperFile": "capyd-data/pepper",
		"PublicURL": "", "AutoMigrate": true, "SMTPURL": "",
		"SessionIdle": 30 * 24 * time.Hour, "SessionAbsolute": 90 * 24 * time.Hour,
		"ShutdownTimeout": 20 * time.Second, "DrainDelay": time.Duration(0),
		"LogFormat": "text", "LogLevel": "info", "UnsafeDisableRateLimits": false,
	}
	v := reflect.ValueOf(cfg)
	for name, w := range want {
		if got := v.FieldByName(name).Interface(); got != w {
			t.Errorf("%s = %v, want %v", name, got, w)
		}
	}
	if cfg.TrustedProxies != nil {
		t.Errorf("TrustedProxies = %v", cfg.TrustedProxies)
	}
	u, err := cfg.defaultPublicURL(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234})
	if err != nil || u != "http://127.0.0.1:41234" {
		t.Errorf("default public URL = %q, %v", u, err)
	}
}

// Every Config field is a setting with a flag (or, for key material, an
// environment variable only), help text and at least one command.
func TestEverySettingDocumented(t *testing.T) {
	fields := reflect.TypeFor[Config]().NumField()
	got := settings()
	if len(got) != fields-1 { // all but the unexported set
		t.Errorf("%d settings for %d fields", len(got), fields-1)
	}
	envOnly := map[string]bool{"CAPYD_KEK": true, "CAPYD_PEPPER": true}
	for _, s := range got {
		if s.flag == "" && !envOnly[s.env] {
			t.Errorf("%s has no flag", s.env)
		}
		if s.usage == "" || s.cmds[0] == "" || !strings.HasPrefix(s.env, "CAPYD_") {
			t.Errorf("%+v: missing usage, command or env", s)
		}
	}
}

func TestEnvironmentAndFlagPositions(t *testing.T) {
	t.Setenv("CAPYD_LISTEN", "127.0.0.2:9000")
	t.Setenv("CAPYD_SESSION_IDLE", "12h")
	t.Setenv("CAPYD_TRUSTED_PROXY", "10.0.0.0/8, 192.168.1.7")
	t.Setenv("CAPYD_AUTO_MIGRATE", "false")
	cfg, err := loadArgs(t, "--session-absolute", "7d", "--trusted-proxy", "fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.2:9000" || cfg.SessionIdle != 12*time.Hour || cfg.SessionAbsolute != 7*24*time.Hour || cfg.AutoMigrate {
		t.Errorf("env/flags not applied: %+v", cfg)
	}
	// A flag given on the command line replaces the env var's list.
	if want := []netip.Prefix{netip.MustParsePrefix("fd00::/8")}; !reflect.DeepEqual(cfg.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %v, want %v", cfg.TrustedProxies, want)
	}
	t.Setenv("CAPYD_TRUSTED_PROXY", "")
	os.Unsetenv("CAPYD_TRUSTED_PROXY")
	cfg, _ = loadArgs(t, "--trusted-proxy", "10.1.2.3/8", "--trusted-proxy", "::1")
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}; !reflect.DeepEqual(cfg.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %v, want %v", cfg.TrustedProxies, want)
	}

	for _, args := range [][]string{
		{"--data-dir", "/srv/x", "migrate"},
		{"migrate", "--data-dir", "/srv/x"},
	} {
		cfg, err := loadArgs(t, args...)
		if err != nil || cfg.DataDir != "/srv/x" || cfg.Database != "/srv/x/capyd.db" {
			t.Errorf("%v: DataDir %q Database %q err %v", args, cfg.DataDir, cfg.Database, err)
		}
	}
	// The innermost explicit setting wins.
	cfg, _ = loadArgs(t, "--data-dir", "/a", "kek", "--data-dir", "/b", "list")
	if cfg.KEKFile != "/b/kek" {
		t.Errorf("KEKFile = %q, want /b/kek", cfg.KEKFile)
	}
	t.Setenv("CAPYD_KEK", "capyd-kek 1 1 "+strings.Repeat("ab", 32))
	cfg, _ = loadArgs(t, "kek", "list")
	if cfg.KEK == "" || !cfg.isSet("CAPYD_KEK") {
		t.Error("CAPYD_KEK not read")
	}
}

// --unsafe-disable-rate-limits is off unless given as a flag (before or
// after serve) or as CAPYD_UNSAFE_DISABLE_RATE_LIMITS; a flag wins over
// the variable.
func TestUnsafeDisableRateLimits(t *testing.T) {
	const env = "CAPYD_UNSAFE_DISABLE_RATE_LIMITS"
	if EnvName("unsafe-disable-rate-limits") != env {
		t.Fatalf("env name %s", EnvName("unsafe-disable-rate-limits"))
	}
	for _, tc := range []struct {
		env  string // "" for unset
		args []string
		want bool
	}{
		{"", nil, false},
		{"", []string{"--unsafe-disable-rate-limits"}, true},
		{"", []string{"serve", "--unsafe-disable-rate-limits"}, true},
		{"", []string{"--unsafe-disable-rate-limits=false"}, false},
		{"true", nil, true},
		{"1", []string{"serve"}, true},
		{"false", nil, false},
		{"true", []string{"--unsafe-disable-rate-limits=false"}, false},
	} {
		t.Setenv(env, tc.env)
		if tc.env == "" {
			os.Unsetenv(env)
		}
		cfg, err := loadArgs(t, tc.args...)
		if err != nil {
			t.Fatalf("%s=%q %v: %v", env, tc.env, tc.args, err)
		}
		if cfg.UnsafeDisableRateLimits != tc.want {
			t.Errorf("%s=%q %v: UnsafeDisableRateLimits = %v, want %v", env, tc.env, tc.args, cfg.UnsafeDisableRateLimits, tc.want)
		}
	}
}

func TestRefusedSettings(t *testing.T) {
	for _, k := range EnvVars() {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, []string{"--public-url", "http://capy.example.com"}, "plain http on a non-loopback host"},
		{nil, []string{"--public-url", "http://[2001:db8::1]:8787"}, "plain http on a non-loopback host"},
		{nil, []string{"--public-url", "ftp://x"}, "scheme must be https"},
		{nil, []string{"--listen", "0.0.0.0:8787"}, "--public-url (CAPYD_PUBLIC_URL) is required"},
		{nil, []string{"--listen", ":8787"}, "--public-url (CAPYD_PUBLIC_URL) is required"},
		{nil, []string{"--listen", "8787"}, "is not host:port"},
		{nil, []string{"--tls-key", "k.pem"}, "go together"},
		{nil, []string{"--session-idle", "100d"}, "longer than --session-absolute"},
		{nil, []string{"--session-idle", "-5s"}, "is not a duration"},
		{nil, []string{"--log-level", "loud"}, "--log-level"},
		{nil, []string{"--database", "host=db user=capy dbname=capy"}, "key=value"},
		{map[string]string{"CAPYD_KEK": "x"}, []string{"--kek-file", "k"}, "both CAPYD_KEK and --kek-file"},
	} {
		for k, v := range tc.env {
			t.Setenv(k, v)
		}
		_, err := loadArgs(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err %v, want %q", tc.env, tc.args, err, tc.want)
		}
		if _, ok := err.(*configError); err != nil && !ok {
			t.Errorf("%v: %T is not a configError (exit 2)", tc.args, err)
		}
		for k := range tc.env {
			os.Unsetenv(k)
		}
	}
	for _, ok := range [][]string{
		{"--listen", "0.0.0.0:8787", "--public-url", "https://capy.example.com"},
		{"--listen", "[::1]:0"},
		{"--listen", "localhost:0", "--public-url", "http://localhost:8787"},
	} {
		if _, err := loadArgs(t, ok...); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
}

func TestPublicURLCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Capy.Example.COM:443/": "https://capy.example.com",
		"https://capy.example.com/api/": "https://capy.example.com/api",
		"http://127.0.0.1:8787":         "http://127.0.0.1:8787",
		"http://[::1]:80":               "http://[::1]",
	} {
		got, err := checkPublicURL(in)
		if err != nil || got != want {
			t.Errorf("%s → %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDatabaseDescriptionHidesPassword(t *testing.T) {
	kind, where := databaseDescription("postgres://capy:s3cret@db.internal:5432/capy?sslmode=verify-full&password=x")
	if kind != "postgres" || where != "db.internal:5432/capy" {
		t.Errorf("got %s %s", kind, where)
	}
	if kind, where := databaseDescription("sqlite:/var/lib/capyd/capyd.db"); kind != "sqlite" || where != "/var/lib/capyd/capyd.db" {
		t.Errorf("got %s %s", kind, where)
	}
}

// docs/server.md carries the generated table, so the documentation cannot
// drift from the flags.
func TestConfigTableInDocs(t *testing.T) {
	doc, err := os.ReadFile("../../docs/server.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), ConfigTable()) {
		t.Errorf("docs/server.md does not contain the current settings table; replace it with:\n\n%s", ConfigTable())
	}
}

// The service wiring never reaches the client key hierarchy (DESIGN §6).
func TestImportsNoClientKeys(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/capy-oss/capy/internal/capyd").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range []string{"keys", "sync", "envfile", "member", "workspace", "client"} {
			if dep == "github.com/capy-oss/capy/internal/"+bad {
				t.Errorf("internal/capyd imports %s", dep)
			}
		}
	}
}
