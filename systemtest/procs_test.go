package systemtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/model"
	"github.com/marketing-platform/distribution/simulator"
)

// pollEvery is how often waitFor re-checks a condition.
const pollEvery = 50 * time.Millisecond

// waitFor polls cond until it reports done or the deadline passes; then the test fails with
// what the last check saw. Processes in watch are checked too: one that exits early fails the
// test at once with its log, instead of a long wait for something that can no longer happen.
func waitFor(t testing.TB, deadline time.Time, what string, cond func() (bool, string), watch ...*proc) {
	t.Helper()
	var last string
	for {
		done, detail := cond()
		if done {
			return
		}
		last = detail
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("waiting for %s: process %s exited (%v); last seen: %s", what, p.name, p.waitErr, last)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; last seen: %s", what, last)
		}
		time.Sleep(pollEvery) // poll with a deadline
	}
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// proc is one running process of the binary, logging to a file.
type proc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time

	done    chan struct{}
	waitErr error // set before done is closed
}

// startProc starts the binary with args and exactly env (plus PATH and HOME), logging stdout and
// stderr to a file in the test's temp dir. The process is killed at cleanup; when the test
// failed, the tail of its log is shown.
func startProc(t testing.TB, name string, env map[string]string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Stdin = nil
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, cmd: cmd, logPath: logPath, started: time.Now(), done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- log of %s (%s), last lines:\n%s", name, logPath, tail(logPath, 60))
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL (a crash: no cleanup of any kind) and waits for the process to be gone.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // it may have exited meanwhile
	<-p.done
}

// term sends SIGTERM and waits up to bound for the process to exit; it fails the test (after
// killing the process) when the bound passes. It returns how long the exit took.
func (p *proc) term(bound time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
		return time.Since(start)
	case <-time.After(bound):
		p.kill()
		p.t.Fatalf("%s did not exit within %s of SIGTERM", p.name, bound)
		return 0
	}
}

// logContains reports whether the process log has a line containing s.
func (p *proc) logContains(s string) bool {
	b, err := os.ReadFile(p.logPath)
	return err == nil && strings.Contains(string(b), s)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
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

// --------------------------------------------------------------------------- serve

// server is one `distribution serve` process.
type server struct {
	*proc
	env  map[string]string
	base string // http://ADDR (empty for ROLE=worker)
}

// startServe starts `distribution serve` with env (DATABASE_URL and REDIS_URL are required) on a
// free ADDR and waits until it is ready: /readyz answers 200 for a web process; a worker-only
// process has no HTTP server, so for it the log must say the engine started.
func startServe(t testing.TB, name string, env map[string]string) *server {
	t.Helper()
	env = maps.Clone(env)
	if env["DATABASE_URL"] == "" || env["REDIS_URL"] == "" {
		t.Fatal("startServe: DATABASE_URL and REDIS_URL are required")
	}
	env["ADDR"] = freeAddr(t)
	if env["LOG_LEVEL"] == "" {
		env["LOG_LEVEL"] = "info"
	}
	s := &server{proc: startProc(t, name, env, "serve"), env: env}
	deadline := time.Now().Add(30 * time.Second)
	if env["ROLE"] == "worker" {
		waitFor(t, deadline, name+" engine started", func() (bool, string) {
			return s.logContains(`"engine started"`), "no \"engine started\" line in the log yet"
		}, s.proc)
		return s
	}
	s.base = "http://" + env["ADDR"]
	waitFor(t, deadline, name+" /readyz", func() (bool, string) {
		code, body, err := httpGet(s.base+"/readyz", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	}, s.proc)
	t.Logf("%s ready at %s in %s", name, s.base, time.Since(s.started).Round(time.Millisecond))
	return s
}

// restart starts a new serve process with the same environment (a new ADDR).
func (s *server) restart(t testing.TB, name string) *server {
	t.Helper()
	return startServe(t, name, s.env)
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// httpGet does a GET with an optional bearer token and returns the status and body.
func httpGet(url, token string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doHTTP(req)
}

func doHTTP(req *http.Request) (int, []byte, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, err = bufio.NewReader(resp.Body).WriteTo(&b)
	return resp.StatusCode, []byte(b.String()), err
}

// --------------------------------------------------------------------------- simulator

// simProc is `distribution simulator` run as its own process.
type simProc struct {
	*proc
	base string
}

// startSimulator runs the channel simulator on a free port with env (SIMULATOR_STEP,
// SIMULATOR_FAIL) and waits until its admin endpoint answers.
func startSimulator(t testing.TB, name string, env map[string]string) *simProc {
	t.Helper()
	env = maps.Clone(env)
	env["SIMULATOR_ADDR"] = freeAddr(t)
	s := &simProc{proc: startProc(t, name, env, "simulator"), base: "http://" + env["SIMULATOR_ADDR"]}
	waitFor(t, time.Now().Add(20*time.Second), name+" stats", func() (bool, string) {
		code, body, err := httpGet(s.base+"/_admin/stats", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	}, s.proc)
	return s
}

// stats reads GET /_admin/stats.
func (s *simProc) stats(t testing.TB) simulator.StatsView {
	t.Helper()
	code, body, err := httpGet(s.base+"/_admin/stats", "")
	if err != nil || code != http.StatusOK {
		t.Fatalf("simulator stats: %d %s %v", code, body, err)
	}
	var v simulator.StatsView
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("simulator stats: %v in %s", err, body)
	}
	return v
}

// channelsConfig writes a CHANNELS_CONFIG file pointing each channel at its simulator and
// returns its path.
func channelsConfig(t testing.TB, endpoints map[model.Channel]*simProc) string {
	t.Helper()
	type ep struct {
		URL string `json:"url"`
	}
	cfg := struct {
		Channels              map[model.Channel]ep `json:"channels"`
		AllowInsecureLoopback bool                 `json:"allowInsecureLoopback"`
	}{Channels: map[model.Channel]ep{}, AllowInsecureLoopback: true}
	for ch, s := range endpoints {
		cfg.Channels[ch] = ep{URL: s.base}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// allTo maps every channel to one simulator.
func allTo(s *simProc) map[model.Channel]*simProc {
	m := map[model.Channel]*simProc{}
	for _, ch := range model.AllChannels {
		m[ch] = s
	}
	return m
}

// --------------------------------------------------------------------------- CLI

// createToken runs `distribution token create` and returns the token (the last stdout line).
func createToken(t testing.TB, env map[string]string, role model.Role) string {
	t.Helper()
	cmd := exec.Command(binary, "token", "create", "--name", "systemtest-"+string(role), "--role", string(role))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LOG_LEVEL=error"}
	for _, k := range []string{"DATABASE_URL", "REDIS_URL"} {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
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

// --------------------------------------------------------------------------- misc

// logCount counts the log lines containing s.
func (p *proc) logCount(s string) int {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
