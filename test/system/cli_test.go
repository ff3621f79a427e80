package system

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// TestBinaryHelpAndUsageExitCodes runs the real binary, because asking it for help on a production
// host must never start a server or migrate a database: --help, -h and help print the usage and
// exit 0 at once, without migrating or binding the port (the environment points at a
// free port and a database nobody listens on, so a binary that served would hang or fail); an
// unknown command or flag prints the usage on stderr and exits 2.
func TestBinaryHelpAndUsageExitCodes(t *testing.T) {
	t.Parallel()
	addr := proctest.FreeAddr(t)
	env := []string{"ADDR=" + addr, "DATABASE_URL=postgres://postgres@127.0.0.1:1/none?connect_timeout=1", "LOG_LEVEL=error"}
	cli := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ctx.Err() != nil {
			t.Fatalf("%v: still running after 20 s (it serves instead of answering)", args)
		}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), out.String(), errb.String()
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		if code, out, _ := cli(args...); code != 0 || !strings.HasPrefix(out, "usage: distribution") {
			t.Errorf("%v: exit %d, stdout %.60q; want 0 and the usage", args, code, out)
		}
	}
	if code, out, _ := cli("version"); code != 0 || !strings.HasPrefix(out, "distribution ") {
		t.Errorf("version: exit %d, stdout %q", code, out)
	}
	for _, args := range [][]string{{"--bogus"}, {"bogus"}, {"serve", "extra"}, {"user", "add", "--nope"}} {
		if code, out, errOut := cli(args...); code != 2 || out != "" || !strings.Contains(errOut, "usage: distribution") {
			t.Errorf("%v: exit %d, stdout %q, stderr %.60q; want 2 and the usage on stderr", args, code, out, errOut)
		}
	}
}
