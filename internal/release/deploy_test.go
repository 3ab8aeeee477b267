package release

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/capy-oss/capy/internal/capyd"
)

// composeFile is the part of a Compose file deploy/compose.yaml uses.
type composeFile struct {
	Name     string
	Services map[string]struct {
		Image string
		Build struct {
			Context    string
			Dockerfile string
		}
		Environment map[string]string
		Volumes     []string
		Ports       []string
		ReadOnly    bool `yaml:"read_only"`
		Tmpfs       []string
		CapDrop     []string `yaml:"cap_drop"`
		SecurityOpt []string `yaml:"security_opt"`
		User        string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck struct{ Test []string }
		Networks    []string
	}
	Networks map[string]struct {
		Internal bool
		Ipam     struct{ Config []struct{ Subnet string } }
	}
	Volumes map[string]any
}

// TestCompose: deploy/compose.yaml parses, and says what docs/server.md
// says it does: capyd from the image, on PostgreSQL once it is healthy,
// its data in a volume, read-only otherwise, reached only through Caddy,
// whose address is the one trusted proxy; settings capyd knows.
func TestCompose(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "deploy")
	data, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	// Every key is one the Compose specification has (a misspelt
	// "read_onyl" would be ignored by docker compose, and the container
	// would silently be writable).
	var raw struct {
		Top      map[string]any            `yaml:",inline"`
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for k := range raw.Top {
		if !slices.Contains([]string{"name", "services", "networks", "volumes", "secrets", "configs"}, k) {
			t.Errorf("compose.yaml: unknown top-level key %q", k)
		}
	}
	serviceKeys := []string{"image", "build", "restart", "depends_on", "environment", "env_file", "volumes", "read_only",
		"tmpfs", "cap_drop", "cap_add", "security_opt", "stop_grace_period", "stop_signal", "healthcheck", "networks",
		"ports", "expose", "user", "command", "entrypoint", "secrets", "labels", "logging", "pull_policy", "init", "ulimits"}
	for name, svc := range raw.Services {
		for k := range svc {
			if !slices.Contains(serviceKeys, k) {
				t.Errorf("compose.yaml: service %s: unknown key %q", name, k)
			}
		}
	}
	for _, s := range []string{"postgres", "capyd", "caddy"} {
		if _, ok := c.Services[s]; !ok {
			t.Fatalf("no service %s", s)
		}
	}
	pg, cd, caddy := c.Services["postgres"], c.Services["capyd"], c.Services["caddy"]

	// PostgreSQL: a health check capyd waits for, its data in a volume.
	if !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
		t.Errorf("postgres healthcheck %v: pg_isready", pg.Healthcheck.Test)
	}
	if !slices.Contains(pg.Volumes, "postgres-data:/var/lib/postgresql/data") {
		t.Errorf("postgres volumes %v", pg.Volumes)
	}
	if len(pg.Ports) != 0 {
		t.Errorf("postgres publishes ports %v", pg.Ports)
	}

	// capyd.
	if !strings.HasPrefix(cd.Image, ImageRepo+":") {
		t.Errorf("capyd image %q, want %s:…", cd.Image, ImageRepo)
	}
	if _, err := os.Stat(filepath.Join(dir, cd.Build.Context, cd.Build.Dockerfile)); err != nil {
		t.Errorf("capyd build: %v", err)
	}
	if cd.DependsOn["postgres"].Condition != "service_healthy" {
		t.Errorf("capyd depends_on %v: wait for a healthy postgres", cd.DependsOn)
	}
	known := capyd.EnvVars()
	for k := range cd.Environment {
		if !slices.Contains(known, k) {
			t.Errorf("capyd environment %s: capyd has no such setting", k)
		}
	}
	env := cd.Environment
	if !strings.HasPrefix(env["CAPYD_PUBLIC_URL"], "https://") {
		t.Errorf("CAPYD_PUBLIC_URL %q", env["CAPYD_PUBLIC_URL"])
	}
	if !regexp.MustCompile(`^postgres://capyd:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432/capyd\?`).MatchString(env["CAPYD_DATABASE"]) {
		t.Errorf("CAPYD_DATABASE %q: postgres://capyd:${POSTGRES_PASSWORD}@postgres:5432/capyd", env["CAPYD_DATABASE"])
	}
	if !strings.Contains(pg.Environment["POSTGRES_PASSWORD"], "${POSTGRES_PASSWORD") || pg.Environment["POSTGRES_USER"] != "capyd" || pg.Environment["POSTGRES_DB"] != "capyd" {
		t.Errorf("postgres environment %v", pg.Environment)
	}
	if !strings.HasPrefix(env["CAPYD_SMTP_URL"], "${CAPYD_SMTP_URL:?") {
		t.Errorf("CAPYD_SMTP_URL %q: required, or the development mailer would run", env["CAPYD_SMTP_URL"])
	}
	if !slices.Contains(cd.Volumes, "capyd-data:"+ImageDataDir) {
		t.Errorf("capyd volumes %v: the data volume at %s", cd.Volumes, ImageDataDir)
	}
	if !cd.ReadOnly || !slices.Contains(cd.Tmpfs, "/tmp") || !slices.Equal(cd.CapDrop, []string{"ALL"}) || !slices.Contains(cd.SecurityOpt, "no-new-privileges:true") {
		t.Errorf("capyd: read_only %v tmpfs %v cap_drop %v security_opt %v", cd.ReadOnly, cd.Tmpfs, cd.CapDrop, cd.SecurityOpt)
	}
	if cd.User != "" && strings.HasPrefix(cd.User, "0") {
		t.Errorf("capyd user %q", cd.User)
	}
	if len(cd.Ports) != 0 {
		t.Errorf("capyd publishes %v: clients go through caddy", cd.Ports)
	}
	if !slices.Equal(cd.Healthcheck.Test, []string{"CMD", ImageBinary, "healthcheck"}) {
		t.Errorf("capyd healthcheck %v", cd.Healthcheck.Test)
	}
	listenPort := strings.TrimPrefix(env["CAPYD_LISTEN"], "0.0.0.0:")
	if listenPort+"/tcp" != ImagePort {
		t.Errorf("CAPYD_LISTEN %q, the image exposes %s", env["CAPYD_LISTEN"], ImagePort)
	}

	// Caddy: TLS on 80 and 443, proxying to capyd's port, from the one
	// network capyd trusts for X-Forwarded-For.
	for _, p := range []string{"80:80", "443:443"} {
		if !slices.Contains(caddy.Ports, p) {
			t.Errorf("caddy ports %v lack %s", caddy.Ports, p)
		}
	}
	caddyfile, err := os.ReadFile(filepath.Join(dir, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(caddy.Volumes, "./Caddyfile:/etc/caddy/Caddyfile:ro") {
		t.Errorf("caddy volumes %v", caddy.Volumes)
	}
	if !strings.Contains(string(caddyfile), "reverse_proxy capyd:"+listenPort) {
		t.Errorf("Caddyfile does not proxy to capyd:%s:\n%s", listenPort, caddyfile)
	}
	if host := strings.TrimPrefix(env["CAPYD_PUBLIC_URL"], "https://"); !strings.Contains(string(caddyfile), host+" {") {
		t.Errorf("Caddyfile has no site for %s", host)
	}
	front := c.Networks["frontend"].Ipam.Config
	if len(front) != 1 || front[0].Subnet != env["CAPYD_TRUSTED_PROXY"] || !slices.Equal(caddy.Networks, []string{"frontend"}) {
		t.Errorf("CAPYD_TRUSTED_PROXY %q, caddy's network %v %v", env["CAPYD_TRUSTED_PROXY"], caddy.Networks, front)
	}
	if _, err := netip.ParsePrefix(env["CAPYD_TRUSTED_PROXY"]); err != nil {
		t.Error(err)
	}
	if !c.Networks["backend"].Internal || slices.Contains(caddy.Networks, "backend") || !slices.Equal(pg.Networks, []string{"backend"}) {
		t.Errorf("the database network must be internal and Caddy's must not reach it: %+v", c.Networks)
	}

	// Every named volume is declared.
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, ".") && !strings.HasPrefix(src, "/") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s uses volume %s, which is not declared", name, src)
				}
			}
		}
	}
}

