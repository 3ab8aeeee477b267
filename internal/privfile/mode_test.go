//go:build unix

package privfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteAtomicNewFileMode: a new file gets the mode asked for (0600
// when none is) less the umask, as os.OpenFile would make it; an existing
// file keeps its mode whatever the umask; Private makes any file exactly
// 0600.
func TestWriteAtomicNewFileMode(t *testing.T) {
	for _, umask := range []int{0o022, 0o077} {
		old := syscall.Umask(umask)
		restore := func() { syscall.Umask(old) }
		t.Cleanup(restore) // a failed check below must not leave the process's umask changed
		dir := t.TempDir()
		for _, c := range []struct {
			name string
			mode fs.FileMode
		}{{"a", 0}, {"b", 0o600}, {"c", 0o644}, {"d", 0o400}} {
			path := filepath.Join(dir, c.name)
			if err := WriteAtomic(path, []byte("A=1\n"), c.mode); err != nil {
				t.Fatal(err)
			}
			want := c.mode
			if want == 0 {
				want = 0o600
			}
			want &^= fs.FileMode(umask)
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("umask %03o, new file with mode %04o: %v, %v; want %04o", umask, c.mode, fi.Mode().Perm(), err, want)
			}
		}
		onlyFiles(t, dir, "a", "b", "c", "d")

		path := filepath.Join(dir, "a")
		for _, mode := range []fs.FileMode{0o644, 0o666} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := WriteAtomic(path, []byte("B=2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
				t.Errorf("umask %03o: write over %04o left %04o", umask, mode, fi.Mode().Perm())
			}
		}
		for _, mode := range []fs.FileMode{0o644, 0o400, 0o666} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := WriteAtomicWith(path, []byte("K\n"), Options{Private: true, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
				t.Errorf("umask %03o: private write over %04o: %04o, want 0600", umask, mode, fi.Mode().Perm())
			}
			if _, err := ReadPrivate(path, 10); err != nil {
				t.Errorf("ReadPrivate after a private write: %v", err)
			}
		}
		restore()
	}
}
