package system

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

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

// --------------------------------------------------------------------------- serve

// server is one `distribution serve` process.
type server struct {
	*proctest.Proc
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
	env["ADDR"] = proctest.FreeAddr(t)
	if env["LOG_LEVEL"] == "" {
		env["LOG_LEVEL"] = "info"
	}
	if env["SHUTDOWN_DELAY"] == "" {
		env["SHUTDOWN_DELAY"] = "0s" // no load balancer to drain from; the drain test sets its own
	}
	s := &server{Proc: proctest.Start(t, binary, name, env, "serve"), env: env}
	deadline := time.Now().Add(30 * time.Second)
	if env["ROLE"] == "worker" {
		proctest.WaitFor(t, deadline, name+" engine started", func() (bool, string) {
			return s.LogContains(`"engine started"`), "no \"engine started\" line in the log yet"
		}, s.Proc)
		return s
	}
	s.base = "http://" + env["ADDR"]
	proctest.WaitFor(t, deadline, name+" /readyz", func() (bool, string) {
		code, body, err := httpGet(s.base+"/readyz", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	}, s.Proc)
	t.Logf("%s ready at %s in %s", name, s.base, time.Since(s.Started).Round(time.Millisecond))
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
	*proctest.Proc
	base       string
	secretFile string // the partner v1 shared secret it checks signatures with
}

// startSimulator runs the channel simulator on a free port with env (SIMULATOR_STEP,
// SIMULATOR_FAIL) and a fresh shared secret, and waits until its admin endpoint answers.
func startSimulator(t testing.TB, name string, env map[string]string) *simProc {
	t.Helper()
	env = maps.Clone(env)
	env["SIMULATOR_ADDR"] = proctest.FreeAddr(t)
	secretFile := filepath.Join(t.TempDir(), name+".secret")
	if err := os.WriteFile(secretFile, []byte(partnersig.NewSecret()), 0o600); err != nil {
		t.Fatal(err)
	}
	env["SIMULATOR_SECRET_FILE"] = secretFile
	s := &simProc{Proc: proctest.Start(t, binary, name, env, "simulator"), base: "http://" + env["SIMULATOR_ADDR"], secretFile: secretFile}
	proctest.WaitFor(t, time.Now().Add(20*time.Second), name+" stats", func() (bool, string) {
		code, body, err := httpGet(s.base+"/_admin/stats", "")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	}, s.Proc)
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

// channelsConfig writes a CHANNELS_CONFIG file pointing each channel at its simulator (partner
// v1, signed with that simulator's secret) and returns its path.
func channelsConfig(t testing.TB, endpoints map[model.Channel]*simProc) string {
	t.Helper()
	type ep struct {
		URL        string `json:"url"`
		SecretFile string `json:"secretFile"`
	}
	cfg := struct {
		Channels              map[model.Channel]ep `json:"channels"`
		AllowInsecureLoopback bool                 `json:"allowInsecureLoopback"`
	}{Channels: map[model.Channel]ep{}, AllowInsecureLoopback: true}
	for ch, s := range endpoints {
		cfg.Channels[ch] = ep{URL: s.base, SecretFile: s.secretFile}
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

// --------------------------------------------------------------------------- misc
