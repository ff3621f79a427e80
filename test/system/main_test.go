package system

import (
	"os"
	"testing"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// binary is the path of the `distribution` binary under test.
var binary string

// TestMain builds the binary once for every test (or uses SYSTEMTEST_BINARY, a binary built
// elsewhere) and drops the template database of dbtest at the end.
func TestMain(m *testing.M) { os.Exit(proctest.Main(m, "SYSTEMTEST_BINARY", &binary)) }
