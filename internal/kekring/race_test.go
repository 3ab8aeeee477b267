package kekring

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/capy-oss/capy/internal/privfile"
)

// TestLoadOrCreateNeverHalfWritten (issue 14 §3): replicas that share a
// data directory race to create the KEK file while others read it. A
// reader must see no file (and try again) or the whole keyring, never an
// empty or partial one: the file must appear at its path complete. The
// old code created the file in place (O_CREATE|O_EXCL, then write), so a
// reader in between read an empty keyring and capyd refused to start
// ("keyring has no keys").
func TestLoadOrCreateNeverHalfWritten(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs Unix permissions")
	}
	const rounds, creators, readers = 60, 2, 4
	base := t.TempDir()
	for round := range rounds {
		path := filepath.Join(base, "r"+strconv.Itoa(round), "kek")
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			done    atomic.Int32
			mu      sync.Mutex
			encoded []string
			errs    []error
		)
		record := func(k *Ring, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			encoded = append(encoded, k.Encode())
		}
		for range creators {
			wg.Go(func() {
				<-start
				k, err := LoadOrCreate(path)
				record(k, err)
				done.Add(1)
			})
		}
		for range readers {
			wg.Go(func() {
				<-start
				for {
					finished := done.Load() == creators
					k, err := Load(path)
					if errors.Is(err, fs.ErrNotExist) && !finished {
						continue // not created yet: try again
					}
					record(k, err)
					return
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: %d of %d callers failed, first: %v", round, len(errs), creators+readers, errs[0])
		}
		for _, e := range encoded[1:] {
			if e != encoded[0] {
				t.Fatalf("round %d: callers got different keyrings", round)
			}
		}
	}
}

// TestLoadOrCreateInvisibleUntilComplete: the same race made
// deterministic. A creator is stopped with its keyring written to disk
// but not yet at the path (privfile.BeforeLink); meanwhile Load finds no
// file, and a second LoadOrCreate creates its own keyring, which the
// stopped creator then returns instead of its own.
func TestLoadOrCreateInvisibleUntilComplete(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs Unix permissions")
	}
	path := filepath.Join(t.TempDir(), "data", "kek")
	paused, resume := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	privfile.BeforeLink = func(string) {
		if first.CompareAndSwap(false, true) {
			close(paused)
			<-resume
		}
	}
	t.Cleanup(func() { privfile.BeforeLink = nil })
	stopped := make(chan *Ring, 1)
	go func() {
		k, err := LoadOrCreate(path)
		if err != nil {
			t.Error(err)
		}
		stopped <- k
	}()
	<-paused
	if k, err := Load(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load while the creator is stopped: %v, %v; want fs.ErrNotExist", k, err)
	}
	winner, err := LoadOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	close(resume)
	if k := <-stopped; k == nil || k.Encode() != winner.Encode() {
		t.Fatal("the stopped creator did not return the keyring at the path")
	}
	if k, err := Load(path); err != nil || k.Encode() != winner.Encode() {
		t.Fatalf("Load after both: %v", err)
	}
}

// TestLoadNeverFollowsSwappedSymlink (issue 14 §3): whoever can write the
// directory swaps the KEK file for a symbolic link to a keyring of their
// own, again and again. Load must never return that keyring: a link is
// refused (privfile.ErrInsecure) whenever it is seen, including when it
// appears between a check of the path and the open. The old code checked
// with Lstat and then read with os.ReadFile, which follows the link.
func TestLoadNeverFollowsSwappedSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs symbolic links and Unix permissions")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kek")
	real, _ := Generate()
	evil, _ := Generate()
	src := filepath.Join(dir, "kek.src")
	if err := os.WriteFile(src, []byte(real.Encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	attacker := filepath.Join(dir, "attacker")
	if err := os.WriteFile(attacker, []byte(evil.Encode()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, path); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tmpLink, tmpFile := filepath.Join(dir, "l.tmp"), filepath.Join(dir, "f.tmp")
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Atomic swaps: the path always holds the real file or the link.
			os.Remove(tmpLink)
			if err := os.Symlink(attacker, tmpLink); err == nil {
				os.Rename(tmpLink, path)
			}
			os.Remove(tmpFile)
			if err := os.Link(src, tmpFile); err == nil {
				os.Rename(tmpFile, path)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	var followed, refused, read int
	for range 30000 {
		k, err := Load(path)
		switch {
		case errors.Is(err, privfile.ErrInsecure):
			refused++
		case err != nil:
			t.Fatalf("Load: %v", err)
		case k.Encode() == evil.Encode():
			followed++
		case k.Encode() == real.Encode():
			read++
		default:
			t.Fatal("Load returned a keyring that is neither")
		}
	}
	t.Logf("read %d, refused %d, followed the link %d", read, refused, followed)
	if followed > 0 {
		t.Fatalf("Load followed a symbolic link swapped in after its check %d times and returned the attacker's keyring", followed)
	}
}