// TestSystemdUnit: deploy/capyd.service has the hardening docs/server.md
// promises, hands capyd its KEK and pepper as credentials, and passes
// `systemd-analyze verify` (where the machine has it) with no warning.
func TestSystemdUnit(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(filepath.Join(root, "deploy", "capyd.service"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(string(unit)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	for _, want := range []string{
		"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=capyd", "NoNewPrivileges=yes",
		"CapabilityBoundingSet=", "SystemCallFilter=@system-service", "ProtectHome=yes", "PrivateTmp=yes",
		"LoadCredential=kek:/etc/capyd/kek", "LoadCredential=pepper:/etc/capyd/pepper",
		"Environment=CAPYD_KEK_FILE=%d/kek", "Environment=CAPYD_PEPPER_FILE=%d/pepper",
		"Environment=CAPYD_DATA_DIR=%S/capyd", "ExecStart=/usr/local/bin/capyd serve",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("capyd.service lacks %q", want)
		}
	}
	known := capyd.EnvVars()
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "Environment="); ok {
			k, _, _ := strings.Cut(v, "=")
			if !slices.Contains(known, k) {
				t.Errorf("capyd.service sets %s, which capyd does not read", k)
			}
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed here: the unit was not verified (the checks above ran)")
	}
	// verify wants ExecStart's program to exist: this test binary stands in.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "capyd.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/capyd", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", tmp).CombinedOutput()
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "capyd.service") {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	t.Logf("systemd-analyze verify: ok (%s)", strings.TrimSpace(firstLine(analyze)))
}

func firstLine(analyze string) string {
	out, _ := exec.Command(analyze, "--version").Output()
	l, _, _ := strings.Cut(string(out), "\n")
	return l
}
