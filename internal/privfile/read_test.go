//go:build unix

package privfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestReadPrivate(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadPrivate(filepath.Join(dir, "none"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
	p := filepath.Join(dir, "k")
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := ReadPrivate(p, 10); err != nil || string(data) != "0123456789" {
		t.Fatalf("ReadPrivate(max 10) = %q, %v", data, err)
	}
	// Larger than the bound: refused, not cut.
	if data, err := ReadPrivate(p, 9); !errors.Is(err, ErrTooLarge) || data != nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadPrivate(max 9) of 10 bytes = %q, %v; want ErrTooLarge naming the file", data, err)
	}
	if err := os.Chmod(p, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPrivate(p, 100); err != nil {
		t.Fatalf("0400 refused: %v", err)
	}
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o604, 0o660, 0o610, 0o602, 0o601, 0o777} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivate(p, 100)
		if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "chmod 600 "+p) {
			t.Errorf("mode %04o: %v, want ErrInsecure saying chmod 600", mode, err)
		}
		// Refused, never repaired.
		if fi, _ := os.Stat(p); fi.Mode().Perm() != mode {
			t.Errorf("mode %04o changed to %04o", mode, fi.Mode().Perm())
		}
	}
	os.Chmod(p, 0o600)

	link := filepath.Join(dir, "link")
	dangling := filepath.Join(dir, "dangling")
	sub := filepath.Join(dir, "sub")
	fifo := filepath.Join(dir, "fifo")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, says string }{
		{link, "is a symlink"},
		{dangling, "is a symlink"},
		{sub, "not a regular file"},
		{fifo, "not a regular file"}, // and it does not block
		{"/dev/null", "not a regular file"},
	} {
		if _, err := ReadPrivate(c.path, 100); !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want ErrInsecure saying %q", c.path, err, c.says)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a dangling link's target was created")
	}
}

// TestOpenNoFollow: the open itself refuses a link at the path, so a link
// swapped in after any check made before the open is never followed.
func TestOpenNoFollow(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	if f, err := OpenNoFollow(link); err == nil {
		f.Close()
		t.Fatal("OpenNoFollow followed a link")
	}
	f, err := OpenNoFollow(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestReadPrivateNeverFollowsASwap: another process swaps the key file,
// as fast as it can, for a symbolic link to a file of its own and for a
// hard link to a file others may read (each by rename, so the path always
// holds one of the three). ReadPrivate returns the real content or refuses
// (ErrInsecure); it never returns the other files' content, wherever the
// swap falls between its look at the path, its open and its read.
func TestReadPrivateNeverFollowsASwap(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "key")
	real := bytes.Repeat([]byte{'r'}, 64)
	src := filepath.Join(dir, "real")
	if err := os.WriteFile(src, real, 0o600); err != nil {
		t.Fatal(err)
	}
	attacker := filepath.Join(dir, "attacker") // 0600: only the link is wrong
	if err := os.WriteFile(attacker, bytes.Repeat([]byte{'a'}, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open") // a regular file others may read
	if err := os.WriteFile(open, bytes.Repeat([]byte{'o'}, 64), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, path); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tmp := filepath.Join(dir, "swap.tmp")
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			if os.Symlink(attacker, tmp) == nil {
				os.Rename(tmp, path)
			}
			os.Remove(tmp)
			if os.Link(open, tmp) == nil {
				os.Rename(tmp, path)
			}
			os.Remove(tmp)
			if os.Link(src, tmp) == nil {
				os.Rename(tmp, path)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	counts := map[string]int{}
	for range 20000 {
		data, err := ReadPrivate(path, 64)
		switch {
		case errors.Is(err, ErrInsecure):
			counts["refused"]++
		case err != nil:
			t.Fatalf("ReadPrivate: %v", err)
		case bytes.Equal(data, real):
			counts["read"]++
		default:
			t.Fatalf("ReadPrivate returned another file's content: %.8q…", data)
		}
	}
	t.Logf("%v", counts)
}
