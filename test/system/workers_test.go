package system

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// inFlight: every channel has been claimed by a worker and is mid-publication.
func inFlight(d model.Distribution) bool {
	return allChannels(d, func(c model.ChannelState) bool {
		return c.Status == model.StatusInProgress && c.Progress >= 20 && c.Progress < 100
	})
}

// TestKillWorkerMidChannel is RELIABILITY W1: a serve process is killed with SIGKILL while all
// six channels are mid-publication (the simulator runs as its own process, so the publications
// carry on without the worker). A new process takes over: its worker liveness pass finds the
// killed process's lock gone and re-runs the stuck jobs under the same idempotency keys within
// seconds (River's rescuer, with the short JOB_TIMEOUT/RESCUE_AFTER set here, is the fallback:
// it runs on the leader every 30 s), so every channel ends SUCCESS and the simulator holds exactly
// one post per channel; the killed attempts are recorded as lost, and no channel is left
// IN_PROGRESS. test/chaos TestChaosW1KillThenRestart does the same with the default RESCUE_AFTER.
func TestKillWorkerMidChannel(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(100 * time.Second)
	sim := startSimulator(t, "simulator", map[string]string{"SIMULATOR_STEP": "1s"}) // 5 s per publication
	sims := allTo(sim)
	env := newEnv(t, map[string]string{
		"CHANNELS_CONFIG":  channelsConfig(t, sims),
		"JOB_TIMEOUT":      "8s",
		"RESCUE_AFTER":     "9s",
		"RETRY_BASE_DELAY": "200ms",
	})
	srv := startServe(t, "serve-1", env)
	store := openStore(t, env["DATABASE_URL"])
	drv := newDriver(t, srv, model.RoleMarketer)

	const id = "sys-w1-kill"
	drv.createEvent(id, "worker killed mid-channel")
	drv.start(id, model.AllChannels)
	d := waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel mid-publication", inFlight, srv.Proc)
	srv.Kill()
	killed := time.Now()
	t.Logf("killed serve-1 (SIGKILL) with %s", summary(d))

	srv2 := srv.restart(t, "serve-2")
	d = waitDistribution(t, store, id, deadline, "every channel terminal after the restart", terminal, srv2.Proc)
	t.Logf("recovered %s after the kill: %s", time.Since(killed).Round(time.Millisecond), summary(d))
	if d.OverallStatus != model.OverallCompleted {
		t.Errorf("overall = %s, want COMPLETED (the publications had not failed): %s", d.OverallStatus, summary(d))
	}
	checkResults(t, d)
	checkOnePostEach(t, sims, d)
	as := attempts(t, store, id)
	checkAttemptInvariants(t, as)
	for _, ch := range model.AllChannels {
		list := attemptsOf(as, ch)
		if len(list) < 2 || list[0].Outcome != model.OutcomeLost || list[len(list)-1].Outcome != model.OutcomeSuccess {
			t.Errorf("%s: want the killed attempt recorded as lost, then a success:%s", ch, describeAttempts(list))
		}
	}
	t.Logf("attempts:%s", describeAttempts(as))
}

