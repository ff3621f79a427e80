// Package static owns the browser assets the binary serves: the Datastar v1.0.0 client
// (dist/datastar.js, fetched by `make generate` from the Go module proxy) and the compiled Tailwind
// stylesheet (dist/app.css, built from static/src/app.css). Both are generated and git-ignored, so a
// fresh clone must run `make generate` (every make target does) before the Go code compiles.
package static

import (
	"embed"
	"io/fs"
	"net/http"
)

// FS holds the generated assets under the "dist/" prefix: dist/datastar.js and dist/app.css.
// Serve it with Handler.
//
//go:embed dist
var FS embed.FS

// Handler serves the embedded assets by name (the "/static/" prefix already stripped), files only.
func Handler() http.Handler {
	dist, err := fs.Sub(FS, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; Sub fails only on an invalid one
	}
	return FileServer(dist)
}

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
