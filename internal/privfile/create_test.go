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
	"sync/atomic"
	"testing"
)

func TestCreateOnce(t *testing.T) {
	synced := 0
	syncDir = func(dir string) error { synced++; return SyncDir(dir) }
	t.Cleanup(func() { syncDir = SyncDir })

	dir := t.TempDir()
	path := filepath.Join(dir, "kek")
	got, created, err := CreateOnce(path, []byte("first\n"), 0o600, 64)
	if err != nil || !created || string(got) != "first\n" {
		t.Fatalf("CreateOnce = %q, %v, %v", got, created, err)
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Fatalf("created %v, %v; want a regular 0600 file", fi.Mode(), err)
	}
	if synced != 1 {
		t.Errorf("directory synced %d times, want once", synced)
	}
	// The second call reads the first one's file and changes nothing.
	got, created, err = CreateOnce(path, []byte("second\n"), 0o600, 64)
	if err != nil || created || string(got) != "first\n" {
		t.Fatalf("second CreateOnce = %q, %v, %v; want the first file", got, created, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "first\n" {
		t.Errorf("file holds %q", data)
	}
	onlyFiles(t, dir, "kek")

	// 0400 is private too.
	ro := filepath.Join(dir, "ro")
	if _, _, err := CreateOnce(ro, []byte("x"), 0o400, 64); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(ro); fi.Mode().Perm() != 0o400 {
		t.Errorf("mode %04o, want 0400", fi.Mode().Perm())
	}

	// Asked for a mode others could use, or more than it could read back:
	// a mistake, nothing created.
	for _, mode := range []fs.FileMode{0o644, 0o640, 0o602, fs.ModeDir | 0o700} {
		if _, _, err := CreateOnce(filepath.Join(dir, "bad"), []byte("x"), mode, 64); err == nil {
			t.Errorf("mode %v accepted", mode)
		}
	}
	if _, _, err := CreateOnce(filepath.Join(dir, "bad"), []byte("0123456789"), 0o600, 9); err == nil {
		t.Error("data longer than max accepted")
	}
	onlyFiles(t, dir, "kek", "ro")
}

// TestCreateOnceRefusesWhatIsThere: an existing file is read as
// ReadPrivate reads it: a link (dangling or not) or a file others may
// read is refused and left as it is.
func TestCreateOnceRefusesWhatIsThere(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("theirs"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	dangling := filepath.Join(dir, "dangling")
	open := filepath.Join(dir, "open")
	os.Symlink(target, link)
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)
	os.WriteFile(open, []byte("x"), 0o600)
	os.Chmod(open, 0o644)
	for _, p := range []string{link, dangling, open} {
		got, created, err := CreateOnce(p, []byte("mine"), 0o600, 64)
		if !errors.Is(err, ErrInsecure) || created || got != nil {
			t.Errorf("%s: %q, %v, %v; want ErrInsecure", filepath.Base(p), got, created, err)
		}
	}
	if data, _ := os.ReadFile(target); string(data) != "theirs" {
		t.Errorf("link target now holds %q", data)
	}
	if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("dangling link's target created")
	}
	if fi, _ := os.Stat(open); fi.Mode().Perm() != 0o644 {
		t.Error("the open file was repaired")
	}
	onlyFiles(t, dir, "dangling", "link", "open", "target")
}

// TestCreateOnceNeverVisibleHalfWritten: a creator stopped after writing
// its file and before linking it into place (BeforeLink) is invisible:
// readers get fs.ErrNotExist, not an empty or partial file. Another
// creator meanwhile wins, and the stopped one, once it goes on, returns
// the winner's content and leaves it in place.
func TestCreateOnceNeverVisibleHalfWritten(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pepper")
	paused, resume := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	BeforeLink = func(string) {
		if first.CompareAndSwap(false, true) { // only the first creator stops
			close(paused)
			<-resume
		}
	}
	t.Cleanup(func() { BeforeLink = nil })

	loser := bytes.Repeat([]byte{'l'}, 48)
	winner := bytes.Repeat([]byte{'w'}, 48)
	type result struct {
		got     []byte
		created bool
		err     error
	}
	stopped := make(chan result, 1)
	go func() {
		got, created, err := CreateOnce(path, loser, 0o600, 64)
		stopped <- result{got, created, err}
	}()
	<-paused
	// Its temporary file is complete, yet nothing is at path.
	if data, err := ReadPrivate(path, 64); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read while the creator is stopped: %q, %v; want fs.ErrNotExist", data, err)
	}
	got, created, err := CreateOnce(path, winner, 0o600, 64)
	if err != nil || !created || !bytes.Equal(got, winner) {
		t.Fatalf("second creator: %q, %v, %v", got, created, err)
	}
	close(resume)
	r := <-stopped
	if r.err != nil || r.created || !bytes.Equal(r.got, winner) {
		t.Fatalf("stopped creator: %q, %v, %v; want the winner's content", r.got, r.created, r.err)
	}
	if data, _ := ReadPrivate(path, 64); !bytes.Equal(data, winner) {
		t.Errorf("file holds %q", data)
	}
	onlyFiles(t, dir, "pepper")
}

// TestCreateOnceConcurrent: creators and readers racing on a fresh path.
// Every creator returns the same content, exactly one created it, and
// every reader sees nothing yet or that whole content.
func TestCreateOnceConcurrent(t *testing.T) {
	base := t.TempDir()
	for round := range 100 {
		dir := filepath.Join(base, strings.Repeat("d", 1+round%3)+string(rune('a'+round/3%26))+string(rune('a'+round/78)))
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "key")
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			start   = make(chan struct{})
			results [][]byte
			winners int
		)
		for i := range 3 {
			wg.Go(func() {
				<-start
				got, created, err := CreateOnce(path, bytes.Repeat([]byte{byte('A' + i)}, 32), 0o600, 32)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
				if created {
					winners++
				}
				results = append(results, got)
			})
		}
		for range 3 {
			wg.Go(func() {
				<-start
				for range 200 {
					data, err := ReadPrivate(path, 32)
					if errors.Is(err, fs.ErrNotExist) {
						continue
					}
					if err != nil || len(data) != 32 {
						t.Errorf("round %d: reader got %q, %v", round, data, err)
					}
					return
				}
			})
		}
		close(start)
		wg.Wait()
		if winners != 1 {
			t.Fatalf("round %d: %d creators created the file", round, winners)
		}
		for _, r := range results {
			if !bytes.Equal(r, results[0]) {
				t.Fatalf("round %d: creators returned different content", round)
			}
		}
	}
}
