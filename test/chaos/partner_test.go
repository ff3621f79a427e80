package chaos

import (
	"os"
	"path/filepath"
	"testing"
)

// chaosSecret is the partner v1 shared secret of every simulator process these tests start and
// of every CHANNELS_CONFIG they write.
const chaosSecret = "c4a9e1f7b3d5082c6e4a1f9b7d3c5e08a2f6b4d1c9e7a3f5b0d8c2e6a4f1b9d3"

// writeSecretFile writes chaosSecret to a new file and returns its path.
func writeSecretFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "partner.secret")
	if err := os.WriteFile(p, []byte(chaosSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
