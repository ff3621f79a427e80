// Package static owns the browser assets the binary serves: the Datastar v1.0.0 client
// (dist/datastar.js, fetched by `make generate` from the Go module proxy) and the compiled Tailwind
// stylesheet (dist/app.css, built from static/src/app.css). Both are generated and git-ignored, so a
// fresh clone must run `make generate` (every make target does) before the Go code compiles.
package static

import "embed"

// FS holds the generated assets under the "dist/" prefix: dist/datastar.js and dist/app.css.
// Serve it with fs.Sub(static.FS, "dist").
//
//go:embed dist
var FS embed.FS
