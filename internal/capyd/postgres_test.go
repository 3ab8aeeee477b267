package capyd

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/capy-oss/capy/internal/store/pgtest"
)

// pgURL returns a fresh PostgreSQL database as the postgres:// URL capyd's
// --database takes (pgtest may hand out a key=value string).
func pgURL(t *testing.T) string {
	t.Helper()
	conn := pgtest.NewDatabase(t)
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		return conn
	}
	u := &url.URL{Scheme: "postgres"}
	q := url.Values{}
	for _, kv := range strings.Fields(conn) {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "dbname":
			u.Path = "/" + v
		case "user":
			u.User = url.User(v)
		default:
			q.Set(k, v)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestMigratePostgres(t *testing.T) {
	db := pgURL(t)
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, signals: make(chan os.Signal)}
	if code := run([]string{"capyd", "migrate", "--database", db}, e); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "postgres database ") || !strings.Contains(out.String(), "migrated from schema version 0 to") {
		t.Errorf("stdout: %q", out.String())
	}

	// Replicas migrating together: each migration applied once, all fine.
	// (migrate directly: urfave/cli's shared help flag is not safe for
	// several apps parsing at once in one process.)
	cfg, err := Config{DataDir: t.TempDir(), Database: db, LogFormat: "text", LogLevel: "info"}.withDefaults("migrate")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, 4)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := migrate(cfg, &env{stdout: &outs[i], stderr: io.Discard, signals: make(chan os.Signal)}); err != nil {
				t.Errorf("concurrent migrate: %v", err)
			}
		}()
	}
	wg.Wait()
	for i := range outs {
		if !strings.Contains(outs[i].String(), "is up to date") {
			t.Errorf("second migrate: %q", outs[i].String())
		}
	}
}

// Two replicas on one PostgreSQL database, keys from the environment and
// real mail configured: no data directory is needed at all, and the log
// names the database without its credentials.
func TestServePostgresReplicas(t *testing.T) {
	db := pgURL(t)
	u, _ := url.Parse(db)
	u.User = url.UserPassword(u.User.Username(), "hunter2-not-used") // trust auth ignores it
	t.Setenv("CAPYD_DATABASE", u.String())
	t.Setenv("CAPYD_KEK", "capyd-kek 1 3 "+strings.Repeat("5a", 32))
	t.Setenv("CAPYD_PEPPER", strings.Repeat("a5", 32))
	t.Setenv("CAPYD_SMTP_URL", "smtp://relay.invalid:587?from=capy@example.com")
	dataDir := filepath.Join(t.TempDir(), "never")
	var replicas []*running
	for range 2 {
		replicas = append(replicas, startServe(t, "--data-dir", dataDir, "--public-url", "https://capy.example.com"))
	}
	for _, r := range replicas {
		if code, _ := get(t, r.public+"/healthz"); code != 200 {
			t.Errorf("healthz %d", code)
		}
		r.sigs <- syscall.SIGTERM
		if code := r.waitExit(t, 10*time.Second); code != 0 {
			t.Errorf("exit %d:\n%s", code, r.stderr)
		}
		log := r.stderr.String()
		for _, want := range []string{"database=postgres db_host=", "kek_id=3", `kek_source="env CAPYD_KEK"`, `mailer="smtp relay.invalid:587`, "public_url=https://capy.example.com "} {
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, "hunter2") || strings.Contains(log, "5a5a5a") || strings.Contains(log, "a5a5a5") {
			t.Errorf("log leaks a secret:\n%s", log)
		}
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("data directory created: %v", err)
	}
}
