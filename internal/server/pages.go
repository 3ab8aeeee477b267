package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/capy-oss/capy/internal/web"
)

// pages mounts the browser side on the public listener (internal/web):
// the share pages, the web console and their assets. They are static files: what a page
// learns (a share's blob, a link's key in the fragment) it learns in the
// browser, through the API.
func (s *Server) pages(r chi.Router) {
	for _, p := range []struct {
		pattern string
		h       http.Handler
	}{
		{"/assets/*", web.Assets("/assets/")},
		{"/share", web.Page("share.html")},
		{"/s/{share}", web.Page("s.html")},
		{"/console", web.Page("console.html")},
	} {
		pattern, h := p.pattern, p.h
		r.Method(http.MethodGet, pattern, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if rec, ok := w.(*recorder); ok {
				rec.route = pattern // the access log names the pattern, never a share's id
			}
			h.ServeHTTP(w, req)
		}))
	}
}
