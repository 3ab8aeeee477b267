package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// onlyFiles lists dir and fails if anything but want is there (no temporary
// files left behind).
func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	for _, mode := range []fs.FileMode{0o644, 0o600, 0o640, 0o400} {
		if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomic(path, []byte("NEW=2\n")); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != "NEW=2\n" {
			t.Fatalf("content %q, %v", got, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if runtime.GOOS != "windows" && fi.Mode().Perm() != mode {
			t.Errorf("mode %v, want %v", fi.Mode().Perm(), mode)
		}
		onlyFiles(t, dir, ".env")
	}
}

func TestWriteFileAtomicNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.env")
	if err := WriteFileAtomic(path, []byte("A=1\n")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	onlyFiles(t, dir, "new.env")
}

func TestWriteFileAtomicRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.env")
	link := filepath.Join(dir, "link.env")
	if err := os.WriteFile(target, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	err := WriteFileAtomic(link, []byte("EVIL=1\n"))
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("error = %v, want a refusal naming the symbolic link", err)
	}
	if got, _ := os.ReadFile(target); string(got) != "A=1\n" {
		t.Errorf("target changed: %q", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link replaced")
	}
	// A dangling link is refused too.
	dangling := filepath.Join(dir, "dangling.env")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(dangling, []byte("A=1\n")); err == nil {
		t.Error("wrote through a dangling link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("dangling link target created")
	}
	onlyFiles(t, dir, "dangling.env", "link.env", "real.env")
}

func TestWriteFileAtomicRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(sub, []byte("A=1\n")); err == nil {
		t.Error("replaced a directory")
	}
	onlyFiles(t, dir, "sub")
}

func TestWriteFileAtomicFailedRename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("ORIGINAL=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("rename failed")
	var tmpSeen string
	rename = func(old, new string) error {
		tmpSeen = old
		// The temporary file is complete when the rename happens.
		if got, err := os.ReadFile(old); err != nil || string(got) != "NEW=2\n" {
			t.Errorf("temporary file holds %q, %v", got, err)
		}
		if filepath.Dir(old) != dir {
			t.Errorf("temporary file %s not in %s", old, dir)
		}
		return boom
	}
	t.Cleanup(func() { rename = os.Rename })
	if err := WriteFileAtomic(path, []byte("NEW=2\n")); !errors.Is(err, boom) {
		t.Fatalf("error = %v, want the rename error", err)
	}
	if tmpSeen == "" {
		t.Fatal("rename not reached")
	}
	if got, _ := os.ReadFile(path); string(got) != "ORIGINAL=1\n" {
		t.Errorf("original changed: %q", got)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("original mode changed: %v", fi.Mode().Perm())
	}
	onlyFiles(t, dir, ".env")
}

func TestWriteFileAtomicMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", ".env")
	if err := WriteFileAtomic(path, []byte("A=1\n")); err == nil {
		t.Error("no error for a missing directory")
	}
}

// WriteFileAtomicNoDirSync differs from WriteFileAtomic only in leaving
// the directory unsynced: same content, modes, refusals and clean-up.
func TestWriteFileAtomicNoDirSync(t *testing.T) {
	synced := 0
	syncDir = func(dir string) error { synced++; return fsyncDir(dir) }
	t.Cleanup(func() { syncDir = fsyncDir })

	dir := t.TempDir()
	path := filepath.Join(dir, "head.json")
	for i, write := range []func(string, []byte) error{WriteFileAtomicNoDirSync, WriteFileAtomic} {
		synced = 0
		data := []byte{'v', byte('0' + i), '\n'}
		if err := write(path, data); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(path); err != nil || string(got) != string(data) {
			t.Fatalf("content %q, %v; want %q", got, err, data)
		}
		if want := i; synced != want {
			t.Errorf("write %d synced the directory %d times, want %d", i, synced, want)
		}
		onlyFiles(t, dir, "head.json")
	}
	if fi, err := os.Stat(path); err != nil {
		t.Fatal(err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomicNoDirSync(path, []byte("v2\n")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old 0640 kept", fi.Mode().Perm())
	}
	if runtime.GOOS != "windows" {
		link := filepath.Join(dir, "link.json")
		if err := os.Symlink(path, link); err != nil {
			t.Fatal(err)
		}
		if err := WriteFileAtomicNoDirSync(link, []byte("x\n")); err == nil {
			t.Error("wrote through a symlink")
		}
		if got, _ := os.ReadFile(path); string(got) != "v2\n" {
			t.Errorf("link target changed: %q", got)
		}
	}
}
