package system

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// `token create` without --role (or with a role that does not exist) explains the roles and
// what each may do, on stderr, and exits 2 at once: no database is touched (DATABASE_URL names
// a port nobody listens on), no token is printed.
func TestCLITokenCreateExplainsRoles(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=postgres://postgres@127.0.0.1:1/none?connect_timeout=1", "LOG_LEVEL=error"}
	for _, args := range [][]string{
		{"token", "create", "--name", "feed"},
		{"token", "create", "--name", "feed", "--role", ""},
		{"token", "create", "--name", "feed", "--role", "admin"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, binary, args...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%v: %v", args, err)
		}
		if code := cmd.ProcessState.ExitCode(); code != 2 || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing on stdout", args, code, out.String())
		}
		e := errb.String()
		for _, want := range []string{"--role", "marketer", "staff", "manager", "create, edit and delete", "retry failed channels",
			"reports, CSV export, the audit log, users and API tokens", "usage: distribution"} {
			if !strings.Contains(e, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, e)
			}
		}
	}
}
