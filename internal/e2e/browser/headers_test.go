// Package browser holds capyd's browser tests: real headless Chromium
// (Debian's chromium, installed by .ci/run) driven by chromedp against
// pages served on loopback.
package browser

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/capy-oss/capy/internal/e2e/browser/browsertest"
	"github.com/capy-oss/capy/internal/web"
)

// TestPolicyBlocksInlineScript: the headers every page carries make a
// real browser refuse an inline script (what an injected value would be)
// while it still loads the embedded stylesheet.
func TestPolicyBlocksInlineScript(t *testing.T) {
	ctx := browsertest.New(t)
	mux := http.NewServeMux()
	mux.Handle("/assets/", web.Assets("/assets/"))
	mux.Handle("/page", web.Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>before</title>
<link rel="stylesheet" href="/assets/capy.css"></head>
<body><main id="m">page</main><script>document.title = "inline ran";</script></body></html>`))
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	browsertest.Do(t, ctx, chromedp.Navigate(srv.URL+"/page"), chromedp.WaitVisible("#m"))
	if title := browsertest.Get(t, ctx, chromedp.Evaluate[string]("document.title")); title != "before" {
		t.Fatalf("an inline script ran under the policy: title %q", title)
	}
	// The stylesheet applied: main is centred with a max width.
	if mw := browsertest.Get(t, ctx, chromedp.Evaluate[string]("getComputedStyle(document.getElementById('m')).maxWidth")); mw != "960px" {
		t.Fatalf("the embedded stylesheet did not apply: main max-width %q", mw)
	}
	resp, err := http.Get(srv.URL + "/assets/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("the asset directory is listed: %d", resp.StatusCode)
	}
}
