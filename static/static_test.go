package static

import (
	"bufio"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The build must embed the exact Datastar client the server-side SDK speaks to (protocol v1.0).
func TestDatastarBundleVersion(t *testing.T) {
	t.Parallel()
	f, err := FS.Open("dist/datastar.js")
	if err != nil {
		t.Fatalf("open: %v (run make generate)", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		t.Fatalf("read first line: %v", err)
	}
	if got := strings.TrimSpace(line); got != "// Datastar v1.0.0" {
		t.Fatalf("first line = %q, want %q", got, "// Datastar v1.0.0")
	}
}

func TestStylesheetEmbedded(t *testing.T) {
	t.Parallel()
	b, err := fs.ReadFile(FS, "dist/app.css")
	if err != nil {
		t.Fatalf("read: %v (run make generate)", err)
	}
	if len(b) == 0 {
		t.Fatal("dist/app.css is empty")
	}
	// Tailwind's preflight is always emitted; its absence means the build did not run Tailwind.
	if !strings.Contains(string(b), "tailwindcss") {
		t.Fatal("dist/app.css does not look like Tailwind output")
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Handler serves the embedded files by name and no directory listing.
func TestHandlerServesFilesOnly(t *testing.T) {
	t.Parallel()
	h := Handler()
	for path, want := range map[string]int{"/datastar.js": 200, "/app.css": 200, "/": 404, "/missing.js": 404} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(m, path, nil))
			if rec.Code != want {
				t.Errorf("%s %s: status %d, want %d", m, path, rec.Code, want)
			}
			if m == http.MethodHead && want == 200 && rec.Body.Len() != 0 {
				t.Errorf("HEAD %s has a body", path)
			}
			if path == "/" && strings.Contains(rec.Body.String(), "datastar.js") {
				t.Errorf("%s /: a directory listing", m)
			}
		}
	}
}
