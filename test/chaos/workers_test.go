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

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// W1 and W5 (worker kill -9 mid-channel): each worker process holds a PostgreSQL liveness lock;
// when the process is killed, PostgreSQL ends its session, and a live worker process re-runs its
// running jobs within a few WORKER_LIVENESS_INTERVALs (default 2 s) under the same idempotency
// keys, instead of after RESCUE_AFTER (left at its default, 3 m, here: River's rescuer cannot be
// what recovers). The channel simulator runs as its own process, so the publications the killed
// process had submitted carry on, and its post counts show that no channel posted twice.

// simProc is `distribution simulator` run as its own process.
type simProc struct {
	*proctest.Proc
	base string
}

// startSimulator runs the channel simulator with env (SIMULATOR_STEP) on a free port.
func startSimulator(t testing.TB, env map[string]string) *simProc {
	t.Helper()
	env = maps.Clone(env)
	env["SIMULATOR_ADDR"] = proctest.FreeAddr(t)
	env["SIMULATOR_SECRET_FILE"] = writeSecretFile(t)
	s := &simProc{Proc: proctest.Start(t, binary, "simulator", env, "simulator"), base: "http://" + env["SIMULATOR_ADDR"]}
	proctest.WaitFor(t, time.Now().Add(20*time.Second), "simulator stats", func() (bool, string) {
		_, err := s.stats()
		return err == nil, fmt.Sprint(err)
	}, s.Proc)
	return s
}

func (s *simProc) stats() (simulator.StatsView, error) {
	var v simulator.StatsView
	res, err := client.Get(s.base + "/_admin/stats")
	if err != nil {
		return v, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return v, fmt.Errorf("stats: %d", res.StatusCode)
	}
	return v, json.NewDecoder(res.Body).Decode(&v)
}

