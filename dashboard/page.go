package dashboard

import (
	"io/fs"
	"net/http"
	"strings"
)

// pageHandler serves the dashboard page: index.html at /, its assets
// below it. The page reads only the Stats API, from the same origin.
func pageHandler(assets fs.FS) http.Handler {
	if assets == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(placeholderPage))
		})
	}
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The page's address carries its state (?period=…&page=…); the
		// files themselves change with each build of the binary, so the
		// page is checked each time. It names its script and styles with
		// a hash of their content (?v=…), so those never change under a
		// name and a returning browser need not ask again.
		switch {
		case r.URL.Path == "/" || strings.HasSuffix(r.URL.Path, ".html"):
			w.Header().Set("Cache-Control", "no-cache")
		case r.URL.Query().Has("v"):
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}

// placeholderPage stands in for the page in a build without its assets.
const placeholderPage = `<!doctype html>
<meta charset="utf-8">
<title>Footfall dashboard</title>
<p>This build of Footfall has no dashboard page. The Stats API answers under <code>/api/v1/stats/</code>; see docs/dashboard.md.</p>
`
