package capyd

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestPepperNeverFollowsSwappedSymlink (issue 14 §3): whoever can write
// the data directory swaps the pepper file for a symbolic link to a
// pepper of their own, again and again. capyd must never load that
// pepper: a link is refused whenever it is seen, including when it
// appears between a check of the path and the open. The old code checked
// with Lstat and then read with os.ReadFile, which follows the link.
func TestPepperNeverFollowsSwappedSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs symbolic links and Unix permissions")
	}
	cfg := testConfig(t)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := cfg.DataDir
	real := bytes.Repeat([]byte{0x11}, PepperSize)
	evil := bytes.Repeat([]byte{0xee}, PepperSize)
	src := filepath.Join(dir, "pepper.src")
	if err := os.WriteFile(src, []byte(hex.EncodeToString(real)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	attacker := filepath.Join(dir, "attacker")
	if err := os.WriteFile(attacker, []byte(hex.EncodeToString(evil)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(src, cfg.PepperFile); err != nil {
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
				os.Rename(tmpLink, cfg.PepperFile)
			}
			os.Remove(tmpFile)
			if err := os.Link(src, tmpFile); err == nil {
				os.Rename(tmpFile, cfg.PepperFile)
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	var followed, refused, read int
	for range 30000 {
		p, err := loadPepper(cfg, nil)
		var ce *configError
		switch {
		case errors.As(err, &ce) && strings.Contains(ce.msg, "not a regular file"):
			refused++
		case err != nil:
			t.Fatalf("loadPepper: %v", err)
		case bytes.Equal(p, evil):
			followed++
		case bytes.Equal(p, real):
			read++
		default:
			t.Fatalf("loadPepper returned %x", p)
		}
	}
	t.Logf("read %d, refused %d, followed the link %d", read, refused, followed)
	if followed > 0 {
		t.Fatalf("loadPepper followed a symbolic link swapped in after its check %d times and returned the attacker's pepper", followed)
	}
}
