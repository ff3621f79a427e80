package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// binary is the `distribution` binary under test, built once by TestMain (or CHAOS_BINARY).
var binary string

func TestMain(m *testing.M) { os.Exit(proctest.Main(m, "CHAOS_BINARY", &binary)) }

// record logs the row's figure in the form chaos/report parses.
func record(t testing.TB, row, guarantee, figure string) {
	t.Helper()
	t.Logf("CHAOS|%s|%s|%s", row, guarantee, figure)
}

// app is one `distribution serve` process.
type app struct {
	t     testing.TB
	env   map[string]string
	base  string
	proc  *proctest.Proc
	token string // a staff API token
}

// newEnv is a fresh database and a private Redis (returned for stopping and hanging).
func newEnv(t testing.TB, extra map[string]string) (map[string]string, *dbtest.Redis) {
	t.Helper()
	r := dbtest.StartRedis(t)
	env := map[string]string{"DATABASE_URL": dbtest.NewURL(t), "REDIS_URL": r.URL, "LOG_LEVEL": "warn", "SIMULATOR_STEP": "50ms", "SHUTDOWN_DELAY": "0s"}
	maps.Copy(env, extra)
	return env, r
}

// startApp runs `distribution serve` with env on a free port, waits for /readyz and creates a
// staff token. The process is killed at cleanup, and its log shown when the test failed.
func startApp(t testing.TB, env map[string]string) *app {
	t.Helper()
	env = maps.Clone(env)
	env["ADDR"] = proctest.FreeAddr(t)
	a := &app{t: t, env: env, base: "http://" + env["ADDR"], proc: proctest.Start(t, binary, "serve", env, "serve")}
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "/readyz", func() (bool, string) {
		code, body, err := a.get("/readyz")
		return err == nil && code == 200, fmt.Sprintf("%d %s %v", code, body, err)
	}, a.proc)
	a.token = a.createToken(model.RoleStaff)
	return a
}

func (a *app) createToken(role model.Role) string {
	a.t.Helper()
	return proctest.CreateToken(a.t, binary, a.env, "chaos-"+string(role), role)
}

var client = &http.Client{Timeout: 10 * time.Second}

// get does an anonymous GET.
func (a *app) get(path string) (int, []byte, error) { return a.do(http.MethodGet, path, "", "") }

// do sends a request with the staff token (unless anonymous GET of ops routes) and a JSON body.
func (a *app) do(method, path, token, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, a.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// must does an authenticated request and fails the test unless the status is want.
func (a *app) must(method, path, body string, want int) []byte {
	a.t.Helper()
	code, b, err := a.do(method, path, a.token, body)
	if err != nil || code != want {
		a.t.Fatalf("%s %s = %d %s %v, want %d", method, path, code, b, err, want)
	}
	return b
}

func (a *app) createEvent(id string) {
	a.t.Helper()
	a.must(http.MethodPost, "/api/v1/events", fmt.Sprintf(`{"id":%q,"title":"chaos %s","storeName":"chaos store"}`, id, id), http.StatusCreated)
}

// metric scrapes /metrics from loopback and returns the value of an unlabelled series.
func (a *app) metric(name string) (float64, error) {
	code, body, err := a.get("/metrics")
	if err != nil || code != 200 {
		return 0, fmt.Errorf("metrics: %d %v", code, err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("no %s in /metrics", name)
}

// latencies sends n authenticated GETs to paths (round robin) and returns the durations and the
// number of answers that were not 200.
func (a *app) latencies(n int, paths ...string) ([]time.Duration, int) {
	a.t.Helper()
	var ds []time.Duration
	failed := 0
	for i := range n {
		start := time.Now()
		code, _, err := a.do(http.MethodGet, paths[i%len(paths)], a.token, "")
		ds = append(ds, time.Since(start))
		if err != nil || code != 200 {
			failed++
			a.t.Logf("GET %s: %d %v", paths[i%len(paths)], code, err)
		}
	}
	return ds, failed
}

// p99 of ds (nearest rank).
func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*99+99)/100 - 1
	return s[max(0, min(i, len(s)-1))]
}

// stream is an open SSE response read in the background.
type stream struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	buf    strings.Builder
	closed chan struct{}
}

// openStream opens path as an SSE stream with token and collects everything it sends.
func (a *app) openStream(path, token string) *stream {
	a.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Datastar-Request", "true")
	res, err := streamClient.Do(req)
	if err != nil {
		cancel()
		a.t.Fatalf("open stream %s: %v", path, err)
	}
	if res.StatusCode != 200 {
		cancel()
		a.t.Fatalf("open stream %s: %d", path, res.StatusCode)
	}
	s := &stream{cancel: cancel, closed: make(chan struct{})}
	go func() {
		defer close(s.closed)
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.buf.WriteString(line)
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	a.t.Cleanup(s.close)
	return s
}

// streamClient has no overall timeout (streams are long) and enough idle conns per host.
var streamClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2000, MaxConnsPerHost: 0}}

func (s *stream) close() { s.cancel(); <-s.closed }

func (s *stream) text() string { s.mu.Lock(); defer s.mu.Unlock(); return s.buf.String() }

// wait polls until the stream has sent something containing sub.
func (s *stream) wait(t testing.TB, d time.Duration, sub string) time.Duration {
	t.Helper()
	return proctest.WaitFor(t, time.Now().Add(d), "stream to send "+sub, func() (bool, string) {
		txt := s.text()
		return strings.Contains(txt, sub), fmt.Sprintf("%d bytes, last: %q", len(txt), txt[max(0, len(txt)-300):])
	})
}
