package system

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// TestPartnerSimulatorProcessChecksSignatures: `distribution simulator` with SIMULATOR_SECRET_FILE
// refuses unsigned and wrongly signed requests (401 with the documented codes) and accepts one
// signed with the file's secret.
func TestPartnerSimulatorProcessChecksSignatures(t *testing.T) {
	t.Parallel()
	sim := startSimulator(t, "simulator-signed", map[string]string{"SIMULATOR_STEP": "0s"})
	raw, err := os.ReadFile(sim.secretFile)
	if err != nil {
		t.Fatal(err)
	}
	secret := partnersig.Secret(strings.TrimSpace(string(raw)))
	const path = "/v1/channels/URIDONGNETV/publications"
	body := []byte(`{"eventId":"evt-proc","title":"signed"}`)
	send := func(sec partnersig.Secret, at time.Time) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, sim.base+path, bytes.NewReader(body))
		req.Header.Set("Idempotency-Key", "k1")
		if sec != nil {
			ts, sig := partnersig.Sign(sec, at, http.MethodPost, path, body)
			req.Header.Set(partnersig.HeaderTimestamp, ts)
			req.Header.Set(partnersig.HeaderSignature, sig)
		}
		code, b, err := doHTTP(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error struct{ Code string } }
		json.Unmarshal(b, &e)
		return code, e.Error.Code
	}
	for _, tc := range []struct {
		name string
		sec  partnersig.Secret
		at   time.Time
		code string
	}{
		{"unsigned", nil, time.Now(), partnersig.CodeMissing},
		{"wrong secret", partnersig.NewSecret(), time.Now(), partnersig.CodeInvalid},
		{"stale", secret, time.Now().Add(-10 * time.Minute), partnersig.CodeTimestamp},
	} {
		if status, code := send(tc.sec, tc.at); status != http.StatusUnauthorized || code != tc.code {
			t.Errorf("%s: %d %q, want 401 %s", tc.name, status, code, tc.code)
		}
	}
	if status, _ := send(secret, time.Now()); status != http.StatusAccepted {
		t.Errorf("signed: %d, want 202", status)
	}
	if st := sim.stats(t).Channels["URIDONGNETV"]; st.Unauthorized != 3 || st.Posts != 1 {
		t.Errorf("stats %+v, want 3 refused and 1 post", st)
	}
}

// TestPartnerServeRefusesUnsignedOrUnimplementedConfig: serve stops at once, naming the channel
// and the problem, on a partner-v1 channel without secretFile and on a reserved protocol.
func TestPartnerServeRefusesUnsignedOrUnimplementedConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := newEnv(t, nil)
	for i, tc := range []struct{ config, want string }{
		{`{"channels":{"GINITV":{"url":"https://gtv.example.com"}}}`, "channel GINITV: secretFile is required for protocol partner-v1"},
		{`{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com"}}}`, "channel NAVER: tokenUrl is required"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("channels%d.json", i))
		if err := os.WriteFile(path, []byte(tc.config), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary, "serve")
		cmd.Env = []string{"ADDR=" + proctest.FreeAddr(t), "CHANNELS_CONFIG=" + path, "LOG_LEVEL=error",
			"DATABASE_URL=" + env["DATABASE_URL"], "REDIS_URL=" + env["REDIS_URL"]}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("serve with %s: %v, output %q; want a failure naming %q", tc.config, err, out.String(), tc.want)
		}
	}
}
