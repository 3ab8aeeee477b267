// Package browsertest starts Debian's headless Chromium for browser
// tests (driven with chromedp) and saves screenshots of what a test saw.
// It is imported by tests only.
package browsertest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is the browser's path: CAPY_CHROMIUM, else the first of the
// usual names on PATH.
func Chromium() (string, error) {
	if p := os.Getenv("CAPY_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no Chromium on PATH (Debian: apt-get install chromium; or set CAPY_CHROMIUM)")
}

// New starts a fresh headless Chromium (its own empty profile) for the
// test and returns a tab's context; the browser stops at the test's end.
// Without Chromium the test is skipped, except under CI (CI=true), where
// .ci/run installs it, so a missing browser fails instead of passing
// quietly.
func New(t testing.TB) context.Context {
	t.Helper()
	path, err := Chromium()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("browser tests: %v", err)
		}
		t.Skipf("browser tests skipped: %v", err)
	}
	// The flags keep Chromium off the network it cannot reach here
	// (background services, component updates, sync) and run it as root
	// in a container (no sandbox).
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so a broken install fails here, named. It
	// must start on ctx itself: chromedp ties the browser's life to the
	// context of the first run, so a derived context with a deadline
	// would close it when cancelled.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	return ctx
}

// Do runs steps in the tab with a deadline, failing the test on error.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Get runs one action that returns a value, with a deadline, failing the
// test on error.
func Get[T any](t testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// Widths are the viewports of the screenshots: a desktop and a phone.
var Widths = []struct {
	Name          string
	Width, Height int64
	Mobile        bool
}{
	{"desktop", 1280, 900, false},
	{"phone", 390, 844, true},
}

// Screenshots saves a full-page PNG of the current page at each of
// Widths as NAME-WIDTHNAME.png in the test's artifact directory (kept
// with `go test -artifacts -outputdir DIR`) and returns the paths. The
// viewport is restored to the desktop size afterwards.
func Screenshots(t *testing.T, ctx context.Context, name string) []string {
	t.Helper()
	dir := t.ArtifactDir()
	var paths []string
	for _, w := range Widths {
		var opts []chromedp.EmulateViewportOption
		if w.Mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		Do(t, ctx,
			chromedp.EmulateViewport(w.Width, w.Height, opts...),
			chromedp.Sleep(100*time.Millisecond), // let layout settle after the resize
		)
		png := Get(t, ctx, chromedp.FullScreenshot(100)) // 100: PNG (any lower quality is JPEG)
		p := filepath.Join(dir, name+"-"+w.Name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	Do(t, ctx, chromedp.ResetViewport())
	return paths
}
