package static

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The favicon every page links is served as an SVG, cacheable, and HEAD answers like GET.
func TestFaviconServed(t *testing.T) {
	t.Parallel()
	h := Handler()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/"+FaviconName, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d", method, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "image/svg+xml") {
			t.Errorf("%s: Content-Type %q, want image/svg+xml", method, ct)
		}
		if cc := rec.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") || strings.Contains(cc, "no-store") {
			t.Errorf("%s: Cache-Control %q, want a max-age", method, cc)
		}
		if method == http.MethodGet && !strings.Contains(rec.Body.String(), "<svg") {
			t.Errorf("body is not an SVG: %.80q", rec.Body.String())
		}
	}
	// The other assets are still served, and a directory still is not.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/app.css", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("app.css: %d", rec.Code)
	}
}
