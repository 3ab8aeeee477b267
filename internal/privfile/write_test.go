package privfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
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

func TestWriteAtomicKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	for _, mode := range []fs.FileMode{0o644, 0o600, 0o640, 0o400} {
		if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := WriteAtomic(path, []byte("NEW=2\n"), 0o600); err != nil {
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

func TestWriteAtomicRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.env")
	link := filepath.Join(dir, "link.env")
	if err := os.WriteFile(target, []byte("A=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	for _, opt := range []Options{{}, {Private: true}, {NoDirSync: true}} {
		err := WriteAtomicWith(link, []byte("EVIL=1\n"), opt)
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Fatalf("%+v: error = %v, want a refusal naming the symbolic link", opt, err)
		}
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
	if err := WriteAtomic(dangling, []byte("A=1\n"), 0o600); err == nil {
		t.Error("wrote through a dangling link")
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("dangling link target created")
	}
	onlyFiles(t, dir, "dangling.env", "link.env", "real.env")
}

func TestWriteAtomicRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(sub, []byte("A=1\n"), 0o600); err == nil {
		t.Error("replaced a directory")
	}
	onlyFiles(t, dir, "sub")
}

func TestWriteAtomicFailedRename(t *testing.T) {
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
	if err := WriteAtomic(path, []byte("NEW=2\n"), 0o600); !errors.Is(err, boom) {
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

func TestWriteAtomicMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", ".env")
	if err := WriteAtomic(path, []byte("A=1\n"), 0o600); err == nil {
		t.Error("no error for a missing directory")
	}
}

// NoDirSync differs only in leaving the directory unsynced: same content,
// modes, refusals and clean-up.
func TestWriteAtomicNoDirSync(t *testing.T) {
	synced := 0
	syncDir = func(dir string) error { synced++; return SyncDir(dir) }
	t.Cleanup(func() { syncDir = SyncDir })

	dir := t.TempDir()
	path := filepath.Join(dir, "head.json")
	for i, opt := range []Options{{NoDirSync: true}, {}} {
		synced = 0
		data := []byte{'v', byte('0' + i), '\n'}
		if err := WriteAtomicWith(path, data, opt); err != nil {
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
	if err := WriteAtomicWith(path, []byte("v2\n"), Options{NoDirSync: true}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the old 0640 kept", fi.Mode().Perm())
	}
}

// TestWriteAtomicRemovesStaleTemps: a process killed between creating
// its temporary file and the rename leaves "." + name + ".tmp-<digits>"
// behind (for .env: "..env.tmp-<digits>"). The next successful write of
// the same file removes those older than StaleTempAge, and nothing else:
// not young ones (a write in progress elsewhere), not other files'
// leftovers, not look-alike names, links or directories.
func TestWriteAtomicRemovesStaleTemps(t *testing.T) {
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

	if err := WriteAtomic(path, []byte("A=1\n"), 0o600); err != nil {
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
	if err := WriteAtomic(path, []byte("A=2\n"), 0o600); err == nil {
		t.Fatal("write with a failing rename succeeded")
	}
	if _, err := os.Lstat(again); err != nil {
		t.Errorf("a failed write removed %s: %v", filepath.Base(again), err)
	}
}

// TestWriteAtomicCheck: the check runs when the temporary file is
// complete, just before the rename (and before BeforeRename); an error
// from it leaves the target and the directory as they were and comes back
// unchanged.
func TestWriteAtomicCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	if err := os.WriteFile(path, []byte("OLD=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hooked []string
	BeforeRename = func(tmp string) { hooked = append(hooked, tmp) }
	t.Cleanup(func() { BeforeRename = nil })
	refused := errors.New("changed meanwhile")
	var sawTemp string
	err := WriteAtomicWith(path, []byte("NEW=2\n"), Options{Check: func() error {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if e.Name() != ".env" {
				data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				sawTemp = string(data)
			}
		}
		return refused
	}})
	if err != refused {
		t.Fatalf("err = %v, want the check's error as it is", err)
	}
	if sawTemp != "NEW=2\n" {
		t.Errorf("the check ran before the temporary file was complete: %q", sawTemp)
	}
	if got, _ := os.ReadFile(path); string(got) != "OLD=1\n" {
		t.Errorf("a refused write changed the file: %q", got)
	}
	if len(hooked) != 0 {
		t.Errorf("BeforeRename ran for a refused write")
	}
	onlyFiles(t, dir, ".env")

	calls := 0
	if err := WriteAtomicWith(path, []byte("NEW=3\n"), Options{Check: func() error { calls++; return nil }}); err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls", err, calls)
	}
	if got, _ := os.ReadFile(path); string(got) != "NEW=3\n" {
		t.Errorf("content %q", got)
	}
	if len(hooked) != 1 || filepath.Dir(hooked[0]) != dir || !strings.HasPrefix(filepath.Base(hooked[0]), "..env.tmp-") {
		t.Errorf("BeforeRename saw %v, want the one temporary file", hooked)
	}
	onlyFiles(t, dir, ".env")
}
