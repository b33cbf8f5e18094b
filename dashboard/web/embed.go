// Package web carries the dashboard page into the Go binary: the built
// index.html, app.js and app.css, which read only the Stats API. dist/ is
// checked in (npm run build; npm run check-dist guards it), so `go build`
// needs no Node toolchain, and the page needs no network beyond the
// dashboard itself: uPlot, the charting library, is bundled in app.js.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Assets is the page with its files at the root (index.html, not
// dist/index.html), ready for http.FileServerFS at the dashboard's /.
var Assets, _ = fs.Sub(dist, "dist")
