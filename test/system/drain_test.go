package system

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// TestDrainOnSIGTERM: SIGTERM marks the real binary unready at once (/readyz 503 "draining" on
// ADDR and OPS_ADDR) while /healthz stays 200 and the API is still served for SHUTDOWN_DELAY;
// then it exits cleanly, no sooner than the delay.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second // long enough to probe a loaded machine, short for a test
	env := newEnv(t, map[string]string{"SHUTDOWN_DELAY": delay.String(), "OPS_ADDR": proctest.FreeAddr(t)})
	srv := startServe(t, "serve-drain", env)
	drv := newDriver(t, srv, model.RoleMarketer)
	ops := "http://" + env["OPS_ADDR"]
	if code, body, err := httpGet(ops+"/readyz", ""); err != nil || code != http.StatusOK {
		t.Fatalf("ops /readyz before SIGTERM = %d %s %v, want 200", code, body, err)
	}

	start := time.Now()
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	proctest.WaitFor(t, start.Add(delay), "/readyz 503 after SIGTERM", func() (bool, string) {
		code, body, err := httpGet(srv.base+"/readyz", "")
		return err == nil && code == http.StatusServiceUnavailable, fmt.Sprintf("%d %s %v", code, body, err)
	}, srv.Proc)
	for _, base := range []string{srv.base, ops} {
		if code, body, err := httpGet(base+"/readyz", ""); err != nil || code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"draining"`) {
			t.Errorf("%s/readyz while draining = %d %s %v, want 503 draining", base, code, body, err)
		}
		if code, body, err := httpGet(base+"/healthz", ""); err != nil || code != http.StatusOK {
			t.Errorf("%s/healthz while draining = %d %s %v, want 200", base, code, body, err)
		}
	}
	if code, body := drv.call(srv.base, http.MethodGet, "/api/v1/events", nil); code != http.StatusOK {
		t.Errorf("GET /api/v1/events while draining = %d %s, want 200 (still serving)", code, body)
	}
	if probed := time.Since(start); probed >= delay || srv.Exited() {
		t.Fatalf("probes took %s (exited %v): not inside SHUTDOWN_DELAY %s, the checks above prove nothing", probed, srv.Exited(), delay)
	}

	proctest.WaitFor(t, start.Add(delay+30*time.Second), "exit after the drain", func() (bool, string) {
		return srv.Exited(), "still running"
	}, srv.Proc)
	if took := time.Since(start); took < delay {
		t.Errorf("exited %s after SIGTERM, want at least SHUTDOWN_DELAY %s", took, delay)
	}
	if err := srv.WaitErr(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want status 0", err)
	}
	if !srv.LogContains(`draining`) {
		t.Error("no draining line in the log")
	}
}
