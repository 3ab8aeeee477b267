// Package web is capyd's browser side: the static pages of one-time
// shares and of the metadata-only console, embedded in the binary
// (no build step, no network, no third-party script or font), and the
// headers every page is served with.
//
// Nothing here holds a key or a value: a share page decrypts in the
// recipient's browser with WebCrypto, and the console only reads
// metadata through the API. The package must not import the client's
// crypto (internal/arch checks).
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Static is the embedded static tree (pages, scripts, the stylesheet),
// rooted at its own top.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// ContentSecurityPolicy is the policy of every page: scripts, styles,
// images and fetches from capyd itself only, nothing inline, no frames,
// no plugins, forms only to capyd. A share page's secret lives in the
// DOM and the URL fragment; the policy keeps any injected markup from
// loading a script or sending them elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Headers sets the security headers of a page or asset and calls next.
// Referrer-Policy no-referrer keeps a share link's path (and the
// browser never sends the fragment) out of any request the page makes;
// no-store keeps decrypted pages out of caches.
func Headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), clipboard-read=()")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// Assets serves the embedded tree's files under prefix (e.g. "/assets/"),
// with Headers. It lists no directory.
func Assets(prefix string) http.Handler {
	files := http.FileServerFS(Static())
	return Headers(http.StripPrefix(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})))
}

// Page serves one embedded HTML file (name relative to the static tree)
// with Headers, whatever the request path below its route.
func Page(name string) http.Handler {
	return Headers(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(Static(), name)
		if err != nil {
			http.Error(w, "page missing from this build", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	}))
}