// TestSIGTERMDuringWork is RELIABILITY W2: SIGTERM while every channel is publishing. Three
// channels talk to a fast simulator (5 s per publication) and finish within the shutdown grace
// (10 s); three talk to a slow one (20 s) and are interrupted: recorded as a retry and re-queued
// without burning an attempt. The process exits within a bound; after a restart every channel
// ends SUCCESS with exactly one post each (the re-queued jobs resume with the same idempotency
// keys).
func TestSIGTERMDuringWork(t *testing.T) {
	t.Parallel()
	deadline := time.Now().Add(90 * time.Second)
	fast := startSimulator(t, "simulator-fast", map[string]string{"SIMULATOR_STEP": "1s"})
	slow := startSimulator(t, "simulator-slow", map[string]string{"SIMULATOR_STEP": "4s"})
	fastChannels := []model.Channel{model.ChannelUridongneTV, model.ChannelRingoBiz, model.ChannelGiniTV}
	sims := allTo(slow)
	for _, ch := range fastChannels {
		sims[ch] = fast
	}
	isFast := func(ch model.Channel) bool { return sims[ch] == fast }
	env := newEnv(t, map[string]string{
		"CHANNELS_CONFIG":  channelsConfig(t, sims),
		"JOB_TIMEOUT":      "40s",
		"RESCUE_AFTER":     "50s",
		"RETRY_BASE_DELAY": "200ms",
	})
	srv := startServe(t, "serve-1", env)
	store := openStore(t, env["DATABASE_URL"])
	drv := newDriver(t, srv, model.RoleMarketer)

	const id = "sys-w2-sigterm"
	drv.createEvent(id, "SIGTERM during work")
	drv.start(id, model.AllChannels)
	d := waitDistribution(t, store, id, time.Now().Add(20*time.Second), "every channel publishing", func(d model.Distribution) bool {
		return allChannels(d, func(c model.ChannelState) bool {
			return c.Status == model.StatusInProgress && (!isFast(c.Channel) || c.Progress >= 20)
		})
	}, srv.Proc)
	t.Logf("SIGTERM with %s", summary(d))
	took := srv.Term(20 * time.Second)
	t.Logf("serve-1 exited %s after SIGTERM (%v)", took.Round(time.Millisecond), srv.WaitErr())
	if srv.WaitErr() != nil {
		t.Errorf("serve-1 exit after SIGTERM: %v, want status 0", srv.WaitErr())
	}

	d, err := distribution(store, id)
	if err != nil {
		t.Fatal(err)
	}
	as := attempts(t, store, id)
	for _, c := range d.Channels {
		list := attemptsOf(as, c.Channel)
		switch {
		case isFast(c.Channel) && c.Status != model.StatusSuccess:
			t.Errorf("%s (5 s publication) is %s after the graceful stop, want SUCCESS (short calls finish):%s", c.Channel, c.Status, describeAttempts(list))
		case !isFast(c.Channel) && c.Status != model.StatusInProgress:
			t.Errorf("%s (20 s publication) is %s after the graceful stop, want IN_PROGRESS (re-queued)", c.Channel, c.Status)
		case !isFast(c.Channel) && (len(list) != 1 || list[0].Outcome != model.OutcomeRetry || list[0].Error == nil || !strings.Contains(*list[0].Error, "interrupted")):
			t.Errorf("%s: want its one attempt recorded as an interrupted retry:%s", c.Channel, describeAttempts(list))
		}
	}
	jobs := jobStates(t, store, id)
	for _, ch := range model.AllChannels {
		want := []string{"scheduled", "available"} // re-queued, not running, not given up
		if isFast(ch) {
			want = []string{"completed"}
		}
		if !slices.Contains(want, jobs[ch]) {
			t.Errorf("%s job is %q after the graceful stop, want one of %v", ch, jobs[ch], want)
		}
	}
	t.Logf("after the stop: %s; River jobs %v", summary(d), jobs)

	srv2 := srv.restart(t, "serve-2")
	d = waitDistribution(t, store, id, deadline, "COMPLETED after the restart", terminal, srv2.Proc)
	if d.OverallStatus != model.OverallCompleted {
		t.Errorf("overall = %s, want COMPLETED: %s", d.OverallStatus, summary(d))
	}
	checkResults(t, d)
	checkOnePostEach(t, sims, d)
	as = attempts(t, store, id)
	checkAttemptInvariants(t, as)
	for _, ch := range model.AllChannels {
		want := 1
		if !isFast(ch) {
			want = 2 // the interrupted attempt, then the resumed one
		}
		if list := attemptsOf(as, ch); len(list) != want {
			t.Errorf("%s has %d attempts, want %d:%s", ch, len(list), want, describeAttempts(list))
		}
	}
	t.Logf("attempts:%s", describeAttempts(as))
}

// jobStates returns the River state of each channel's latest publish job of an event.
func jobStates(t testing.TB, store *db.DB, eventID string) map[model.Channel]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := store.Pool.Query(ctx, `SELECT DISTINCT ON (args->>'channel') args->>'channel', state::text
		FROM river_job WHERE kind = $1 AND args->>'event_id' = $2 ORDER BY args->>'channel', id DESC`,
		db.PublishJobKind, eventID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[model.Channel]string{}
	for rows.Next() {
		var ch, state string
		if err := rows.Scan(&ch, &state); err != nil {
			t.Fatal(err)
		}
		out[model.Channel(ch)] = state
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
