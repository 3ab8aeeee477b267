package capyd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/kekring"
)

func testConfig(t *testing.T) Config {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	cfg, err := Config{DataDir: dir, LogFormat: "text", LogLevel: "info"}.withDefaults("kek")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestPepperFile(t *testing.T) {
	cfg := testConfig(t)
	if err := ensureDataDir(cfg.DataDir, nil); err != nil {
		t.Fatal(err)
	}
	p1, err := loadPepper(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p1) != PepperSize {
		t.Fatalf("pepper is %d bytes", len(p1))
	}
	fi, err := os.Stat(cfg.PepperFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pepper file mode %v, %v", fi.Mode(), err)
	}
	data, _ := os.ReadFile(cfg.PepperFile)
	if strings.TrimSpace(string(data)) != hex.EncodeToString(p1) {
		t.Errorf("pepper file holds %q", data)
	}
	p2, err := loadPepper(cfg, nil)
	if err != nil || !bytes.Equal(p1, p2) {
		t.Fatalf("second load: %x, %v", p2, err)
	}
	// Its hex is what CAPYD_PEPPER takes, for replicas without the file.
	env := cfg
	env.Pepper = string(data)
	if p3, err := loadPepper(env, nil); err != nil || !bytes.Equal(p1, p3) {
		t.Fatalf("CAPYD_PEPPER from the file's text: %x, %v", p3, err)
	}

	os.Chmod(cfg.PepperFile, 0o640)
	_, err = loadPepper(cfg, nil)
	var ce *configError
	if !errors.As(err, &ce) || !strings.Contains(ce.msg, "mode 0640") || !strings.Contains(strings.Join(ce.hints, "\n"), "chmod 600 "+cfg.PepperFile) {
		t.Errorf("group-readable pepper: %v", err)
	}
	os.Chmod(cfg.PepperFile, 0o600)
	os.WriteFile(cfg.PepperFile, []byte("zz\n"), 0o600)
	if _, err := loadPepper(cfg, nil); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("malformed pepper: %v", err)
	}
	os.Remove(cfg.PepperFile)
	os.Symlink("/etc/hostname", cfg.PepperFile)
	if _, err := loadPepper(cfg, nil); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("symlinked pepper: %v", err)
	}
}

// Replicas sharing a directory create one pepper between them.
func TestPepperCreateRace(t *testing.T) {
	cfg := testConfig(t)
	os.MkdirAll(cfg.DataDir, 0o700)
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := loadPepper(cfg, nil)
			if err != nil {
				t.Error(err)
			}
			got[i] = p
		}()
	}
	wg.Wait()
	for _, p := range got[1:] {
		if !bytes.Equal(p, got[0]) {
			t.Fatal("replicas created different peppers")
		}
	}
	left, _ := filepath.Glob(filepath.Join(cfg.DataDir, ".pepper*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestKeyFileRefusedWhenReadableByOthers(t *testing.T) {
	cfg := testConfig(t)
	if _, _, err := loadKeyring(cfg, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(cfg.KEKFile); fi.Mode().Perm() != 0o600 {
		t.Fatalf("kek mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(cfg.DataDir); fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode %v", fi.Mode())
	}
	os.Chmod(cfg.KEKFile, 0o604)
	_, _, err := loadKeyring(cfg, nil)
	var ce *configError
	if !errors.As(err, &ce) || !strings.Contains(strings.Join(ce.hints, "\n"), "chmod 600") {
		t.Errorf("world-readable kek: %v", err)
	}
	if report(&bytes.Buffer{}, err) != ExitUsage {
		t.Error("not exit 2")
	}
}

// After `capyd kek rotate` and a restart, blobs wrapped under the old key
// still open, and come back re-wrapped under the new primary.
func TestRotateKeepsOldBlobs(t *testing.T) {
	cfg := testConfig(t)
	kr1, src, err := loadKeyring(cfg, nil)
	if err != nil || src.env || kr1.Primary() != 1 {
		t.Fatalf("first start: %v %v %v", kr1, src, err)
	}
	inner := bytes.Repeat([]byte{7}, 48)
	outer, err := kr1.Wrap("org_a", "invite", "inv_b", inner)
	if err != nil {
		t.Fatal(err)
	}

	kr2, err := rotateKEK(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if kr2.Primary() != 2 {
		t.Fatalf("primary after rotate = %d", kr2.Primary())
	}
	if fi, _ := os.Stat(cfg.KEKFile); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated file mode %v", fi.Mode())
	}

	restarted, _, err := loadKeyring(cfg, nil) // what the next start loads
	if err != nil {
		t.Fatal(err)
	}
	if restarted.Primary() != 2 || len(restarted.IDs()) != 2 {
		t.Fatalf("after restart: %v", restarted)
	}
	got, rewrapped, err := restarted.Unwrap("org_a", "invite", "inv_b", outer)
	if err != nil || !bytes.Equal(got, inner) {
		t.Fatalf("old blob after rotation: %v", err)
	}
	if rewrapped == nil {
		t.Fatal("old blob not re-wrapped under the new primary")
	}
	if again, re, err := restarted.Unwrap("org_a", "invite", "inv_b", rewrapped); err != nil || !bytes.Equal(again, inner) || re != nil {
		t.Fatalf("re-wrapped blob: %v %v", err, re)
	}

	var out bytes.Buffer
	listKEKs(&out, restarted)
	if out.String() != "1\n2 primary\n" {
		t.Errorf("list: %q", out.String())
	}
}

func TestRotateConcurrentLosesNothing(t *testing.T) {
	cfg := testConfig(t)
	if _, _, err := loadKeyring(cfg, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := rotateKEK(cfg); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	kr, err := kekring.Load(cfg.KEKFile)
	if err != nil {
		t.Fatal(err)
	}
	if kr.Primary() != 7 || len(kr.IDs()) != 7 {
		t.Errorf("after 6 concurrent rotations: %v", kr)
	}
}

func TestRotateRefusedWithEnvKEK(t *testing.T) {
	cfg := testConfig(t)
	cfg.KEK = "capyd-kek 1 4 " + strings.Repeat("cd", 32)
	_, err := rotateKEK(cfg)
	var ce *configError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	hints := strings.Join(ce.hints, "\n")
	if !strings.Contains(hints, `CAPYD_KEK="$CAPYD_KEK;capyd-kek 1 5 $(openssl rand -hex 32)"`) || strings.Contains(hints, "cdcd") {
		t.Errorf("hints:\n%s", hints)
	}
	if _, err := os.Stat(cfg.KEKFile); !errors.Is(err, os.ErrNotExist) {
		t.Error("a key file was created")
	}
}
