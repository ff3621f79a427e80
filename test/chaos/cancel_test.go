package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// startSimulatorProc runs `distribution simulator` on a free port and waits for its admin
// endpoint; it returns the base URL.
func startSimulatorProc(t testing.TB, env map[string]string) (string, *proctest.Proc) {
	t.Helper()
	env = maps.Clone(env)
	env["SIMULATOR_ADDR"] = proctest.FreeAddr(t)
	env["SIMULATOR_SECRET_FILE"] = writeSecretFile(t)
	base := "http://" + env["SIMULATOR_ADDR"]
	p := proctest.Start(t, binary, "simulator", env, "simulator")
	proctest.WaitFor(t, time.Now().Add(20*time.Second), "simulator stats", func() (bool, string) {
		res, err := client.Get(base + "/_admin/stats")
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, res.Status
	}, p)
	return base, p
}

// channelsConfigFor writes a CHANNELS_CONFIG pointing every channel at base (signed with
// chaosSecret).
func channelsConfigFor(t testing.TB, base string) string {
	t.Helper()
	chans := map[model.Channel]map[string]string{}
	secret := writeSecretFile(t)
	for _, ch := range model.AllChannels {
		chans[ch] = map[string]string{"url": base, "secretFile": secret}
	}
	b, err := json.Marshal(map[string]any{"channels": chans, "allowInsecureLoopback": true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// K1: cancel of a job running in another process. Process A serves the API only (ROLE=web, runs
// no jobs); process B is a worker whose NAVER call hangs in the simulator (a slow channel). A
// marketer cancels through A: River's cancel reaches B over LISTEN/NOTIFY, the job's context ends,
// the adapter call is abandoned (the job returns with the operator-cancel error, not a timeout:
// JOB_TIMEOUT is far longer than the test), and the channel stays FAILED "cancelled by …" with no
// post in the simulator. The figure is the time from the cancel request to the job stopped.
func TestChaosK1CancelRunningJobInAnotherProcess(t *testing.T) {
	t.Parallel()
	simBase, _ := startSimulatorProc(t, map[string]string{"LOG_LEVEL": "warn", "SIMULATOR_STEP": "50ms"})
	env, _ := newEnv(t, map[string]string{"CHANNELS_CONFIG": channelsConfigFor(t, simBase), "JOB_TIMEOUT": "10m", "RESCUE_AFTER": "11m"})
	webEnv := maps.Clone(env)
	webEnv["ROLE"] = "web"
	a := startApp(t, webEnv)
	workerEnv := maps.Clone(env)
	workerEnv["ROLE"], workerEnv["OPS_ADDR"] = "worker", proctest.FreeAddr(t) // a worker serves only the ops listener
	b := proctest.Start(t, binary, "worker-b", workerEnv, "serve")
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "worker /readyz", func() (bool, string) {
		res, err := client.Get("http://" + workerEnv["OPS_ADDR"] + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK, res.Status
	}, b)

	// NAVER's submit hangs until the client goes away.
	res, err := client.Post(simBase+"/_admin/faults/NAVER", "application/json", strings.NewReader(`{"faults":[{"kind":"hang","on":"submit"}]}`))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("inject hang: %v %v", res, err)
	}
	res.Body.Close()

	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	const id = "chaos-k1-cancel"
	a.createEvent(id)
	a.must(http.MethodPost, "/api/v1/events/"+id+"/distribution", `{"channels":["NAVER"]}`, http.StatusAccepted)
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "NAVER running in process B", func() (bool, string) {
		var state, status string
		err := conn.QueryRow(ctx, `SELECT j.state::text, cs.status FROM river_job j
			JOIN channel_status cs ON cs.event_id = j.args->>'event_id' AND cs.channel = j.args->>'channel'
			WHERE j.args->>'event_id' = $1`, id).Scan(&state, &status)
		return err == nil && state == "running" && status == "IN_PROGRESS", fmt.Sprintf("%s %s %v", state, status, err)
	}, a.proc, b)

	marketer := a.createToken(model.RoleMarketer)
	start := time.Now()
	code, body, err := a.do(http.MethodPost, "/api/v1/events/"+id+"/distribution/cancel", marketer, "")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("cancel = %d %s %v", code, body, err)
	}
	var jobErr string
	proctest.WaitFor(t, time.Now().Add(30*time.Second), "the job in process B stopped", func() (bool, string) {
		var state string
		err := conn.QueryRow(ctx, `SELECT state::text, COALESCE(errors[array_length(errors, 1)]->>'error', '')
			FROM river_job WHERE args->>'event_id' = $1`, id).Scan(&state, &jobErr)
		return err == nil && state == "cancelled", fmt.Sprintf("%s %v", state, err)
	}, a.proc, b)
	stopped := time.Since(start)
	if !strings.Contains(jobErr, "cancelled remotely") {
		t.Errorf("the job ended with %q, want the operator cancel (its context cancelled remotely)", jobErr)
	}

	var status, msg, outcome string
	if err := conn.QueryRow(ctx, `SELECT cs.status, COALESCE(cs.error_message, ''), a.outcome FROM channel_status cs
		JOIN channel_attempts a ON a.channel_status_id = cs.id WHERE cs.event_id = $1`, id).Scan(&status, &msg, &outcome); err != nil {
		t.Fatal(err)
	}
	if status != "FAILED" || msg != "cancelled by token:chaos-marketer" || outcome != "cancelled" {
		t.Errorf("NAVER = %s %q, attempt %s", status, msg, outcome)
	}
	if v, _ := a.distribution(id); v.OverallStatus != "FAILED" {
		t.Errorf("overall = %s", v.OverallStatus)
	}
	// No later post: the job is final and nothing else can run it; the simulator holds none.
	var live int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE args->>'event_id' = $1 AND finalized_at IS NULL`, id).Scan(&live); err != nil || live != 0 {
		t.Errorf("%d jobs of the event still live (%v)", live, err)
	}
	sres, err := client.Get(simBase + "/_admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	var stats struct {
		Posts map[string]map[string]int `json:"posts"`
	}
	json.NewDecoder(sres.Body).Decode(&stats) //nolint:errcheck
	sres.Body.Close()
	if n := stats.Posts[id]["NAVER"]; n != 0 {
		t.Errorf("NAVER has %d posts after the cancel", n)
	}
	record(t, "K1", "cancel of a job running in another process: adapter call abandoned, FAILED cancelled, no post",
		fmt.Sprintf("job stopped %s after the cancel request", stopped.Round(time.Millisecond)))
}
