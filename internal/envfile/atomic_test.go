package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The writer is privfile's (tested there); these check the wrappers hand
// it their arguments.
func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := WriteFileAtomic(path, []byte("A=1\n")); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("changed meanwhile")
	if err := WriteFileAtomicIf(path, []byte("A=2\n"), func() error { return refused }); err != refused {
		t.Fatalf("err = %v, want the check's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "A=1\n" {
		t.Fatalf("content %q after a refused write", got)
	}
	if err := WriteFileAtomicIf(path, []byte("A=3\n"), func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); string(got) != "A=3\n" {
		t.Fatalf("content %q", got)
	}
	link := filepath.Join(dir, "link.env")
	if err := os.Symlink(path, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := WriteFileAtomic(link, []byte("EVIL=1\n")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("write through a link: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("directory holds %d entries, want .env and the link", len(ents))
	}
}
