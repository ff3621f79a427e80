// Package proctest runs the real `distribution` binary as processes for tests that must kill,
// stop or restart it (systemtest, chaos): it builds the binary once, starts processes with an
// exact environment and a log file (shown when the test fails), picks free ports, polls with
// deadlines and creates API tokens through the CLI. It is imported only by _test.go files.
package proctest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// Main is a TestMain body: it builds the binary into a temp dir (or uses the path in the
// environment variable envVar, for a binary built elsewhere), stores its path in *binary, runs
// the tests with dbtest.Run (database clean-up, goroutine leak check). It returns the exit code.
func Main(m *testing.M, envVar string, binary *string) int {
	if b := os.Getenv(envVar); b != "" {
		*binary = b
	} else {
		dir, err := os.MkdirTemp("", "proctest-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "proctest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		*binary = filepath.Join(dir, "distribution")
		if err := build(*binary); err != nil {
			fmt.Fprintln(os.Stderr, "proctest: build the binary:", err)
			return 1
		}
	}
	return dbtest.Run(m)
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

// WaitFor polls cond (with testkit.EventuallyErr) until it reports done or the deadline passes;
// then the test fails with what the last check saw. Processes in watch are checked too: one that
// exits early fails the test at once, instead of a long wait for something that can no longer
// happen. It takes a deadline rather than a timeout so that several waits can share one budget.
// It returns how long it took.
func WaitFor(t testing.TB, deadline time.Time, what string, cond func() (bool, string), watch ...*Proc) time.Duration {
	t.Helper()
	var last string
	return testkit.EventuallyErr(t, time.Until(deadline), what, func() error {
		done, detail := cond()
		if done {
			return nil
		}
		last = detail
		for _, p := range watch {
			if p.Exited() {
				t.Fatalf("waiting for %s: process %s exited (%v); last seen: %s", what, p.Name, p.WaitErr(), last)
			}
		}
		return errors.New(last)
	})
}

// FreeAddr returns a loopback address with a port nobody listens on right now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Proc is one running process of the binary, logging to a file.
type Proc struct {
	t       testing.TB
	Name    string
	LogPath string
	Started time.Time
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // set before done is closed
}

// command returns the binary with args and exactly env (plus PATH and HOME).
func command(binary string, env map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if _, set := env["KAKAO_QUIET_HOURS"]; !set {
		// KAKAO must not wait for the morning when tests run during Korea's night; a test of the
		// quiet hours sets the variable itself.
		cmd.Env = append(cmd.Env, "KAKAO_QUIET_HOURS=off")
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	return cmd
}

// Start starts binary with args and exactly env (plus PATH, HOME and KAKAO_QUIET_HOURS=off unless env sets it), logging stdout and stderr to
// a file in the test's temp dir. The process is killed at cleanup; when the test failed, the tail
// of its log is shown.
func Start(t testing.TB, binary, name string, env map[string]string, args ...string) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := command(binary, env, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{t: t, Name: name, cmd: cmd, LogPath: logPath, Started: time.Now(), done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("--- log of %s (%s), last lines:\n%s", name, logPath, Tail(logPath, 60))
		}
	})
	return p
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// WaitErr is the process's exit error once it has exited (nil before, or for a clean exit).
func (p *Proc) WaitErr() error {
	if !p.Exited() {
		return nil
	}
	return p.waitErr
}

// Kill sends SIGKILL (a crash: no cleanup of any kind) and waits for the process to be gone.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited meanwhile
	<-p.done
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Signal sends sig (SIGSTOP, SIGCONT, ...) to the process.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Term sends SIGTERM and waits up to bound for the process to exit; it fails the test (after
// killing the process) when the bound passes. It returns how long the exit took.
func (p *Proc) Term(bound time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM %s: %v", p.Name, err)
	}
	select {
	case <-p.done:
		return time.Since(start)
	case <-time.After(bound):
		p.Kill()
		p.t.Fatalf("%s did not exit within %s of SIGTERM", p.Name, bound)
		return 0
	}
}

// LogContains reports whether the process log has a line containing s.
func (p *Proc) LogContains(s string) bool {
	b, err := os.ReadFile(p.LogPath)
	return err == nil && strings.Contains(string(b), s)
}

// LogCount counts the log lines containing s.
func (p *Proc) LogCount(s string) int {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// Tail returns the last n lines of a file.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// CreateToken runs `distribution token create` against env's DATABASE_URL and REDIS_URL and
// returns the token (the last stdout line, the CLI's contract).
func CreateToken(t testing.TB, binary string, env map[string]string, name string, role model.Role) string {
	t.Helper()
	cmd := command(binary, map[string]string{"LOG_LEVEL": "error", "DATABASE_URL": env["DATABASE_URL"], "REDIS_URL": env["REDIS_URL"]},
		"token", "create", "--name", name, "--role", string(role))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	tok := strings.TrimSpace(lines[len(lines)-1])
	if tok == "" {
		t.Fatalf("token create printed no token: %q", out)
	}
	return tok
}
