package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/static"
	"github.com/marketing-platform/distribution/web"
)

// Every page links the favicon, and the link's target is what the real asset handler serves
// (200, an SVG, cacheable): browsers stop asking for a /favicon.ico that 404s.
func TestFaviconLinkedAndServed(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	doc := parse(t, a.client().get("/login").body)
	link := doc.Find(`head link[rel="icon"]`)
	href, _ := link.Attr("href")
	if link.Length() != 1 || href != "/static/"+static.FaviconName {
		t.Fatalf("favicon link %d, href %q", link.Length(), href)
	}
	if typ, _ := link.Attr("type"); typ != "image/svg+xml" {
		t.Errorf("favicon link type %q", typ)
	}
	rec := httptest.NewRecorder()
	http.StripPrefix("/static/", static.Handler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, href, nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "image/svg+xml") {
		t.Fatalf("GET %s: %d %q", href, rec.Code, rec.Header().Get("Content-Type"))
	}
	if !strings.Contains(rec.Header().Get("Cache-Control"), "max-age=") {
		t.Errorf("favicon not cacheable: Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
}
