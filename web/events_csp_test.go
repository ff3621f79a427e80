package web_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/web"
)

// The CSP lets pages load https images (event thumbnails) and nothing else changes: no plain
// http images, no other origin for scripts, styles, connections or frames.
func TestCSPAllowsHTTPSImagesOnly(t *testing.T) {
	t.Parallel()
	a := newApp(t, web.Config{})
	a.user("csp@example.com", model.RoleMarketer)
	c := a.client()
	c.mustLogin("csp@example.com")
	got := map[string][]string{}
	for _, d := range strings.Split(c.get("/").Header.Get("Content-Security-Policy"), ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			got[f[0]] = f[1:]
		}
	}
	want := map[string][]string{
		"default-src": {"'none'"}, "script-src": {"'self'", "'unsafe-eval'"}, "connect-src": {"'self'"},
		"img-src": {"'self'", "data:", "https:"}, "style-src": {"'self'"}, "form-action": {"'self'"},
		"frame-ancestors": {"'none'"}, "base-uri": {"'none'"},
	}
	if len(got) != len(want) {
		t.Errorf("CSP directives %v, want %v", got, want)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("CSP %s = %v, want %v", k, got[k], v)
		}
	}
	if slices.Contains(got["img-src"], "http:") || slices.Contains(got["img-src"], "*") {
		t.Errorf("img-src allows plain http: %v", got["img-src"])
	}
}
