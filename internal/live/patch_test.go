package live

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/starfederation/datastar-go/datastar"
)

// TestWritePatchMatchesDatastar: the patches written without the SDK (shared feed bytes, pooled
// renders) are byte for byte what datastar-go writes for the same elements.
func TestWritePatchMatchesDatastar(t *testing.T) {
	for _, html := range []string{
		`<div id="a">one</div>`,
		"<div id=\"a\">\n  <p>two\nlines</p>\n</div>",
		"<section id=\"s\">\n\n</section>\n",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		sse := datastar.NewSSE(rec, req)
		if err := sse.PatchElements(html); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := writePatch(&got, []byte(html)); err != nil {
			t.Fatal(err)
		}
		if want := rec.Body.String(); got.String() != want {
			t.Errorf("writePatch(%q) =\n%q\nwant (datastar-go)\n%q", html, got.String(), want)
		}
	}
}
