package static

import (
	"bufio"
	"io/fs"
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
