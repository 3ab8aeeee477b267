package envfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteFileAtomicRemovesStaleTemps: a process killed between creating
// its temporary file and the rename leaves "." + name + ".tmp-<digits>"
// behind (for .env: "..env.tmp-<digits>"). The next successful write of
// the same file removes those older than StaleTempAge, and nothing else:
// not young ones (a write in progress elsewhere), not other files'
// leftovers, not look-alike names, links or directories.
func TestWriteFileAtomicRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	old := time.Now().Add(-StaleTempAge - time.Minute)
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("A=capy:x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stale := []string{mk("..env.tmp-123456", old), mk("..env.tmp-9", old)}
	keep := []string{
		mk("..env.tmp-424242", time.Now()),    // young: maybe still being written
		mk("..env.production.tmp-777", old),   // another file's leftover
		mk("..env.tmp-12ab", old),             // not a CreateTemp name
		mk("..env.tmp-", old),                 // no digits
		mk(".env.tmp-123", old),               // not this file's pattern
		mk("..env.tmp-55.bak", old),           // suffix
		filepath.Join(dir, "..env.tmp-31337"), // a directory
		filepath.Join(dir, "..env.tmp-8080"),  // a symbolic link
		mk("target", old),                     // the link's target
		mk(".capy.tmp-1", old),                // unrelated
	}
	if err := os.Mkdir(keep[6], 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(keep[6], old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", keep[7]); err != nil {
		t.Skip("symbolic links unsupported:", err)
	}

	if err := WriteFileAtomic(path, []byte("A=1\n")); err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("stale %s is still there (%v)", filepath.Base(p), err)
		}
	}
	for _, p := range keep {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "A=1\n" {
		t.Fatalf("content %q, %v", got, err)
	}

	// A failed write removes nothing but its own temporary file.
	again := mk("..env.tmp-1000", old)
	rename = func(string, string) error { return os.ErrPermission }
	defer func() { rename = os.Rename }()
	if err := WriteFileAtomic(path, []byte("A=2\n")); err == nil {
		t.Fatal("write with a failing rename succeeded")
	}
	if _, err := os.Lstat(again); err != nil {
		t.Errorf("a failed write removed %s: %v", filepath.Base(again), err)
	}
}

// TestWriteFileAtomicIf: the check runs when the temporary file is
// complete, just before the rename; an error from it leaves the target and
// the directory as they were and comes back unchanged.
func TestWriteFileAtomicIf(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("changed meanwhile")
	var sawTemp string
	err := WriteFileAtomicIf(path, []byte("NEW=2\n"), func() error {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != ".env" {
				data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				sawTemp = string(data)
			}
		}
		return refused
	})
	if err != refused {
		t.Fatalf("err = %v, want the check's error as it is", err)
	}
	if sawTemp != "NEW=2\n" {
		t.Errorf("the check ran before the temporary file was complete: %q", sawTemp)
	}
	if got, _ := os.ReadFile(path); string(got) != "OLD=1\n" {
		t.Errorf("a refused write changed the file: %q", got)
	}
	onlyFiles(t, dir, ".env")

	calls := 0
	if err := WriteFileAtomicIf(path, []byte("NEW=3\n"), func() error { calls++; return nil }); err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls", err, calls)
	}
	if got, _ := os.ReadFile(path); string(got) != "NEW=3\n" {
		t.Errorf("content %q", got)
	}
	onlyFiles(t, dir, ".env")
}
