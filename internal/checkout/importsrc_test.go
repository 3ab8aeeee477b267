package checkout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportFromSopsWithoutSops: with no sops on PATH, --from sops says
// how to get it (code no-sops) and reads nothing.
func TestImportFromSopsWithoutSops(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.enc.yaml")
	if err := os.WriteFile(file, []byte("A: ENC[…]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	_, err := ReadImport(context.Background(), ImportSource{Path: file, From: "sops"})
	var e *Error
	if !errors.As(err, &e) || e.Code != "no-sops" || !strings.Contains(e.Hint, "install sops") {
		t.Fatalf("got %v, want a no-sops refusal with how to install it", err)
	}
}

// TestImportDotenvxKeysBeside: --from dotenvx finds .env.keys beside the
// file, and --keys overrides it.
func TestImportDotenvxKeysBeside(t *testing.T) {
	src := filepath.Join("..", "importfmt", "testdata", "dotenvx")
	env, err := os.ReadFile(filepath.Join(src, "env"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadFile(filepath.Join(src, "env.keys"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".env.production"), env, 0o600)
	_, err = ReadImport(context.Background(), ImportSource{Path: filepath.Join(dir, ".env.production"), From: "dotenvx"})
	if e := (*Error)(nil); !errors.As(err, &e) || !strings.Contains(err.Error(), ".env.keys") || !strings.Contains(e.Hint, "--keys") {
		t.Fatalf("no keys file: got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "k"), keys, 0o600)
	p, err := ReadImport(context.Background(), ImportSource{Path: filepath.Join(dir, ".env.production"), From: "dotenvx", KeysFile: filepath.Join(dir, "k")})
	if err != nil || len(p.doc.Entries()) != 100 {
		t.Fatalf("got %v", err)
	}
	os.WriteFile(filepath.Join(dir, ".env.keys"), keys, 0o600)
	if p, err = ReadImport(context.Background(), ImportSource{Path: filepath.Join(dir, ".env.production"), From: "dotenvx"}); err != nil || len(p.doc.Entries()) != 100 {
		t.Fatalf("keys beside: got %v", err)
	}
}
