// Package static owns the browser assets the binary serves: the Datastar v1.0.0 client
// (dist/datastar.js, fetched by `make generate` from the Go module proxy) and the compiled Tailwind
// stylesheet (dist/app.css, built from static/src/app.css). Both are generated and git-ignored, so a
// fresh clone must run `make generate` (every make target does) before the Go code compiles.
// The favicon (favicon.svg) is a source file, embedded as it is.
package static

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// FS holds the generated assets under the "dist/" prefix: dist/datastar.js and dist/app.css.
// Serve it with Handler.
//
//go:embed dist
var FS embed.FS

// Handler serves the embedded assets by name (the "/static/" prefix already stripped), files only.
//
// It also serves the favicon (FaviconName), cacheable for a day: every page links it.
func Handler() http.Handler {
	dist, err := fs.Sub(FS, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; Sub fails only on an invalid one
	}
	files := FileServer(dist)
	icon := FileServer(faviconFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.TrimPrefix(r.URL.Path, "/") == FaviconName {
			w.Header().Set("Cache-Control", "public, max-age=86400")
			icon.ServeHTTP(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// FaviconName is the favicon's name under /static/ (an SVG: one small file for every size).
const FaviconName = "favicon.svg"

//go:embed favicon.svg
var faviconFS embed.FS

// FileServer serves the files of fsys (GET and HEAD, as http.FileServer does) but never a
// directory listing: a directory answers 404, as a missing file does.
func FileServer(fsys fs.FS) http.Handler { return http.FileServerFS(filesOnly{fsys}) }

// filesOnly is fsys with its directories hidden.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return file, nil
}