// channelsConfig writes a CHANNELS_CONFIG file sending every channel to s.
func (s *simProc) channelsConfig(t testing.TB) string {
	t.Helper()
	chans := map[model.Channel]map[string]string{}
	secret := writeSecretFile(t)
	for _, ch := range model.AllChannels {
		chans[ch] = map[string]string{"url": s.base, "secretFile": secret}
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

// workerEnv is a database, a private Redis and a simulator taking 5 s per publication.
func workerEnv(t testing.TB) (map[string]string, *simProc) {
	t.Helper()
	sim := startSimulator(t, map[string]string{"SIMULATOR_STEP": "1s"})
	env, _ := newEnv(t, map[string]string{"CHANNELS_CONFIG": sim.channelsConfig(t), "RETRY_BASE_DELAY": "200ms"})
	return env, sim
}

func openStore(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	return store
}

func summary(d model.Distribution) string {
	var b strings.Builder
	b.WriteString(string(d.OverallStatus) + ":")
	for _, c := range d.Channels {
		fmt.Fprintf(&b, " %s=%s/%d", c.Channel, c.Status, c.Progress)
	}
	return b.String()
}

// waitDistribution polls PostgreSQL until cond holds for the event's distribution.
func waitDistribution(t testing.TB, store *db.DB, id string, deadline time.Time, what string,
	cond func(model.Distribution) bool, watch ...*proctest.Proc) model.Distribution {
	t.Helper()
	var d model.Distribution
	proctest.WaitFor(t, deadline, id+": "+what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		if d, err = store.FindDistribution(ctx, id); err != nil {
			return false, err.Error()
		}
		return cond(d), summary(d)
	}, watch...)
	return d
}

func everyChannel(d model.Distribution, f func(model.ChannelState) bool) bool {
	if len(d.Channels) != len(model.AllChannels) {
		return false
	}
	for _, c := range d.Channels {
		if !f(c) {
			return false
		}
	}
	return true
}

// midChannel: every channel was claimed and its publication is under way (not finished).
func midChannel(d model.Distribution) bool {
	return everyChannel(d, func(c model.ChannelState) bool {
		return c.Status == model.StatusInProgress && c.Progress >= 20 && c.Progress < 100
	})
}

func allTerminal(d model.Distribution) bool {
	return everyChannel(d, func(c model.ChannelState) bool { return c.Status.Terminal() })
}

// checkRecovered: every channel SUCCESS at its first generation (resumed, not re-driven), exactly
// one post each; the channels of the killed process (killed) have their killed attempt recorded
// lost and their job re-run by the liveness rescue, the others one successful attempt.
func checkRecovered(t testing.TB, store *db.DB, sim *simProc, d model.Distribution, killed map[model.Channel]bool) {
	t.Helper()
	st, err := sim.stats()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	as, err := store.FindAttempts(ctx, d.EventID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Channels {
		if c.Status != model.StatusSuccess || c.Generation != 1 {
			t.Errorf("%s = %s at generation %d, want SUCCESS at generation 1", c.Channel, c.Status, c.Generation)
		}
		if n := st.Posts[d.EventID][c.Channel]; n != 1 {
			t.Errorf("%s: the simulator made %d posts, want exactly 1", c.Channel, n)
		}
		var outcomes []string
		for _, a := range as {
			if a.Channel == c.Channel {
				outcomes = append(outcomes, a.Outcome)
			}
		}
		switch {
		case killed[c.Channel] && (len(outcomes) < 2 || outcomes[0] != model.OutcomeLost || outcomes[len(outcomes)-1] != model.OutcomeSuccess):
			t.Errorf("%s attempts %v, want the killed attempt lost, then a success", c.Channel, outcomes)
		case !killed[c.Channel] && (len(outcomes) != 1 || outcomes[0] != model.OutcomeSuccess):
			t.Errorf("%s (on the live process) attempts %v, want one success", c.Channel, outcomes)
		}
	}
	var rescued int
	if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'event_id' = $2
		AND (metadata->>'liveness_rescues')::int = 1`, db.PublishJobKind, d.EventID).Scan(&rescued); err != nil {
		t.Fatal(err)
	}
	if rescued != len(killed) {
		t.Errorf("%d jobs re-run by the liveness rescue, want %d", rescued, len(killed))
	}
}

// waitRescued waits until the killed attempt of every channel in killed is recorded lost (its job
// taken back by the liveness rescue) and returns how long after since that was.
func waitRescued(t testing.TB, store *db.DB, id string, killed map[model.Channel]bool, deadline, since time.Time, watch *proctest.Proc) time.Duration {
	t.Helper()
	proctest.WaitFor(t, deadline, id+": every killed attempt recorded lost", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		as, err := store.FindAttempts(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		lost := map[model.Channel]bool{}
		for _, a := range as {
			if a.Outcome == model.OutcomeLost && killed[a.Channel] {
				lost[a.Channel] = true
			}
		}
		return len(lost) == len(killed), fmt.Sprintf("%d of %d channels rescued", len(lost), len(killed))
	}, watch)
	return time.Since(since)
}

func startAll(a *app, id string) {
	a.createEvent(id)
	a.must(http.MethodPost, "/api/v1/events/"+id+"/distribution",
		`{"channels":["URIDONGNETV","RINGOBIZ","GINITV","INSTAGRAM","NAVER","KAKAO"]}`, http.StatusAccepted)
}

// runningOn maps the pid of each worker process that runs a publish job of the event to the
// channels it runs (river_job.attempted_by names the worker, worker_processes its pid).
func runningOn(t testing.TB, store *db.DB, id string) map[int]map[model.Channel]bool {
	t.Helper()
	rows, err := store.Pool.Query(context.Background(), `SELECT w.pid, j.args->>'channel' FROM river_job j
		JOIN worker_processes w ON w.id = j.attempted_by[cardinality(j.attempted_by)]
		WHERE j.state = 'running' AND j.kind = $1 AND j.args->>'event_id' = $2`, db.PublishJobKind, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]map[model.Channel]bool{}
	for rows.Next() {
		var pid int
		var ch string
		if err := rows.Scan(&pid, &ch); err != nil {
			t.Fatal(err)
		}
		if out[pid] == nil {
			out[pid] = map[model.Channel]bool{}
		}
		out[pid][model.Channel(ch)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// W5: two worker processes share a distribution; mid-channel, the one running the most channels
// is killed with SIGKILL; the other resumes them: every channel terminal within 15 s of the kill,
// one post each.
func TestChaosW5KillOneOfTwoWorkers(t *testing.T) {
	t.Parallel()
	env, sim := workerEnv(t)
	p1, p2 := startApp(t, env), startApp(t, env)
	store := openStore(t, env["DATABASE_URL"])
	const id = "w5-kill-one-of-two"
	startAll(p1, id)
	d := waitDistribution(t, store, id, time.Now().Add(30*time.Second), "every channel mid-publication", midChannel, p1.proc, p2.proc)
	on := runningOn(t, store, id)
	victim, survivor := p1, p2
	if len(on[p2.proc.PID()]) > len(on[p1.proc.PID()]) {
		victim, survivor = p2, p1
	}
	killed := on[victim.proc.PID()]
	if len(killed) == 0 {
		t.Fatalf("no channel runs on either process: %v (pids %d, %d)", on, p1.proc.PID(), p2.proc.PID())
	}
	victim.proc.Kill()
	at := time.Now()
	t.Logf("killed pid %d (SIGKILL) running %d channels, with %s", victim.proc.PID(), len(killed), summary(d))

	rescued := waitRescued(t, store, id, killed, at.Add(15*time.Second), at, survivor.proc)
	d = waitDistribution(t, store, id, at.Add(15*time.Second), "every channel terminal within 15 s of the kill", allTerminal, survivor.proc)
	took := time.Since(at)
	t.Logf("rescued %s and terminal %s after the kill: %s", rescued.Round(time.Millisecond), took.Round(time.Millisecond), summary(d))
	checkRecovered(t, store, sim, d, killed)
	record(t, "W5", "worker kill -9 with another worker alive: channels resume within 15 s, one post each",
		fmt.Sprintf("%d channels of the killed worker re-run %.1f s and all 6 terminal %.1f s after kill -9 (bound 15 s), 1 post each",
			len(killed), rescued.Seconds(), took.Seconds()))
}

// W1: the only worker process is killed with SIGKILL mid-channel and restarted: every channel
// terminal within 60 s of the restart (in practice a few seconds), one post each.
func TestChaosW1KillThenRestart(t *testing.T) {
	t.Parallel()
	env, sim := workerEnv(t)
	p1 := startApp(t, env)
	store := openStore(t, env["DATABASE_URL"])
	const id = "w1-kill-restart"
	startAll(p1, id)
	d := waitDistribution(t, store, id, time.Now().Add(30*time.Second), "every channel mid-publication", midChannel, p1.proc)
	p1.proc.Kill()
	killed := time.Now()
	t.Logf("killed p1 (SIGKILL) with %s", summary(d))

	p2 := startApp(t, env)
	restarted := time.Now()
	all := map[model.Channel]bool{}
	for _, ch := range model.AllChannels {
		all[ch] = true
	}
	rescued := waitRescued(t, store, id, all, restarted.Add(60*time.Second), restarted, p2.proc)
	d = waitDistribution(t, store, id, restarted.Add(60*time.Second), "every channel terminal within 60 s of the restart", allTerminal, p2.proc)
	took := time.Since(restarted)
	t.Logf("rescued %s and terminal %s after the restart was ready (%s after the kill): %s", rescued.Round(time.Millisecond),
		took.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), summary(d))
	checkRecovered(t, store, sim, d, all)
	record(t, "W1", "worker kill -9 mid-channel, then restart: every channel terminal within 60 s, one post each",
		fmt.Sprintf("6 channels re-run %.1f s and terminal %.1f s after the restart was ready (%.1f s after kill -9; bound 60 s), 1 post each",
			rescued.Seconds(), took.Seconds(), time.Since(killed).Seconds()))
}
