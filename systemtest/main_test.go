package systemtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/dbtest"
)

// binary is the path of the `distribution` binary under test.
var binary string

// TestMain builds the binary once for every test (or uses SYSTEMTEST_BINARY, a binary built
// elsewhere) and drops the template database of dbtest at the end.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if b := os.Getenv("SYSTEMTEST_BINARY"); b != "" {
		binary = b
	} else {
		dir, err := os.MkdirTemp("", "systemtest-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "systemtest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "distribution")
		if err := build(binary); err != nil {
			fmt.Fprintln(os.Stderr, "systemtest: build the binary:", err)
			return 1
		}
	}
	code := m.Run()
	dbtest.DropTemplates()
	return code
}

// build compiles the module's main package (the directory holding go.mod) into out.
func build(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", root, err, b)
	}
	return nil
}
