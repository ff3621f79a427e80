package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/config"
)

func TestPartnerSimulatorSecretFile(t *testing.T) {
	t.Parallel()
	if c, err := config.Load(env(nil)); err != nil || c.SimulatorSecretFile != "" {
		t.Fatalf("default: %q %v", c.SimulatorSecretFile, err)
	}
	p := filepath.Join(t.TempDir(), "sim.secret")
	if err := os.WriteFile(p, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := config.Load(env(map[string]string{"SIMULATOR_SECRET_FILE": p})); err != nil || c.SimulatorSecretFile != p {
		t.Fatalf("set: %q %v", c.SimulatorSecretFile, err)
	}
	_, err := config.Load(env(map[string]string{"SIMULATOR_SECRET_FILE": "/nonexistent/sim.secret"}))
	if err == nil || !strings.HasPrefix(err.Error(), "SIMULATOR_SECRET_FILE:") {
		t.Fatalf("missing file: %v", err)
	}
}
