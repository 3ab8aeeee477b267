package load_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capy-oss/capy/internal/workspace"
	"github.com/capy-oss/capy/load"
)

// enter makes a fixture checkout in a temporary directory and runs the
// test inside it.
func enter(t *testing.T) *fixture {
	t.Helper()
	f, err := newFixture(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(f.Dir)
	t.Setenv("CAPY_HOME", filepath.Join(t.TempDir(), "home"))
	return f
}

func TestEnvironWithCapyKey(t *testing.T) {
	f := enter(t)
	t.Setenv("CAPY_KEY", f.KeyLine)
	t.Setenv("AS", "from the process") // a literal value does not read it
	got, err := load.Environ()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GREETING": "hello from capy", "DB_PASSWORD": "pg-secret-1a2b", "DATABASE_URL": "postgres://app:pg-secret-1a2b@db/app",
		"TEMPLATE": "keep ${AS} is", "MULTI": "line one\nline \"two\"", "OVERRIDDEN": "my laptop's value",
		"CONTRIBUTED": "from a contributor", "ONLY_LOCAL": "typed in plaintext",
	}
	if len(got) != len(want) {
		t.Errorf("got %d values, want %d", len(got), len(want))
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s = %q, want %q", n, got[n], w)
		}
	}
	// Nothing was written: the plaintext in .env.local stays for capy.
	if b, _ := os.ReadFile(".env.local"); !strings.Contains(string(b), "typed in plaintext") {
		t.Error("the loader rewrote .env.local")
	}
}

func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		want  string
	}{
		{"no key", func(t *testing.T, f *fixture) {}, "no key"},
		{"a bad key line", func(t *testing.T, f *fixture) { t.Setenv("CAPY_KEY", "capy-ek 1 nonsense") }, "CAPY_KEY"},
		{"another environment's key", func(t *testing.T, f *fixture) {
			t.Setenv("CAPY_KEY", strings.Replace(f.KeyLine, testEnv, "env_bbbbbbbbbbbbbbbbbbbbbbbbbb", 1))
		}, "not production"},
		{"a snippet moved to another name", func(t *testing.T, f *fixture) {
			t.Setenv("CAPY_KEY", f.KeyLine)
			b, _ := os.ReadFile(".env")
			lines := strings.Split(string(b), "\n")
			_, greeting, _ := strings.Cut(lines[0], "=")
			lines[1] = "DB_PASSWORD=" + greeting
			os.WriteFile(".env", []byte(strings.Join(lines, "\n")), 0o600)
		}, "DB_PASSWORD"},
		{"a name that runs code", func(t *testing.T, f *fixture) {
			t.Setenv("CAPY_KEY", f.KeyLine)
			s, _ := f.Cipher.Seal("LD_PRELOAD", "/tmp/evil.so", false)
			appendLine(t, ".env", "LD_PRELOAD="+s)
		}, "LD_PRELOAD"},
		{"a key file capy ci did not write here", func(t *testing.T, f *fixture) {
			os.WriteFile(filepath.Join(".capy", "decrypt"), []byte(f.KeyLine+"\n"), 0o600)
		}, "refusing .capy/decrypt"},
		{"no environment file", func(t *testing.T, f *fixture) {
			t.Setenv("CAPY_KEY", f.KeyLine)
			os.Remove(".env")
		}, ".env does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := enter(t)
			c.setup(t, f)
			set := 0
			err := load.Into(func(k, v string) error { set++; return nil })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if set != 0 {
				t.Fatalf("%d values were set before the error", set)
			}
			for _, secret := range []string{"hello from capy", "pg-secret-1a2b", "/tmp/evil.so"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the error holds a value: %v", err)
				}
			}
		})
	}
}

// TestKeyFileCapyCiWrote: .capy/decrypt is used when the capy home
// records that capy ci wrote it here (as capy run uses it), and CAPY_ALLOW_NAMES
// admits a name that runs code.
func TestKeyFileCapyCiWrote(t *testing.T) {
	f := enter(t)
	home, err := workspace.OpenHome()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := workspace.FindRepo(f.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.WriteKeyFile(repo.KeyFilePath(), f.KeyLine); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(repo.KeyFilePath())
	if err != nil {
		t.Fatal(err)
	}
	if err := home.RecordKeyFile(repo.KeyFilePath(), written); err != nil { // as capy ci records it
		t.Fatal(err)
	}
	s, _ := f.Cipher.Seal("PATH", "/opt/app/bin", false)
	appendLine(t, ".env", "PATH="+s)
	t.Setenv("CAPY_ALLOW_NAMES", "NODE_OPTIONS, PATH")
	got, err := load.Environ()
	if err != nil {
		t.Fatal(err)
	}
	if got["GREETING"] != "hello from capy" || got["PATH"] != "/opt/app/bin" {
		t.Fatalf("got %v", got["GREETING"])
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, line+"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestHelloSize: a program that uses the loader is at most 3 MiB larger
// than an empty one, both built as capy's releases are (CGO_ENABLED=0,
// -trimpath, -s -w: without symbol tables and DWARF, which grow with
// whatever is linked), and links nothing of the CLI or the HTTP client.
func TestHelloSize(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds two programs")
	}
	dir := t.TempDir()
	size := func(name string) int64 {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testdata/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, b)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	hello, empty := size("hello"), size("empty")
	t.Logf("hello with load: %d bytes, empty: %d, difference %.2f MiB", hello, empty, float64(hello-empty)/(1<<20))
	if hello-empty > 3<<20 {
		t.Errorf("the loader adds %.2f MiB to a program, more than 3 MiB", float64(hello-empty)/(1<<20))
	}
	out, err := exec.Command("go", "list", "-deps", "./testdata/hello").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == "net/http", dep == "crypto/tls", dep == "net",
			strings.HasPrefix(dep, "github.com/urfave/"),
			strings.HasPrefix(dep, "github.com/capy-oss/capy/internal/client"),
			strings.HasPrefix(dep, "github.com/capy-oss/capy/internal/member"),
			strings.HasPrefix(dep, "github.com/capy-oss/capy/internal/checkout"),
			strings.HasPrefix(dep, "github.com/capy-oss/capy/cmd/"):
			t.Errorf("a program using the loader links %s", dep)
		}
	}
}
