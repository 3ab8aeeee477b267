package keys_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/capy-oss/capy/internal/keys"
)

func skipIfNoUnixPerms(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("needs Unix permissions")
	}
}

func TestDeviceCreateAndLoad(t *testing.T) {
	skipIfNoUnixPerms(t)
	dir := filepath.Join(t.TempDir(), "home", ".capy")
	path := filepath.Join(dir, "device.key")
	d, err := keys.LoadOrCreateDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	if d == (keys.DeviceSecret{}) {
		t.Fatal("device secret is zero")
	}
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("device key: mode %v, size %d; want regular 0600, 32 bytes", fi.Mode(), fi.Size())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Fatalf("device key directory mode %v, want 0700", di.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data, d[:]) {
		t.Fatal("file content differs from the returned secret")
	}
	again, err := keys.LoadOrCreateDevice(path)
	if err != nil || again != d {
		t.Fatalf("reload = %v", err)
	}
	// No temporary files are left behind next to the key.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only device.key", len(ents))
	}
	// Another path gets another secret.
	other, err := keys.LoadOrCreateDevice(filepath.Join(dir, "other.key"))
	if err != nil || other == d {
		t.Fatalf("second device secret equals the first (%v)", err)
	}
}

func TestDeviceLoadsExisting(t *testing.T) {
	skipIfNoUnixPerms(t)
	path := filepath.Join(t.TempDir(), "device.key")
	want := bytes.Repeat([]byte{0x5a}, 32)
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := keys.LoadOrCreateDevice(path)
	if err != nil || !bytes.Equal(d[:], want) {
		t.Fatalf("LoadOrCreateDevice = %x, %v", d, err)
	}
}

func TestDeviceRefusesInsecure(t *testing.T) {
	skipIfNoUnixPerms(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.key")
	if err := os.WriteFile(good, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not subject to umask
			t.Fatal(err)
		}
		return p
	}
	key := bytes.Repeat([]byte{2}, 32)
	insecure := map[string]string{
		"0644":      write("a.key", key, 0o644),
		"0640":      write("b.key", key, 0o640),
		"0604":      write("c.key", key, 0o604),
		"0660":      write("d.key", key, 0o660),
		"0610":      write("e.key", key, 0o610),
		"0602":      write("f.key", key, 0o602),
		"0601":      write("g.key", key, 0o601),
		"0777":      write("h.key", key, 0o777),
		"directory": filepath.Join(dir, "dir.key"),
		"symlink":   filepath.Join(dir, "link.key"),
		"dangling":  filepath.Join(dir, "dangling.key"),
	}
	if err := os.Mkdir(insecure["directory"], 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(good, insecure["symlink"]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "missing"), insecure["dangling"]); err != nil {
		t.Fatal(err)
	}
	for name, p := range insecure {
		d, err := keys.LoadOrCreateDevice(p)
		if !errors.Is(err, keys.ErrInsecureFile) {
			t.Errorf("%s: LoadOrCreateDevice = %v, want ErrInsecureFile", name, err)
		}
		if d != (keys.DeviceSecret{}) {
			t.Errorf("%s: returned a secret", name)
		}
	}
	// Refused, never repaired: the 0644 file is left as it was.
	fi, _ := os.Stat(insecure["0644"])
	if fi.Mode().Perm() != 0o644 {
		t.Error("LoadOrCreateDevice changed the mode of a refused file")
	}
	if _, err := os.Lstat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a dangling symlink's target was created")
	}
}

func TestDeviceRefusesWrongSize(t *testing.T) {
	skipIfNoUnixPerms(t)
	dir := t.TempDir()
	for _, n := range []int{0, 1, 31, 33, 64, 4096} {
		p := filepath.Join(dir, "d.key")
		if err := os.WriteFile(p, bytes.Repeat([]byte{7}, n), 0o600); err != nil {
			t.Fatal(err)
		}
		if d, err := keys.LoadOrCreateDevice(p); err == nil || d != (keys.DeviceSecret{}) {
			t.Errorf("%d-byte device key accepted", n)
		}
		// Refused, not overwritten.
		if data, _ := os.ReadFile(p); len(data) != n {
			t.Errorf("%d-byte device key was rewritten", n)
		}
		os.Remove(p)
	}
}

func TestDeviceConcurrentCreate(t *testing.T) {
	skipIfNoUnixPerms(t)
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "sub", "device.key")
		const n = 8
		var (
			wg      sync.WaitGroup
			results [n]keys.DeviceSecret
			errs    [n]error
			start   = make(chan struct{})
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = keys.LoadOrCreateDevice(path)
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, goroutine %d: %v", round, i, errs[i])
			}
			if results[i] != results[0] {
				t.Fatalf("round %d: goroutines got different device secrets", round)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(data, results[0][:]) {
			t.Fatalf("round %d: file differs from the secret handed out", round)
		}
	}
}
