// Package sdkjs carries the browser beacon and the demo shop into the Go
// binary, so that the collector serves the exact script that was tested and
// no deployment has a separate static-file step.
package sdkjs

import (
	"embed"
	"io/fs"
)

// Beacon is the built, minified footfall.js that the collector serves at
// /footfall.js. It is checked in (npm run build; npm run check-dist guards
// it) so that `go build` needs no Node toolchain.
//
//go:embed dist/footfall.js
var Beacon []byte

//go:embed demo
var demoFiles embed.FS

// Demo is the static demo shop with its files at the root (index.html, not
// demo/index.html), because the collector mounts it under /demo/ after
// stripping that prefix.
var Demo, _ = fs.Sub(demoFiles, "demo")
